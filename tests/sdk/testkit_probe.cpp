// "probe": a plugin linked into the test kit's tests, written against the C ABI (every ABI 1.1 callback and host
// function), driven by one text command per read ("echo hi", "send_to 5 x", "post 7", ...). It reports what
// happens to it as log lines ("open 3 on 1", "handover main from 0.1", ...), which the tests read from
// Kit::logs(), so nothing of it outlives a Kit. See testkit_probe.hpp for the commands.
#include "testkit_probe.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <map>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/un.h>
#include <thread>
#include <vector>

namespace probe {

namespace {

std::atomic<int> destroyed{0};
std::atomic<int> destroyed_null{0};
int resume_tag = 0; // its address marks the timers that resume reading

struct Probe {
    const ringd_host* host = nullptr;
    ringd_listener* self = nullptr;
    std::string prefix;
    std::string inherited;                                   // what a reload's handover took from the previous instance
    int opens = -1;                                          // counter
    int live = -1;                                           // gauge
    std::vector<std::map<ringd_conn_id, ringd_conn*>> conns; // per worker; "touch" reaches across them (a bug)
    ringd_conn* last_closed = nullptr;                       // kept past on_close, for "stale" (a bug)
    ringd_datagram* kept = nullptr;                          // kept past on_datagram, for "use_kept" (a bug)
};

void note(const Probe* p, const std::string& text)
{
    p->host->log(p->self, RINGD_LOG_INFO, text.c_str());
}

void send(const Probe* p, ringd_conn* c, const std::string& text)
{
    p->host->send(c, text.data(), text.size());
}

std::string worker_of(const Probe* p)
{
    return std::to_string(p->host->worker_index());
}

int create(const ringd_instance_args* args, void** instance, ringd_error* error)
{
    const std::string config(args->config_yaml, args->config_len);
    if (config.find("fail") != std::string::npos) {
        snprintf(error->message, sizeof error->message, "probe refuses");
        snprintf(error->key, sizeof error->key, "fail");
        return -1;
    }
    if (config.find("throw") != std::string::npos) throw std::runtime_error("create threw");
    if (config.find("stateless") != std::string::npos) {
        *instance = nullptr;
        return 0;
    }
    auto* p = new Probe;
    p->host = args->host;
    p->self = args->listener;
    if (const auto at = config.find("prefix: "); at != std::string::npos) {
        p->prefix = config.substr(at + 8, config.find_first_of("\n}", at) - at - 8);
    }
    if (RINGD_HOST_HAS(p->host, metric_register)) { // the kit can play a 1.0 host
        p->opens = p->host->metric_register(p->self, "opens", RINGD_METRIC_COUNTER, "connections opened");
        p->live = p->host->metric_register(p->self, "live", RINGD_METRIC_GAUGE, "connections open now");
    }
    if (config.find("metric-checks") != std::string::npos) {
        std::string rcs;
        const std::string too_long(65, 'a');
        for (const char* name : {"Bad", "9lives", "opens", too_long.c_str()})
            rcs += std::to_string(p->host->metric_register(p->self, name, RINGD_METRIC_GAUGE, "x")) + " ";
        rcs += std::to_string(p->host->metric_register(p->self, "kind", 7, "x")) + " ";
        int last = 0;
        for (int i = 0; i < 70 && last >= 0; ++i)
            last = p->host->metric_register(p->self, ("m" + std::to_string(i)).c_str(), RINGD_METRIC_COUNTER, "x");
        note(p, "metric checks " + rcs + std::to_string(last));
    }
    p->conns.resize(args->worker_count);
    note(p, "create on " + std::string(args->listener_name) + " workers " + std::to_string(args->worker_count) +
                " host minor " + std::to_string(RINGD_HOST_HAS(args->host, abi_minor) ? args->host->abi_minor : 0));
    *instance = p;
    return 0;
}

void destroy(void* instance)
{
    if (instance == nullptr) {
        ++destroyed_null;
        return;
    }
    ++destroyed;
    delete static_cast<Probe*>(instance);
}

int on_open(void* instance, ringd_conn* c)
{
    auto* p = static_cast<Probe*>(instance);
    if (p == nullptr) return 0;
    const ringd_conn_id id = p->host->conn_id(c);
    p->conns[p->host->worker_index()][id] = c;
    p->host->metric_add(p->self, p->opens, 1);
    p->host->metric_add(p->self, p->live, 1);
    note(p, "open " + std::to_string(id) + " on " + worker_of(p));
    return p->prefix == "refuse" ? -1 : 0;
}

void on_close(void* instance, ringd_conn* c, ringd_close_reason reason)
{
    auto* p = static_cast<Probe*>(instance);
    if (p == nullptr) return;
    const ringd_conn_id id = p->host->conn_id(c);
    p->conns[p->host->worker_index()].erase(id);
    p->last_closed = c;
    p->host->metric_add(p->self, p->live, -1);
    note(p, "close " + std::to_string(id) + " reason " + std::to_string(reason) + " on " + worker_of(p));
}

void conn_task(void* instance, ringd_conn* c, void* arg)
{
    auto* p = static_cast<Probe*>(instance);
    std::unique_ptr<std::string> tag(static_cast<std::string*>(arg));
    note(p, "task " + *tag + (c != nullptr ? " conn " + std::to_string(p->host->conn_id(c)) : " null") + " on " +
                worker_of(p));
    if (c != nullptr) send(p, c, "task:" + *tag);
}

void worker_task(void* instance, void* arg, int status)
{
    auto* p = static_cast<Probe*>(instance);
    std::unique_ptr<std::string> tag(static_cast<std::string*>(arg));
    note(p, "worker task " + *tag + " on " + worker_of(p) + " status " + std::to_string(status));
}

void spawn_done(void* ctx, ringd_conn* c, const ringd_spawn_result* r)
{
    auto* p = static_cast<Probe*>(ctx);
    send(p, c,
         "exit=" + std::to_string(r->exit_code) +
             " out=" + std::string(reinterpret_cast<const char*>(r->stdout_data), r->stdout_len));
}

struct Owned {
    const Probe* p;
    std::string bytes;
};

void free_owned(void*, void* ctx)
{
    std::unique_ptr<Owned> owned(static_cast<Owned*>(ctx));
    note(owned->p, "freed " + owned->bytes);
}

sockaddr_storage address_of(const std::string& text, socklen_t& len)
{
    sockaddr_storage ss{};
    if (text.starts_with("unix:")) {
        auto* un = reinterpret_cast<sockaddr_un*>(&ss);
        un->sun_family = AF_UNIX;
        text.copy(un->sun_path, sizeof un->sun_path - 1, 5);
        len = sizeof(sockaddr_un);
        return ss;
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(std::stoi(text.substr(text.find(':') + 1))));
    inet_pton(AF_INET, text.substr(0, text.find(':')).c_str(), &in->sin_addr);
    len = sizeof(sockaddr_in);
    return ss;
}

// Commands that reach other connections, workers and threads (ABI 1.1).
bool command_11(Probe* p, ringd_conn* c, const std::string& verb, std::istringstream& in)
{
    const ringd_host* h = p->host;
    ringd_conn_id id = 0;
    std::string text;
    if (verb == "send_to") {
        in >> id >> text;
        send(p, c, "rc=" + std::to_string(h->send_to(id, text.data(), text.size())));
    } else if (verb == "close_id") {
        in >> id >> text;
        send(p, c, "rc=" + std::to_string(h->close_id(id, text == "abort" ? RINGD_CLOSE_ABORT : 0)));
    } else if (verb == "post") {
        in >> id >> text;
        auto tag = std::make_unique<std::string>(text);
        const int rc = h->post(p->self, id, conn_task, tag.get());
        if (rc == 0) (void)tag.release();
        send(p, c, "rc=" + std::to_string(rc));
    } else if (verb == "post_worker") {
        uint32_t w = 0;
        in >> w >> text;
        auto tag = std::make_unique<std::string>(text);
        const int rc = h->post_worker(p->self, w, worker_task, tag.get());
        if (rc == 0) (void)tag.release();
        send(p, c, "rc=" + std::to_string(rc));
    } else if (verb == "broadcast") {
        in >> text;
        struct Ctx {
            Probe* p;
            std::string text;
        } ctx{p, text};
        const int n = h->for_each_connection(
            p->self,
            [](void* x, ringd_conn* each) {
                auto* b = static_cast<Ctx*>(x);
                send(b->p, each, b->text);
                return 0;
            },
            &ctx);
        note(p, "broadcast reached " + std::to_string(n));
    } else if (verb == "connect") {
        in >> text;
        socklen_t len = 0;
        const sockaddr_storage ss = address_of(text, len);
        ringd_connect_request req{};
        req.struct_size = sizeof req;
        req.timeout_ms = 500;
        req.address = reinterpret_cast<const sockaddr*>(&ss);
        req.address_len = len;
        ringd_conn* up = nullptr;
        const int rc = h->connect(p->self, &req, &up);
        if (rc == 0) send(p, up, "early "); // queued until the connection is established
        send(p, c, "rc=" + std::to_string(rc));
    } else if (verb == "touch") { // a ringd_conn* kept from another worker: the bug the thread rule catches
        in >> id;
        for (const auto& worker : p->conns) {
            if (auto it = worker.find(id); it != worker.end()) {
                send(p, c, "rc=" + std::to_string(h->send(it->second, "poke", 4)));
            }
        }
    } else if (verb == "thread") { // from a thread of the plugin's own
        in >> id >> text;
        int rc = 0;
        std::thread([&] { rc = h->send_to(id, text.data(), text.size()); }).join();
        send(p, c, "rc=" + std::to_string(rc));
    } else if (verb == "wtimer") {
        uint64_t ms = 0;
        in >> ms;
        send(p, c, "rc=" + std::to_string(h->worker_timer_start(p->self, ms, nullptr)));
    } else if (verb == "register") {
        send(p, c, "rc=" + std::to_string(h->metric_register(p->self, "late", RINGD_METRIC_COUNTER, "x")));
    } else if (verb == "queued") {
        const int64_t queued = h->queued_output(c);
        send(p, c, "queued=" + std::to_string(queued));
    } else if (verb == "notify") {
        size_t low = 0;
        in >> low;
        h->notify_output_below(c, low);
    } else {
        return false;
    }
    return true;
}

void command(Probe* p, ringd_conn* c, const std::string& line)
{
    const ringd_host* h = p->host;
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    std::string text;
    if (verb == "echo") {
        std::getline(in >> std::ws, text);
        send(p, c, p->prefix + text);
    } else if (verb == "id") {
        send(p, c, std::to_string(h->conn_id(c)));
    } else if (verb == "worker") {
        send(p, c, worker_of(p));
    } else if (verb == "big") {
        size_t n = 0;
        in >> n;
        send(p, c, std::string(n, 'x'));
    } else if (verb == "owned") {
        in >> text;
        auto* owned = new Owned{p, text};
        h->send_owned(c, owned->bytes.data(), owned->bytes.size(), free_owned, owned);
    } else if (verb == "pause" || verb == "resume") {
        verb == "pause" ? h->pause_reading(c) : h->resume_reading(c);
    } else if (verb == "pause_for") { // pause now, resume from a timer
        uint64_t ms = 0;
        in >> ms;
        h->pause_reading(c);
        h->timer_start(c, ms, &resume_tag);
    } else if (verb == "close" || verb == "abort") {
        h->close(c, verb == "abort" ? RINGD_CLOSE_ABORT : RINGD_CLOSE_AFTER_FLUSH);
    } else if (verb == "shutdown") {
        send(p, c, "last");
        h->shutdown_write(c);
        note(p, "send after shutdown rc=" + std::to_string(h->send(c, "x", 1)));
    } else if (verb == "timer") {
        uint64_t ms = 0;
        in >> ms;
        send(p, c, "timer=" + std::to_string(h->timer_start(c, ms, nullptr)));
    } else if (verb == "cancel") {
        int64_t id = 0;
        in >> id;
        send(p, c, "rc=" + std::to_string(h->timer_cancel(c, id)));
    } else if (verb == "spawn") {
        std::vector<std::string> args;
        while (in >> text)
            args.push_back(text);
        std::vector<const char*> argv;
        for (const auto& a : args)
            argv.push_back(a.c_str());
        argv.push_back(nullptr);
        ringd_spawn_request req{};
        req.struct_size = sizeof req;
        req.argv = argv.data();
        req.timeout_ms = 1000;
        req.max_output = 4096;
        req.run_as_uid = -1;
        req.run_as_gid = -1;
        send(p, c, "spawn rc=" + std::to_string(h->spawn(c, &req, spawn_done, p)));
    } else if (verb == "stale") {
        note(p, "stale rc=" + std::to_string(h->send(p->last_closed, "x", 1)));
    } else if (verb == "reserve") {
        (void)h->send_reserve(c, 8); // and no send_commit: a misuse
    } else if (verb == "throw") {
        throw std::runtime_error("probe on_data threw");
    } else if (verb == "addr") {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        h->peer_address(c, reinterpret_cast<sockaddr*>(&ss), &len);
        uint32_t uid = 0;
        const int rc = h->peer_credentials(c, nullptr, &uid, nullptr);
        send(p, c,
             "family=" + std::to_string(ss.ss_family) + " cred=" + std::to_string(rc) + " uid=" + std::to_string(uid));
    } else if (!command_11(p, c, verb, in)) {
        send(p, c, "unknown " + verb);
    }
}

void on_data(void* instance, ringd_conn* c, const uint8_t* data, size_t len)
{
    auto* p = static_cast<Probe*>(instance);
    if (p == nullptr) return;
    std::string line(reinterpret_cast<const char*>(data), len);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
        line.pop_back();
    note(p, "data " + std::to_string(p->host->conn_id(c)) + " " + line);
    command(p, c, line);
}

void on_peer_shutdown(void* instance, ringd_conn* c)
{
    auto* p = static_cast<Probe*>(instance);
    note(p, "fin " + std::to_string(p->host->conn_id(c)));
    send(p, c, "bye");
    p->host->close(c, RINGD_CLOSE_AFTER_FLUSH);
}

void on_timer(void* instance, ringd_conn* c, int64_t id, void* arg)
{
    auto* p = static_cast<Probe*>(instance);
    if (arg == &resume_tag) {
        p->host->resume_reading(c);
        return;
    }
    note(p, "timer " + std::to_string(id) + " at conn " + std::to_string(p->host->conn_id(c)));
    send(p, c, "tick");
}

void on_datagram(void* instance, ringd_datagram* d, const uint8_t* data, size_t len, const sockaddr*, socklen_t)
{
    auto* p = static_cast<Probe*>(instance);
    const std::string payload(reinterpret_cast<const char*>(data), len);
    if (payload == "keep") p->kept = d;
    if (payload == "use_kept") {
        note(p, "kept rc=" + std::to_string(p->host->send_datagram(p->kept, "x", 1, nullptr, 0)));
        return;
    }
    if (payload.starts_with("to ")) {
        socklen_t to_len = 0;
        const sockaddr_storage to = address_of(payload.substr(3), to_len);
        note(p, "sent rc=" +
                    std::to_string(p->host->send_datagram(d, "hi", 2, reinterpret_cast<const sockaddr*>(&to), to_len)));
        return;
    }
    const std::string reply = p->prefix + payload;
    note(p, "datagram on " + worker_of(p) +
                " rc=" + std::to_string(p->host->send_datagram(d, reply.data(), reply.size(), nullptr, 0)));
}

void on_connect(void* instance, ringd_conn* c, int error)
{
    auto* p = static_cast<Probe*>(instance);
    note(p,
         "connect " + std::to_string(p->host->conn_id(c)) + " error " + std::to_string(error) + " on " + worker_of(p));
    if (error == 0) send(p, c, "hello");
}

void on_output_drained(void* instance, ringd_conn* c)
{
    auto* p = static_cast<Probe*>(instance);
    note(p, "drained " + std::to_string(p->host->conn_id(c)) + " queued " + std::to_string(p->host->queued_output(c)));
}

void on_worker_start(void* instance, uint32_t worker)
{
    auto* p = static_cast<Probe*>(instance);
    if (p != nullptr) note(p, "worker start " + std::to_string(worker) + " index " + worker_of(p));
}

void on_worker_stop(void* instance, uint32_t worker)
{
    auto* p = static_cast<Probe*>(instance);
    if (p != nullptr) note(p, "worker stop " + std::to_string(worker) + " index " + worker_of(p));
}

void on_worker_timer(void* instance, int64_t id, void*)
{
    auto* p = static_cast<Probe*>(instance);
    note(p, "worker timer " + std::to_string(id) + " on " + worker_of(p));
}

void on_handover(void* instance, void* previous, const ringd_handover_info* info)
{
    auto* p = static_cast<Probe*>(instance);
    const auto* prev = static_cast<const Probe*>(previous);
    if (info->worker == RINGD_NO_WORKER) p->inherited = prev->prefix;
    note(p, "handover " + (info->worker == RINGD_NO_WORKER ? std::string("main") : std::to_string(info->worker)) +
                " from " + info->previous_version + " inherited " + p->inherited + " index " + worker_of(p));
}

ringd_plugin_descriptor make_descriptor(const char* version)
{
    ringd_plugin_descriptor d{};
    d.abi_version = RINGD_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof d;
    d.name = "probe";
    d.version = version;
    d.socket_kinds = RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM;
    d.create = create;
    d.destroy = destroy;
    d.on_open = on_open;
    d.on_data = on_data;
    d.on_peer_shutdown = on_peer_shutdown;
    d.on_close = on_close;
    d.on_datagram = on_datagram;
    d.on_timer = on_timer;
    d.abi_minor = RINGD_PLUGIN_ABI_MINOR;
    d.on_connect = on_connect;
    d.on_output_drained = on_output_drained;
    d.on_worker_start = on_worker_start;
    d.on_worker_stop = on_worker_stop;
    d.on_worker_timer = on_worker_timer;
    d.on_handover = on_handover;
    return d;
}

const ringd_plugin_descriptor v1 = make_descriptor("0.1");
const ringd_plugin_descriptor v2 = make_descriptor("0.2");

} // namespace

ringd::testkit::Plugin plugin()
{
    return ringd::testkit::Plugin::linked(&v1);
}

ringd::testkit::Plugin plugin_v2()
{
    return ringd::testkit::Plugin::linked(&v2);
}

int destroys()
{
    return destroyed;
}

int null_destroys()
{
    return destroyed_null;
}

} // namespace probe
