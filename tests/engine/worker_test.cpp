// The worker's ordering rules, driven one loop turn at a time from the test's own thread: a real Worker, a
// real io_uring and real Unix stream sockets, with a plugin compiled into this test (PluginLibrary::builtin)
// whose callbacks record what they saw. Because the ring defers its completion work until its thread waits,
// everything a client writes between two turns reaches the worker in one batch, which makes the orderings
// below (data, then more data and the FIN while the plugin is paused) happen every time, not by luck.
#include "engine/connection.hpp"
#include "engine/host_api.hpp"
#include "engine/user_data.hpp"
#include "engine/worker.hpp"
#include "engine/worker_directory.hpp"

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringd::engine {

// The seam Worker befriends: runs the loop's steps from the test, and shows the state the rules are about.
class WorkerTestAccess {
public:
    static void start(Worker& w) { w.start_loop(); }
    static void turn(Worker& w, std::chrono::milliseconds wait)
    {
        REQUIRE(w.ring_.submit_and_wait(wait) == 0);
        w.turn();
    }
    static Connection* only_connection(Worker& w)
    {
        Connection* found = nullptr;
        for (auto& c : w.connections_) {
            if (!c) continue;
            REQUIRE(found == nullptr);
            found = c.get();
        }
        return found;
    }
    static void dispatch(Worker& w, uint64_t user_data, int res, uint32_t flags)
    {
        io_uring_cqe cqe{};
        cqe.user_data = user_data;
        cqe.res = res;
        cqe.flags = flags;
        w.dispatch(cqe);
    }
    static uint64_t stale_completions(const Worker& w) { return w.reading().stale_completions; }
    static const ListenerSlot& slot(const Worker& w, uint32_t index) { return *w.slots_.at(index); }
    // Single steps of a turn, for orderings a whole turn would not produce.
    static void settle_touched(Worker& w) { w.settle_touched(); }
    static void drain_mailbox(Worker& w) { w.drain_mailbox(); }
    static std::size_t pending_timers(const Worker& w) { return w.timers_.size(); }
    static uint64_t ring_mail_wakes(const Worker& w) { return w.ring_mail_wakes_; }
    static int wake_fd(const Worker& w) { return w.wake_fd_.get(); }
};

} // namespace ringd::engine

using namespace ringd;
using namespace ringd::engine;
using namespace std::chrono_literals;

namespace {

// ---- the recording plugin ------------------------------------------------------------------------------------

struct Script {
    bool pause_after_data = false; // every on_data pauses reading; the test resumes
    unsigned echo_times = 1;       // how many copies of its input on_data sends back
    std::string abort_on;          // on_data with exactly this input: close(RINGD_CLOSE_ABORT)
    std::string throw_on;          // on_data with exactly this input: throws
    int64_t notify_below = -1;     // >= 0: every on_data arms notify_output_below with this low-water mark
};

struct Record {
    Script script;
    // "open", "data <n>", "peer_shutdown", "close <reason>"; with the ABI 1.1 hooks also "worker_start <w>",
    // "worker_stop <w>", "worker_timer", "drained" (or "drained inside notify_output_below")
    std::vector<std::string> events;
    std::string input; // every byte on_data was given, in order
    ringd_conn* conn = nullptr;
    const ringd_host* host = nullptr;
    ringd_listener* self = nullptr;
    bool in_notify = false;        // notify_output_below is running
    int64_t queued_at_notify = -1; // queued_output() right after it
};

Record* record = nullptr; // the running test's; the callbacks below have no other way to find it

int rec_create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    record->host = args->host;
    record->self = args->listener;
    *instance = record;
    return 0;
}
void rec_destroy(void*) {}
int rec_on_open(void*, ringd_conn* conn)
{
    record->conn = conn;
    record->events.emplace_back("open");
    return 0;
}
void rec_on_data(void*, ringd_conn* conn, const uint8_t* data, size_t len)
{
    const std::string text(reinterpret_cast<const char*>(data), len);
    record->events.push_back("data " + std::to_string(len));
    record->input += text;
    if (text == record->script.throw_on) throw std::runtime_error("scripted failure");
    if (text == record->script.abort_on) {
        record->host->close(conn, RINGD_CLOSE_ABORT);
        return;
    }
    for (unsigned i = 0; i < record->script.echo_times; ++i)
        record->host->send(conn, data, len);
    if (record->script.pause_after_data) record->host->pause_reading(conn);
    if (record->script.notify_below >= 0) {
        record->in_notify = true;
        record->host->notify_output_below(conn, size_t(record->script.notify_below));
        record->in_notify = false;
        record->queued_at_notify = record->host->queued_output(conn);
    }
}
void rec_on_peer_shutdown(void*, ringd_conn* conn)
{
    record->events.emplace_back("peer_shutdown");
    record->host->send(conn, "<fin>", 5);
    record->host->close(conn, RINGD_CLOSE_AFTER_FLUSH);
}
void rec_on_close(void*, ringd_conn*, ringd_close_reason reason)
{
    record->events.push_back("close " + std::to_string(int(reason)));
    record->conn = nullptr;
}

void rec_on_worker_start(void*, uint32_t worker)
{
    record->events.push_back("worker_start " + std::to_string(worker));
}
void rec_on_worker_stop(void*, uint32_t worker)
{
    record->events.push_back("worker_stop " + std::to_string(worker));
}
void rec_on_worker_timer(void*, int64_t, void*)
{
    record->events.emplace_back("worker_timer");
}
void rec_on_handover(void*, void*, const ringd_handover_info* info)
{
    record->events.push_back("handover " + std::to_string(info->worker));
}
void rec_on_output_drained(void*, ringd_conn*)
{
    record->events.emplace_back(record->in_notify ? "drained inside notify_output_below" : "drained");
}

ringd_plugin_descriptor recorder_descriptor(bool with_peer_shutdown, bool with_hooks)
{
    ringd_plugin_descriptor d{};
    d.abi_version = RINGD_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof d;
    d.name = "recorder";
    d.version = "1";
    d.socket_kinds = RINGD_KIND_STREAM;
    d.create = rec_create;
    d.destroy = rec_destroy;
    d.on_open = rec_on_open;
    d.on_data = rec_on_data;
    d.on_peer_shutdown = with_peer_shutdown ? rec_on_peer_shutdown : nullptr;
    d.on_close = rec_on_close;
    d.abi_minor = RINGD_PLUGIN_ABI_MINOR;
    d.on_output_drained = rec_on_output_drained;
    if (with_hooks) {
        d.on_worker_start = rec_on_worker_start;
        d.on_worker_stop = rec_on_worker_stop;
        d.on_worker_timer = rec_on_worker_timer;
        d.on_handover = rec_on_handover;
    }
    return d;
}

// ---- a worker with one unix listener, and a client -----------------------------------------------------------

struct Rig {
    Record rec;
    ringd_plugin_descriptor descriptor;
    Worker worker;
    Worker* const workers[1] = {&worker};
    WorkerDirectory directory{workers}; // send_to and friends find the worker through it
    std::shared_ptr<plugin_host::PluginLibrary> library;
    std::shared_ptr<Listener> listener;
    std::string name;
    int client = -1;

    explicit Rig(bool with_peer_shutdown = true, uint64_t max_output_buffer = 1 << 20, bool with_hooks = false)
        : descriptor(recorder_descriptor(with_peer_shutdown, with_hooks)), worker(WorkerOptions{})
    {
        library = plugin_host::PluginLibrary::builtin("recorder", &descriptor);
        record = &rec;
        static unsigned counter = 0;
        name = "ringd-worker-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        config::ListenerConfig lc;
        lc.name = "rec";
        lc.endpoint = config::parse_endpoint("unix:@" + name);
        lc.limits.max_output_buffer = max_output_buffer;
        auto instance = plugin_host::PluginInstance::create(
            library, plugin_host::InstanceSpec{"rec", "{}", RINGD_KIND_STREAM, 1, host_table()});
        listener = std::make_shared<Listener>(lc, ListenerSockets::bind(lc.endpoint, 1), instance,
                                              std::make_shared<ListenerStats>("rec", 1));
        WorkerTestAccess::start(worker);
        worker.add_listener(listener);
        connect_client();
        turn_until([&] { return rec.conn != nullptr; });
        REQUIRE(rec.events ==
                (with_hooks ? std::vector<std::string>{"worker_start 0", "open"} : std::vector<std::string>{"open"}));
    }
    ~Rig()
    {
        if (client >= 0) ::close(client);
        worker.begin_shutdown(Clock::now());
        for (int i = 0; i < 50 && worker.live_connections() != 0; ++i)
            WorkerTestAccess::turn(worker, 10ms);
        record = nullptr;
    }

    void connect_client()
    {
        client = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::memcpy(addr.sun_path + 1, name.data(), name.size());
        REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr),
                          socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size())) == 0);
    }
    void write_all(const std::string& data) const
    {
        REQUIRE(::send(client, data.data(), data.size(), MSG_NOSIGNAL) == ssize_t(data.size()));
    }
    void turn(std::chrono::milliseconds wait = 20ms) { WorkerTestAccess::turn(worker, wait); }
    // What a reload that keeps the address makes: a new instance of the same plugin on the same sockets.
    std::shared_ptr<Listener> successor() const
    {
        auto instance = plugin_host::PluginInstance::create(
            library, plugin_host::InstanceSpec{"rec", "{}", RINGD_KIND_STREAM, 1, host_table()});
        return std::make_shared<Listener>(listener->config(), listener->sockets(), instance, listener->stats());
    }
    template <class P> void turn_until(P done, int max_turns = 100)
    {
        for (int i = 0; i < max_turns && !done(); ++i)
            turn();
        REQUIRE(done());
    }
    // Reads until EOF (the worker keeps turning meanwhile).
    std::string read_to_eof()
    {
        std::string got;
        char buf[65536];
        for (int i = 0; i < 500; ++i) {
            turn(5ms);
            for (;;) {
                const ssize_t n = ::recv(client, buf, sizeof buf, MSG_DONTWAIT);
                if (n > 0) {
                    got.append(buf, std::size_t(n));
                    continue;
                }
                if (n == 0) return got;
                REQUIRE(errno == EAGAIN);
                break;
            }
        }
        FAIL("no EOF from the worker");
        return got;
    }
    std::size_t data_events_before(const std::string& event) const
    {
        std::size_t bytes = 0;
        for (const auto& e : rec.events) {
            if (e == event) break;
            if (e.starts_with("data ")) bytes += std::stoul(e.substr(5));
        }
        return bytes;
    }
};

std::string pattern(std::size_t n)
{
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = char('a' + i % 23);
    return s;
}

} // namespace

TEST_CASE("input held while the plugin is paused reaches on_data before the FIN behind it")
{
    Rig rig;
    rig.rec.script.pause_after_data = true;
    // 6000 bytes fill two provided buffers (4096 each): two data completions, then the FIN, in one batch. The
    // first on_data pauses, so the second completion is held, and the FIN with it.
    const std::string sent = pattern(6000);
    rig.write_all(sent);
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    rig.turn_until([&] { return !rig.rec.input.empty(); });
    rig.turn();
    Connection* conn = WorkerTestAccess::only_connection(rig.worker);
    REQUIRE(conn != nullptr);
    CHECK(rig.rec.input.size() == 4096);
    CHECK(conn->held_input.size() == 6000 - 4096);
    CHECK(conn->read == ReadSide::fin_held);
    CHECK(conn->phase == Phase::open);
    INFO(conn->describe());

    // Resuming from outside any callback (the test thread is the worker's) delivers the held input; the plugin
    // pauses again at once, so the FIN still waits.
    REQUIRE(rig.rec.host->resume_reading(rig.rec.conn) == 0);
    rig.turn();
    CHECK(rig.rec.input == sent);
    CHECK(conn->read == ReadSide::fin_held);
    REQUIRE(rig.rec.host->resume_reading(rig.rec.conn) == 0);
    rig.turn();
    CHECK(rig.read_to_eof() == sent + "<fin>");
    CHECK(rig.rec.events == std::vector<std::string>{"open", "data 4096", "data 1904", "peer_shutdown", "close 0"});
}

TEST_CASE("a FIN while the plugin is paused waits for resume even with nothing held")
{
    Rig rig(/*with_peer_shutdown=*/false); // the host's default: close after flushing
    rig.rec.script.pause_after_data = true;
    rig.write_all("hello");
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    rig.turn_until([&] { return rig.rec.input == "hello"; });
    for (int i = 0; i < 3; ++i)
        rig.turn();
    CHECK(rig.rec.events == std::vector<std::string>{"open", "data 5"});
    REQUIRE(rig.rec.host->resume_reading(rig.rec.conn) == 0);
    CHECK(rig.read_to_eof() == "hello");
    CHECK(rig.rec.events.back() == "close 0"); // RINGD_CLOSE_PEER
}

TEST_CASE("input and FIN under host backpressure arrive in order")
{
    Rig rig(/*with_peer_shutdown=*/true, /*max_output_buffer=*/100);
    rig.rec.script.echo_times = 2; // output outgrows the cap at the first on_data: the host pauses reading
    const std::string sent = pattern(12000);
    rig.write_all(sent);
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    const std::string got = rig.read_to_eof();
    CHECK(rig.data_events_before("peer_shutdown") == sent.size());
    CHECK(rig.rec.input == sent);
    CHECK(got.size() == 2 * sent.size() + 5);
    CHECK(got.ends_with("<fin>"));
}

TEST_CASE("a FIN that arrives while the echo is still being sent loses nothing")
{
    Rig rig;
    const std::string sent = pattern(3000);
    rig.write_all(sent); // data and FIN in one batch: the echo's send is not even submitted at the FIN
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    CHECK(rig.read_to_eof() == sent + "<fin>");
    CHECK(rig.rec.events == std::vector<std::string>{"open", "data 3000", "peer_shutdown", "close 0"});
}

TEST_CASE("a connection's traffic and close are counted in its worker's cells of the listener's stats")
{
    Rig rig;
    const std::string sent = pattern(3000);
    rig.write_all(sent);
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    REQUIRE(rig.read_to_eof() == sent + "<fin>");
    rig.turn_until([&] { return rig.listener->stats()->totals().closed_total() == 1; });
    const ListenerTotals t = rig.listener->stats()->totals();
    CHECK(t.accepted == 1);
    CHECK(t.active() == 0);
    CHECK(t.closed[RINGD_CLOSE_PEER] == 1);
    CHECK(t.bytes_received == 3000);
    CHECK(t.bytes_sent == 3000 + 5); // the echo and the recorder's "<fin>"
    CHECK(t.refused_total() == 0);
    uint64_t observed = 0;
    for (uint64_t n : t.duration_buckets)
        observed += n;
    CHECK(observed == 1);
    CHECK(t.duration_sum_ns > 0);
    const WorkerReading w = rig.worker.reading();
    CHECK(w.loop_turns > 0);
    CHECK(w.submissions > 0);
    CHECK(w.completions > 0);
}

TEST_CASE("a plugin's abort is a local close; a callback that throws is an error")
{
    SECTION("close(RINGD_CLOSE_ABORT)")
    {
        Rig rig;
        rig.rec.script.abort_on = "abort";
        rig.write_all("abort");
        CHECK(rig.read_to_eof().empty()); // nothing echoed (a unix socket shows a reset as a plain EOF)
        CHECK(rig.rec.events.back() == "close " + std::to_string(int(RINGD_CLOSE_LOCAL)));
    }
    SECTION("on_data throws")
    {
        Rig rig;
        rig.rec.script.throw_on = "boom";
        rig.write_all("boom");
        CHECK(rig.read_to_eof().empty());
        CHECK(rig.rec.events.back() == "close " + std::to_string(int(RINGD_CLOSE_ERROR)));
    }
}

TEST_CASE("host calls off the connection's worker thread are refused with EPERM")
{
    Rig rig;
    ringd_conn* conn = rig.rec.conn;
    const ringd_host* host = rig.rec.host;
    int send_rc = 0, close_rc = 0, pause_rc = 0, timer_rc = 0;
    void* user = reinterpret_cast<void*>(1);
    std::thread other([&] {
        send_rc = host->send(conn, "x", 1);
        close_rc = host->close(conn, RINGD_CLOSE_ABORT);
        pause_rc = host->pause_reading(conn);
        timer_rc = int(host->timer_start(conn, 1, nullptr));
        host->set_user(conn, reinterpret_cast<void*>(2));
        user = host->get_user(conn);
    });
    other.join();
    CHECK(send_rc == -EPERM);
    CHECK(close_rc == -EPERM);
    CHECK(pause_rc == -EPERM);
    CHECK(timer_rc == -EPERM);
    CHECK(user == nullptr);
    CHECK(host->get_user(conn) == nullptr); // set_user from the other thread changed nothing
    // The connection is untouched: it still echoes.
    rig.write_all("still here");
    rig.turn_until([&] { return rig.rec.input == "still here"; });
    char buf[32];
    rig.turn();
    CHECK(::recv(rig.client, buf, sizeof buf, 0) == 10);
}

TEST_CASE("a host call on another connection of the same worker takes effect in the same turn")
{
    Rig rig;
    ringd_conn* first = rig.rec.conn;
    const int first_client = rig.client;
    rig.client = -1;
    rig.connect_client();
    rig.turn_until([&] { return rig.rec.conn != first; });
    // Outside any callback, as a room plugin's timer on another connection would be.
    REQUIRE(rig.rec.host->send(first, "to first", 8) == 0);
    rig.turn(1ms);
    rig.turn(1ms);
    char buf[16];
    CHECK(::recv(first_client, buf, sizeof buf, MSG_DONTWAIT) == 8);
    ::close(first_client);
}

TEST_CASE("a completion for a listener slot or connection that is gone is dropped, not mis-routed")
{
    Rig rig;
    Connection* conn = WorkerTestAccess::only_connection(rig.worker);
    REQUIRE(conn != nullptr);
    const uint32_t slot_tag = WorkerTestAccess::slot(rig.worker, 0).reuse_tag;
    // A recv completion carrying an earlier user's tag, for this connection's slot.
    WorkerTestAccess::dispatch(rig.worker, make_user_data(Op::recv, conn->index, conn->reuse_tag + 1), 0, 0);
    CHECK(conn->read == ReadSide::open);
    // An accept completion for a listener slot index that does not exist, and one with a stale tag.
    WorkerTestAccess::dispatch(rig.worker, make_user_data(Op::accept, 7, 0), 5, 0);
    WorkerTestAccess::dispatch(rig.worker, make_user_data(Op::accept, 0, slot_tag + 1), -EINVAL, 0);
    // Child-process and datagram-send slots that were never used.
    WorkerTestAccess::dispatch(rig.worker, make_user_data(Op::child_pidfd, 0, 1), 0, 0);
    WorkerTestAccess::dispatch(rig.worker, make_user_data(Op::child_stdout, 2, 1), 10, 0);
    WorkerTestAccess::dispatch(rig.worker, make_user_data(Op::datagram_send, 0), 10, 0);
    CHECK(WorkerTestAccess::stale_completions(rig.worker) == 6);
    CHECK(WorkerTestAccess::slot(rig.worker, 0).armed);
    // And the connection still works.
    rig.write_all("ok");
    rig.turn_until([&] { return rig.rec.input == "ok"; });
}

TEST_CASE("spawn refuses a request whose struct_size is below ABI 1.0's, reading nothing else")
{
    Rig rig;
    static bool done_called = false;
    auto done = [](void*, ringd_conn*, const ringd_spawn_result*) { done_called = true; };
    const char* argv[] = {"/bin/true", nullptr};
    ringd_spawn_request request{};
    request.argv = argv;
    request.run_as_uid = request.run_as_gid = -1;
    for (uint32_t size : {0u, 4u, uint32_t(offsetof(ringd_spawn_request, run_as_gid))}) {
        request.struct_size = size;
        CHECK(rig.rec.host->spawn(rig.rec.conn, &request, done, nullptr) == -EINVAL);
    }
    for (int i = 0; i < 3; ++i)
        rig.turn();
    CHECK_FALSE(done_called);
    CHECK(WorkerTestAccess::only_connection(rig.worker)->running_children == 0);
}

// ---- ABI 1.1 ---------------------------------------------------------------------------------------------------

namespace {

// Connection tasks (host->post) record whether they found their connection.
void record_task(void*, ringd_conn* conn, void* arg)
{
    record->events.emplace_back(conn != nullptr ? "task live" : "task null");
    delete static_cast<std::string*>(arg);
}

void record_worker_task(void*, void* arg, int status)
{
    record->events.push_back("worker task " + std::to_string(status));
    delete static_cast<std::string*>(arg);
}

} // namespace

TEST_CASE("connection ids are never reused, not even when the connection slot is")
{
    Rig rig;
    const ringd_host* host = rig.rec.host;
    Connection* first = WorkerTestAccess::only_connection(rig.worker);
    const uint32_t slot = first->index;
    const ringd_conn_id first_id = host->conn_id(rig.rec.conn);
    CHECK(first_id != 0);
    CHECK(first_id == first->id);
    ::close(rig.client);
    rig.client = -1;
    rig.turn_until([&] { return WorkerTestAccess::only_connection(rig.worker) == nullptr; });
    rig.connect_client();
    rig.turn_until([&] { return rig.rec.conn != nullptr; });
    Connection* second = WorkerTestAccess::only_connection(rig.worker);
    REQUIRE(second->index == slot); // the same slot serves the next connection
    const ringd_conn_id second_id = host->conn_id(rig.rec.conn);
    CHECK(second_id != first_id);
    // The old id reaches nothing, from this thread or another; ids that never were are refused.
    CHECK(host->send_to(first_id, "x", 1) == -ENOENT);
    CHECK(host->close_id(first_id, RINGD_CLOSE_ABORT) == -ENOENT);
    int from_thread = 0;
    std::thread([&] { from_thread = host->send_to(first_id, "x", 1); }).join();
    CHECK(from_thread == -ENOENT);
    CHECK(host->send_to(0, "x", 1) == -EINVAL);
    CHECK(host->send_to(make_conn_id(7, 0, 1), "x", 1) == -EINVAL); // no worker 7
    // The new id reaches the new connection, at once on its own worker.
    CHECK(host->send_to(second_id, "hi", 2) == 0);
    rig.turn(1ms); // settled: the send is queued in the ring
    rig.turn(1ms); // submitted
    char buf[8];
    CHECK(::recv(rig.client, buf, sizeof buf, MSG_DONTWAIT) == 2);
}

TEST_CASE("send_to, close_id and post from another thread reach the connection through the mailbox, in order")
{
    Rig rig;
    const ringd_host* host = rig.rec.host;
    const ringd_conn_id id = host->conn_id(rig.rec.conn);
    int rc[4] = {1, 1, 1, 1};
    std::thread([&] {
        rc[0] = host->send_to(id, "one,", 4);
        rc[1] = host->post(rig.rec.self, id, record_task, new std::string("arg"));
        rc[2] = host->send_to(id, "two", 3);
        rc[3] = host->close_id(id, RINGD_CLOSE_AFTER_FLUSH);
    }).join();
    CHECK(rc[0] == 0);
    CHECK(rc[1] == 0);
    CHECK(rc[2] == 0);
    CHECK(rc[3] == 0);
    CHECK(rig.read_to_eof() == "one,two");
    // Closing (it waits for the client's FIN): takes no more output; then gone, as any thread can tell.
    int after = 0;
    std::thread([&] { after = host->send_to(id, "x", 1); }).join();
    CHECK(after == -EPIPE);
    ::close(rig.client);
    rig.client = -1;
    rig.turn_until([&] { return rig.rec.events.back() == "close 1"; });
    CHECK(rig.rec.events == std::vector<std::string>{"open", "task live", "close 1"});
    std::thread([&] { after = host->send_to(id, "x", 1); }).join();
    CHECK(after == -ENOENT);
}

TEST_CASE("a task for a connection that goes away while the task is on its way runs with conn NULL")
{
    Rig rig;
    const ringd_host* host = rig.rec.host;
    const ringd_conn_id id = host->conn_id(rig.rec.conn);
    int rc = 1;
    std::thread([&] { rc = host->post(rig.rec.self, id, record_task, new std::string("arg")); }).join();
    REQUIRE(rc == 0);
    // Torn down before the worker takes its mail.
    REQUIRE(host->close(rig.rec.conn, RINGD_CLOSE_ABORT) == 0);
    WorkerTestAccess::settle_touched(rig.worker);
    CHECK(rig.rec.events.back() == "close 1");
    WorkerTestAccess::drain_mailbox(rig.worker);
    CHECK(rig.rec.events.back() == "task null"); // it ran once, without the connection (and freed its arg)
    CHECK(host->post(rig.rec.self, id, record_task, nullptr) == -ENOENT);
}

TEST_CASE("an instance starts on a worker before its first callback there and stops after its last")
{
    Rig rig(/*with_peer_shutdown=*/true, 1 << 20, /*with_hooks=*/true); // checked: {"worker_start 0", "open"}
    const ringd_host* host = rig.rec.host;
    // Retired while a connection is open: it keeps serving that connection, so it has not stopped.
    rig.worker.retire_listener(rig.listener.get(), std::nullopt);
    for (int i = 0; i < 3; ++i)
        rig.turn();
    CHECK(rig.rec.events.back() == "open");
    // A worker task runs while the instance is there.
    int rc = 1;
    std::thread([&] { rc = host->post_worker(rig.rec.self, 0, record_worker_task, new std::string("a")); }).join();
    REQUIRE(rc == 0);
    rig.turn_until([&] { return rig.rec.events.back() == "worker task 0"; });
    // Its last connection closes: on_close, then on_worker_stop, in that order and nothing after.
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    CHECK(rig.read_to_eof() == "<fin>");
    rig.turn_until([&] { return rig.rec.events.back() == "worker_stop 0"; });
    CHECK(rig.rec.events == std::vector<std::string>{"worker_start 0", "open", "worker task 0", "peer_shutdown",
                                                     "close 0", "worker_stop 0"});
    // A worker task now finds the instance gone from this worker: it runs with -ESRCH, once.
    std::thread([&] { rc = host->post_worker(rig.rec.self, 0, record_worker_task, new std::string("b")); }).join();
    REQUIRE(rc == 0);
    rig.turn();
    CHECK(rig.rec.events.back() == "worker task " + std::to_string(-ESRCH));
    CHECK(host->post_worker(rig.rec.self, 1, record_worker_task, nullptr) == -EINVAL); // no worker 1
}

TEST_CASE("worker timers fire on their worker and are dropped when the instance stops there")
{
    Rig rig(/*with_peer_shutdown=*/true, 1 << 20, /*with_hooks=*/true);
    const ringd_host* host = rig.rec.host;
    ringd_listener* self = rig.rec.self;
    REQUIRE(host->worker_timer_start(self, 1, nullptr) > 0);
    rig.turn_until([&] { return rig.rec.events.back() == "worker_timer"; });
    const int64_t cancelled = host->worker_timer_start(self, 10, nullptr);
    CHECK(host->worker_timer_cancel(self, cancelled) == 0);
    CHECK(host->worker_timer_cancel(self, cancelled) == -ENOENT);
    int64_t off_worker = 0;
    std::thread([&] { off_worker = host->worker_timer_start(self, 1, nullptr); }).join();
    CHECK(off_worker == -EPERM);
    // Still pending when the instance stops here: dropped, never fired.
    REQUIRE(host->worker_timer_start(self, 100, nullptr) > 0);
    rig.worker.retire_listener(rig.listener.get(), std::nullopt);
    ::close(rig.client);
    rig.client = -1;
    rig.turn_until([&] { return rig.rec.events.back() == "worker_stop 0"; });
    CHECK(WorkerTestAccess::pending_timers(rig.worker) == 0);
    const auto stopped_at = rig.rec.events.size();
    for (int i = 0; i < 8; ++i)
        rig.turn(20ms); // well past the dropped timer's deadline
    CHECK(rig.rec.events.size() == stopped_at);
    CHECK(host->worker_timer_start(self, 1, nullptr) == -ESRCH);
}

TEST_CASE("on_output_drained fires once the output is low, after the call that armed it, never inside it")
{
    SECTION("already low: at the next settle, after on_data returned")
    {
        Rig rig;
        rig.rec.script.notify_below = 1 << 20;
        rig.write_all("hello");
        rig.turn_until([&] { return rig.rec.events.back() == "drained"; });
        CHECK(rig.rec.events == std::vector<std::string>{"open", "data 5", "drained"});
    }
    SECTION("high at first: once the sends have drained it")
    {
        Rig rig;
        rig.rec.script.echo_times = 40; // 40 x 3000 bytes queued by one on_data
        rig.rec.script.notify_below = 0;
        rig.write_all(pattern(3000));
        rig.turn_until([&] { return rig.rec.input.size() == 3000; });
        CHECK(rig.rec.queued_at_notify == 120000);
        std::string got;
        char buf[65536];
        for (int i = 0; i < 200 && rig.rec.events.back() != "drained"; ++i) {
            rig.turn(5ms);
            const ssize_t n = ::recv(rig.client, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) got.append(buf, std::size_t(n));
        }
        CHECK(rig.rec.events == std::vector<std::string>{"open", "data 3000", "drained"});
        CHECK(WorkerTestAccess::only_connection(rig.worker)->out.bytes() == 0);
    }
}

TEST_CASE("a replaced instance stops only after its last connection; its successor starts and takes over first")
{
    Rig rig(/*with_peer_shutdown=*/true, 1 << 20, /*with_hooks=*/true);
    const std::shared_ptr<Listener> next = rig.successor();
    next->set_handover_from(rig.listener);
    rig.worker.replace_listener(rig.listener.get(), next);
    rig.turn();
    // The successor started and took over; the old instance still serves its open connection.
    CHECK(rig.rec.events == std::vector<std::string>{"worker_start 0", "open", "worker_start 0", "handover 0"});
    rig.write_all("still old");
    rig.turn_until([&] { return rig.rec.input == "still old"; });
    REQUIRE(::shutdown(rig.client, SHUT_WR) == 0);
    CHECK(rig.read_to_eof() == "still old<fin>");
    rig.turn_until([&] { return rig.rec.events.back() == "worker_stop 0"; });
    CHECK(rig.rec.events == std::vector<std::string>{"worker_start 0", "open", "worker_start 0", "handover 0", "data 9",
                                                     "peer_shutdown", "close 0", "worker_stop 0"});
    rig.listener = next; // the Rig shuts down what now serves
}

namespace {

std::atomic<int> worker_task_status{1};
std::atomic<int> worker_task_runs{0};

void note_worker_task(void*, void*, int status)
{
    worker_task_status = status;
    ++worker_task_runs;
}

// Two workers, the first driven by the test's thread, and an instance to post as.
struct TwoWorkers {
    Record rec;
    ringd_plugin_descriptor descriptor = recorder_descriptor(true, false);
    Worker first{WorkerOptions{0, 2}};
    Worker second{WorkerOptions{1, 2}};
    Worker* const workers[2] = {&first, &second};
    WorkerDirectory directory{workers};
    std::shared_ptr<plugin_host::PluginInstance> instance;
    std::shared_ptr<Listener> listener; // the instance, present on the second worker

    TwoWorkers()
    {
        record = &rec;
        worker_task_status = 1;
        worker_task_runs = 0;
        instance = plugin_host::PluginInstance::create(
            plugin_host::PluginLibrary::builtin("recorder", &descriptor),
            plugin_host::InstanceSpec{"rec", "{}", RINGD_KIND_STREAM, 2, host_table()});
        config::ListenerConfig lc;
        lc.name = "rec";
        lc.endpoint = config::parse_endpoint("unix:@ringd-worker-test-two-" + std::to_string(::getpid()));
        listener = std::make_shared<Listener>(lc, ListenerSockets::bind(lc.endpoint, 2), instance,
                                              std::make_shared<ListenerStats>("rec", 2));
        WorkerTestAccess::start(first);
    }
    ~TwoWorkers() { record = nullptr; }
};

} // namespace

TEST_CASE("a worker wakes another through its own ring (IORING_OP_MSG_RING), not the eventfd")
{
    TwoWorkers rig;
    // The ring setup this is about (where the kernel has it, as on the machines ringd is tested on).
    INFO("ring setup: " << rig.second.ring().setup_description());
    CHECK(rig.second.ring().setup_description() == "single-issuer, deferred task-run");
    std::thread second_loop([&] { rig.second.run(); });
    std::atomic<bool> serving{false};
    rig.second.post([&](Worker& w) {
        w.add_listener(rig.listener);
        serving = true;
    });
    for (int i = 0; i < 500 && !serving; ++i)
        std::this_thread::sleep_for(1ms); // its ring is enabled by now: MSG_RING can reach it
    REQUIRE(serving);
    REQUIRE(rig.second.post_worker_task(rig.instance, note_worker_task, nullptr) == 0); // on the first worker's thread
    for (int i = 0; i < 100 && worker_task_runs == 0; ++i)
        WorkerTestAccess::turn(rig.first, 10ms); // submits the MSG_RING with the turn's batch
    CHECK(worker_task_runs == 1);
    CHECK(worker_task_status == 0); // present there: the listener was added first (same thread, in order)
    CHECK(WorkerTestAccess::ring_mail_wakes(rig.second) >= 1);
    rig.second.post([](Worker& w) { w.begin_shutdown(Clock::now()); });
    second_loop.join();
    rig.first.begin_shutdown(Clock::now());
}

TEST_CASE("a wake the target's ring refuses falls back to its eventfd; a worker that never ran still runs its tasks")
{
    TwoWorkers rig; // the second worker never runs: its ring stays disabled, so MSG_RING to it fails (EBADFD)
    REQUIRE(rig.second.post_worker_task(rig.instance, note_worker_task, nullptr) == 0); // on the first worker's thread
    pollfd pfd{WorkerTestAccess::wake_fd(rig.second), POLLIN, 0};
    for (int i = 0; i < 100 && ::poll(&pfd, 1, 0) == 0; ++i)
        WorkerTestAccess::turn(rig.first, 10ms); // the failed MSG_RING's completion arrives here
    CHECK(::poll(&pfd, 1, 0) == 1);              // its eventfd was written instead
    CHECK(worker_task_runs == 0);
    rig.first.begin_shutdown(Clock::now());
    // Destroying a worker whose loop never ran runs what was posted to it, once, as not served there.
    {
        Worker third{WorkerOptions{2, 3}};
        std::thread([&] { (void)third.post_worker_task(rig.instance, note_worker_task, nullptr); }).join();
    }
    CHECK(worker_task_runs == 1);
    CHECK(worker_task_status == -ESRCH);
}
