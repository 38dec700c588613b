// Outbound connections (host->connect) on a real Worker, driven one loop turn at a time from the test's thread
// (which becomes the worker's thread, so the test may call the host like a plugin callback would): the
// connecting phase, what a close or abort during it does, and the outcomes on_connect reports.
//
// A connect that stays in flight is made against a loopback TCP listener whose accept queue is full (backlog 0
// and one connection waiting): the kernel drops further SYNs, so the connect neither succeeds nor fails until
// its timeout, and nothing leaves the machine.
#include "engine/connection.hpp"
#include "engine/host_api.hpp"
#include "engine/user_data.hpp"
#include "engine/worker.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace ringd::engine {

class WorkerTestAccess {
public:
    static void start(Worker& w) { w.start_loop(); }
    static void turn(Worker& w, std::chrono::milliseconds wait)
    {
        REQUIRE(w.ring_.submit_and_wait(wait) == 0);
        w.turn();
    }
    static std::size_t connections(const Worker& w)
    {
        std::size_t n = 0;
        for (const auto& c : w.connections_)
            n += c ? 1 : 0;
        return n;
    }
    static uint64_t stale_completions(const Worker& w) { return w.reading().stale_completions; }
};

} // namespace ringd::engine

using namespace ringd;
using namespace ringd::engine;
using namespace std::chrono_literals;

namespace {

// The listener's outbound connections that never came to be, for one reason or all of them.
uint64_t outbound_failures(const Listener& listener, std::optional<OutboundFailure> why = std::nullopt)
{
    const ListenerTotals t = listener.stats()->totals();
    if (why) return t.outbound_failed[std::size_t(*why)];
    uint64_t sum = 0;
    for (uint64_t n : t.outbound_failed)
        sum += n;
    return sum;
}

struct Record {
    std::vector<std::string> events; // "connect <error>", "data <text>", "close <reason>"
    const ringd_host* host = nullptr;
    ringd_listener* self = nullptr;
    bool close_in_on_connect = false;
};
Record* record = nullptr;

int rec_create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    record->host = args->host;
    record->self = args->listener;
    *instance = record;
    return 0;
}
void rec_destroy(void*) {}
void rec_on_connect(void*, ringd_conn* conn, int error)
{
    record->events.push_back("connect " + std::to_string(error));
    if (record->close_in_on_connect) record->host->close(conn, RINGD_CLOSE_AFTER_FLUSH);
}
void rec_on_data(void*, ringd_conn*, const uint8_t* data, size_t len)
{
    record->events.push_back("data " + std::string(reinterpret_cast<const char*>(data), len));
}
void rec_on_close(void*, ringd_conn*, ringd_close_reason reason)
{
    record->events.push_back("close " + std::to_string(int(reason)));
}

ringd_plugin_descriptor dialer_descriptor()
{
    ringd_plugin_descriptor d{};
    d.abi_version = RINGD_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof d;
    d.name = "dialer";
    d.version = "1";
    d.socket_kinds = RINGD_KIND_STREAM;
    d.create = rec_create;
    d.destroy = rec_destroy;
    d.on_data = rec_on_data;
    d.on_close = rec_on_close;
    d.abi_minor = RINGD_PLUGIN_ABI_MINOR;
    d.on_connect = rec_on_connect;
    return d;
}

// A loopback TCP listener nobody accepts from; `fill()` makes its accept queue full.
struct SilentTcpListener {
    int fd = -1;
    int filler = -1;
    sockaddr_in address{};

    SilentTcpListener()
    {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        socklen_t len = sizeof address;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &len) == 0);
        REQUIRE(::listen(fd, 0) == 0);
    }
    void fill()
    {
        filler = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        REQUIRE(::connect(filler, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    }
    ~SilentTcpListener()
    {
        if (filler >= 0) ::close(filler);
        ::close(fd);
    }
};

// An abstract Unix listener the test accepts from itself.
struct UnixServer {
    int fd = -1;
    sockaddr_un address{};
    socklen_t address_len = 0;

    explicit UnixServer(const std::string& name, bool listening = true)
    {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        address.sun_family = AF_UNIX;
        std::memcpy(address.sun_path + 1, name.data(), name.size());
        address_len = socklen_t(offsetof(sockaddr_un, sun_path) + 1 + name.size());
        if (!listening) return; // nobody there: connecting is refused
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), address_len) == 0);
        REQUIRE(::listen(fd, 16) == 0);
    }
    ~UnixServer() { ::close(fd); }
};

struct Rig {
    Record rec;
    ringd_plugin_descriptor descriptor = dialer_descriptor();
    Worker worker{WorkerOptions{}};
    std::shared_ptr<Listener> listener;
    std::string name;

    explicit Rig(std::optional<uint32_t> max_outbound = std::nullopt)
    {
        record = &rec;
        static unsigned counter = 0;
        name = "ringd-outbound-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
        config::ListenerConfig lc;
        lc.name = "dialer";
        lc.endpoint = config::parse_endpoint("unix:@" + name);
        lc.limits.max_outbound_connections = max_outbound;
        auto library = plugin_host::PluginLibrary::builtin("dialer", &descriptor);
        auto instance = plugin_host::PluginInstance::create(
            library, plugin_host::InstanceSpec{"dialer", "{}", RINGD_KIND_STREAM, 1, host_table()});
        listener = std::make_shared<Listener>(lc, ListenerSockets::bind(lc.endpoint, 1), instance,
                                              std::make_shared<ListenerStats>("dialer", 1));
        WorkerTestAccess::start(worker);
        worker.add_listener(listener);
    }
    ~Rig()
    {
        worker.begin_shutdown(Clock::now());
        for (int i = 0; i < 50 && worker.live_connections() != 0; ++i)
            WorkerTestAccess::turn(worker, 10ms);
        record = nullptr;
    }

    int connect(const void* address, socklen_t len, ringd_conn** conn, uint32_t timeout_ms = 0)
    {
        ringd_connect_request request{};
        request.struct_size = sizeof request;
        request.timeout_ms = timeout_ms;
        request.address = static_cast<const sockaddr*>(address);
        request.address_len = len;
        return rec.host->connect(rec.self, &request, conn);
    }
    void turn(std::chrono::milliseconds wait = 20ms) { WorkerTestAccess::turn(worker, wait); }
    template <class P> void turn_until(P done, int max_turns = 100)
    {
        for (int i = 0; i < max_turns && !done(); ++i)
            turn();
        REQUIRE(done());
    }
    void turn_until_released()
    {
        turn_until([&] { return WorkerTestAccess::connections(worker) == 0; });
    }
    [[nodiscard]] Connection& conn_of(ringd_conn* c) const { return *reinterpret_cast<Connection*>(c); }
};

std::vector<std::string> events(std::initializer_list<const char*> list)
{
    return {list.begin(), list.end()};
}

std::string reason(ringd_close_reason r)
{
    return "close " + std::to_string(int(r));
}

} // namespace

TEST_CASE("output queued while connecting goes out once connected, and only then is the connection read")
{
    Rig rig;
    UnixServer server(rig.name + "-server");
    ringd_conn* conn = nullptr;
    REQUIRE(rig.connect(&server.address, server.address_len, &conn) == 0);
    REQUIRE(conn != nullptr);
    CHECK(rig.rec.host->send(conn, "first ", 6) == 0);
    CHECK(rig.rec.host->send(conn, "second", 6) == 0);
    Connection& c = rig.conn_of(conn);
    CHECK(c.phase == Phase::connecting);
    CHECK(c.connect == ConnectOp::in_flight);
    CHECK(c.recv == RecvOp::idle);
    INFO(c.describe());
    CHECK(c.describe().find("phase=connecting") != std::string::npos);

    rig.turn_until([&] { return !rig.rec.events.empty(); });
    CHECK(rig.rec.events == events({"connect 0"}));
    CHECK(c.phase == Phase::open);
    CHECK(c.recv == RecvOp::armed);
    const int peer = ::accept4(server.fd, nullptr, nullptr, SOCK_CLOEXEC);
    REQUIRE(peer >= 0);
    std::string got;
    for (int i = 0; i < 50 && got.size() < 12; ++i) {
        rig.turn(5ms);
        char buf[64];
        const ssize_t n = ::recv(peer, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, std::size_t(n));
    }
    CHECK(got == "first second");
    REQUIRE(::send(peer, "back", 4, MSG_NOSIGNAL) == 4);
    rig.turn_until([&] { return rig.rec.events.size() == 2; });
    CHECK(rig.rec.events.back() == "data back");
    CHECK(rig.listener->stats()->totals().outbound_opened == 1);
    CHECK(rig.listener->stats()->totals().outbound_active() == 1);
    ::close(peer);
    rig.turn_until([&] { return rig.rec.events.back() == reason(RINGD_CLOSE_PEER); });
    rig.turn_until_released();
    CHECK(rig.listener->stats()->totals().outbound_active() == 0);
    CHECK(rig.listener->sockets()->open_outbound == 0);
    CHECK(rig.listener->sockets()->open_connections == 0); // outbound ones never counted there
}

TEST_CASE("a close or abort while the connect is in flight cancels it: on_connect(-ECANCELED), then on_close")
{
    Rig rig;
    SilentTcpListener blackhole;
    blackhole.fill();
    ringd_conn* conn = nullptr;
    REQUIRE(rig.connect(&blackhole.address, sizeof blackhole.address, &conn) == 0);
    CHECK(rig.rec.host->send(conn, "never sent", 10) == 0);
    for (int i = 0; i < 3; ++i)
        rig.turn(5ms); // the connect is submitted and stays in flight
    REQUIRE(rig.rec.events.empty());
    Connection& c = rig.conn_of(conn);
    REQUIRE(c.phase == Phase::connecting);
    CHECK_FALSE(c.send_in_flight); // nothing is sent before the connect completes...
    CHECK(c.out.bytes() == 10);
    CHECK(c.recv == RecvOp::idle); // ...nor read

    const bool abort = GENERATE(false, true);
    CHECK(rig.rec.host->close(conn, abort ? RINGD_CLOSE_ABORT : RINGD_CLOSE_AFTER_FLUSH) == 0);
    CHECK(rig.rec.events.empty()); // never from inside the host call
    rig.turn(5ms);
    CHECK(rig.rec.events == events({"connect -125", "close 1"})); // -ECANCELED, RINGD_CLOSE_LOCAL
    rig.turn_until_released();                                    // the cancelled connect's completion came in
    CHECK(WorkerTestAccess::stale_completions(rig.worker) == 0);
    CHECK(outbound_failures(*rig.listener) == 1);
    CHECK(outbound_failures(*rig.listener, OutboundFailure::cancelled) == 1);
    CHECK(rig.listener->stats()->totals().outbound_active() == 0);
    CHECK(rig.listener->sockets()->open_outbound == 0);
}

TEST_CASE("a close before the connect's completion is handled also when the connect completes first")
{
    // A Unix connect completes as soon as it is submitted, so its completion is handled in the very turn that
    // would have torn the connection down.
    Rig rig;
    UnixServer server(rig.name + "-server");
    ringd_conn* conn = nullptr;
    REQUIRE(rig.connect(&server.address, server.address_len, &conn) == 0);
    CHECK(rig.rec.host->close(conn, RINGD_CLOSE_AFTER_FLUSH) == 0);
    rig.turn(5ms);
    CHECK(rig.rec.events == events({"connect -125", "close 1"}));
    rig.turn_until_released();
    CHECK(WorkerTestAccess::stale_completions(rig.worker) == 0);
}

TEST_CASE("a failed connect reports its error, then on_close(RINGD_CLOSE_ERROR) in the same turn")
{
    Rig rig;
    ringd_conn* conn = nullptr;
    SECTION("refused")
    {
        UnixServer nobody(rig.name + "-nobody", /*listening=*/false);
        REQUIRE(rig.connect(&nobody.address, nobody.address_len, &conn) == 0);
        rig.turn_until([&] { return !rig.rec.events.empty(); });
        CHECK(rig.rec.events == events({"connect -111", "close 3"})); // ECONNREFUSED
        CHECK(outbound_failures(*rig.listener, OutboundFailure::refused) == 1);
    }
    SECTION("refused, and the plugin closes in on_connect: still an error")
    {
        rig.rec.close_in_on_connect = true;
        UnixServer nobody(rig.name + "-nobody", /*listening=*/false);
        REQUIRE(rig.connect(&nobody.address, nobody.address_len, &conn) == 0);
        rig.turn_until([&] { return !rig.rec.events.empty(); });
        CHECK(rig.rec.events == events({"connect -111", "close 3"}));
    }
    SECTION("timed out")
    {
        SilentTcpListener blackhole;
        blackhole.fill();
        const auto started = Clock::now();
        REQUIRE(rig.connect(&blackhole.address, sizeof blackhole.address, &conn, /*timeout_ms=*/50) == 0);
        rig.turn_until([&] { return !rig.rec.events.empty(); });
        CHECK(Clock::now() - started >= 50ms);
        CHECK(rig.rec.events == events({"connect -110", "close 3"})); // ETIMEDOUT
        CHECK(outbound_failures(*rig.listener, OutboundFailure::timeout) == 1);
    }
    rig.turn_until_released();
    CHECK(outbound_failures(*rig.listener) == 1);
    CHECK(rig.listener->sockets()->open_outbound == 0);
}

TEST_CASE("a shutdown while connecting cancels the connect")
{
    Rig rig;
    SilentTcpListener blackhole;
    blackhole.fill();
    ringd_conn* conn = nullptr;
    REQUIRE(rig.connect(&blackhole.address, sizeof blackhole.address, &conn) == 0);
    rig.turn(5ms);
    rig.worker.begin_shutdown(Clock::now() + 5s);
    CHECK(rig.rec.events == events({"connect -125", "close 4"})); // RINGD_CLOSE_SHUTDOWN
    ringd_conn* late = nullptr;
    CHECK(rig.connect(&blackhole.address, sizeof blackhole.address, &late) == -ESHUTDOWN);
    CHECK(late == nullptr);
    rig.turn_until_released();
}

TEST_CASE("connect refuses bad requests, calls off the worker, and connects beyond max_outbound_connections")
{
    Rig rig(/*max_outbound=*/1);
    SilentTcpListener blackhole;
    blackhole.fill();
    ringd_conn* conn = nullptr;
    sockaddr_in short_address = blackhole.address;
    CHECK(rig.connect(&short_address, sizeof(sockaddr_in) - 1, &conn) == -EINVAL);
    sockaddr_in wrong_family = blackhole.address;
    wrong_family.sin_family = AF_PACKET;
    CHECK(rig.connect(&wrong_family, sizeof wrong_family, &conn) == -EINVAL);
    ringd_connect_request small{};
    small.struct_size = offsetof(ringd_connect_request, user); // below ABI 1.1's struct
    small.address = reinterpret_cast<const sockaddr*>(&blackhole.address);
    small.address_len = sizeof blackhole.address;
    CHECK(rig.rec.host->connect(rig.rec.self, &small, &conn) == -EINVAL);
    ringd_listener stranger{"stranger"};
    ringd_connect_request request = small;
    request.struct_size = sizeof request;
    CHECK(rig.rec.host->connect(&stranger, &request, &conn) == -ESHUTDOWN); // serves nowhere on this worker
    int off_worker = 0;
    std::thread([&] { off_worker = rig.rec.host->connect(rig.rec.self, &request, &conn); }).join();
    CHECK(off_worker == -EPERM);
    CHECK(conn == nullptr);
    CHECK(WorkerTestAccess::connections(rig.worker) == 0);

    REQUIRE(rig.connect(&blackhole.address, sizeof blackhole.address, &conn) == 0);
    ringd_conn* second = nullptr;
    CHECK(rig.connect(&blackhole.address, sizeof blackhole.address, &second) == -EAGAIN);
    CHECK(rig.listener->stats()->totals().outbound_failed[std::size_t(OutboundFailure::limit)] == 1);
    CHECK(rig.rec.host->close(conn, RINGD_CLOSE_ABORT) == 0);
    rig.turn(5ms);
    // The closed one no longer counts.
    CHECK(rig.connect(&blackhole.address, sizeof blackhole.address, &second) == 0);
}
