// The worker's ordering rules, driven one loop turn at a time from the test's own thread: a real Worker, a
// real io_uring and real Unix stream sockets, with a plugin compiled into this test (PluginLibrary::builtin)
// whose callbacks record what they saw. Because the ring defers its completion work until its thread waits,
// everything a client writes between two turns reaches the worker in one batch, which makes the orderings
// below (data, then more data and the FIN while the plugin is paused) happen every time, not by luck.
#include "engine/connection.hpp"
#include "engine/host_api.hpp"
#include "engine/user_data.hpp"
#include "engine/worker.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
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
    static uint64_t stale_completions(const Worker& w) { return w.stale_completions_; }
    static const ListenerSlot& slot(const Worker& w, uint32_t index) { return *w.slots_.at(index); }
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
};

struct Record {
    Script script;
    std::vector<std::string> events; // "open", "data <n>", "peer_shutdown", "close <reason>"
    std::string input;               // every byte on_data was given, in order
    ringd_conn* conn = nullptr;
    const ringd_host* host = nullptr;
};

Record* record = nullptr; // the running test's; the callbacks below have no other way to find it

int rec_create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    record->host = args->host;
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

ringd_plugin_descriptor recorder_descriptor(bool with_peer_shutdown)
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
    return d;
}

// ---- a worker with one unix listener, and a client -----------------------------------------------------------

struct Rig {
    Record rec;
    ringd_plugin_descriptor descriptor;
    Worker worker;
    std::string name;
    int client = -1;

    explicit Rig(bool with_peer_shutdown = true, uint64_t max_output_buffer = 1 << 20)
        : descriptor(recorder_descriptor(with_peer_shutdown)), worker(WorkerOptions{})
    {
        record = &rec;
        static unsigned counter = 0;
        name = "ringd-worker-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        config::ListenerConfig lc;
        lc.name = "rec";
        lc.endpoint = config::parse_endpoint("unix:@" + name);
        lc.limits.max_output_buffer = max_output_buffer;
        auto library = plugin_host::PluginLibrary::builtin("recorder", &descriptor);
        auto instance = plugin_host::PluginInstance::create(
            library, plugin_host::InstanceSpec{"rec", "{}", RINGD_KIND_STREAM, 1, host_table()});
        auto listener = std::make_shared<Listener>(lc, ListenerSockets::bind(lc.endpoint, 1), instance);
        WorkerTestAccess::start(worker);
        worker.add_listener(listener);
        connect_client();
        turn_until([&] { return !rec.events.empty(); });
        REQUIRE(rec.events == std::vector<std::string>{"open"});
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
