// The C++ SDK (plugin.hpp) seen from the host's side of the C ABI: exceptions never cross it, config errors
// arrive as message + key, and a throwing callback aborts only its connection through host->close.
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <netinet/in.h>
#include <ringd/plugin.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Recorded {
    std::vector<std::string> logs;
    std::vector<std::pair<ringd_conn*, uint32_t>> closes;
    std::string sent;
};
Recorded rec;

void fake_log(ringd_listener*, ringd_log_level, const char* msg)
{
    rec.logs.emplace_back(msg);
}
int fake_send(ringd_conn*, const void* data, size_t len)
{
    rec.sent.append(static_cast<const char*>(data), len);
    return 0;
}
int fake_close(ringd_conn* conn, uint32_t flags)
{
    rec.closes.emplace_back(conn, flags);
    return 0;
}

ringd_host make_host()
{
    ringd_host h{};
    h.abi_version = RINGD_PLUGIN_ABI_VERSION;
    h.struct_size = sizeof h;
    h.log = &fake_log;
    h.send = &fake_send;
    h.close = &fake_close;
    return h;
}
const ringd_host host = make_host();

class Probe final : public ringd::Handler {
public:
    using Handler::Handler;
    static std::unique_ptr<Probe> create(const ringd::InstanceArgs& args)
    {
        const std::string config(args.config_yaml);
        if (config.find("bad-key") != std::string::npos) throw ringd::ConfigError("limits.burst", "must be positive");
        if (config.find("std") != std::string::npos) throw std::runtime_error("plain failure");
        if (config.find("weird") != std::string::npos) throw 7;
        if (config.find("long") != std::string::npos) {
            throw ringd::ConfigError(std::string(300, 'k'), std::string(2000, 'm'));
        }
        return std::make_unique<Probe>(args);
    }
    bool on_open(ringd::Connection) override { throw std::runtime_error("open failed"); }
    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        const std::string text(reinterpret_cast<const char*>(data.data()), data.size());
        if (text == "boom") throw std::runtime_error("data failed");
        if (text == "weird") throw 42;
        conn.send(text);
    }
    void on_timer(ringd::Connection, int64_t, void*) override { throw std::logic_error("timer failed"); }
};

const ringd_plugin_descriptor* descriptor()
{
    return ringd::detail::Trampolines<Probe>::descriptor("probe", "0.1", RINGD_KIND_STREAM);
}

int create(const std::string& config, void** instance, ringd_error* error)
{
    ringd_listener* listener = nullptr;
    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = RINGD_KIND_STREAM;
    args.listener_name = "probe";
    args.config_yaml = config.c_str();
    args.config_len = config.size();
    args.worker_count = 1;
    args.host = &host;
    args.listener = listener;
    return descriptor()->create(&args, instance, error);
}

} // namespace

TEST_CASE("the SDK's descriptor is a valid ABI 1 descriptor", "[sdk][trampolines]")
{
    const ringd_plugin_descriptor* d = descriptor();
    CHECK(d->abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(d->struct_size == sizeof(ringd_plugin_descriptor));
    CHECK(std::string(d->name) == "probe");
    CHECK(d->create != nullptr);
    CHECK(d->destroy != nullptr);
    CHECK(d->on_data != nullptr);
}

TEST_CASE("create() errors arrive as message and key, never as exceptions", "[sdk][trampolines]")
{
    void* instance = nullptr;
    ringd_error error{};
    SECTION("ConfigError carries its key")
    {
        CHECK(create("bad-key: 1", &instance, &error) != 0);
        CHECK(std::string(error.key) == "limits.burst");
        CHECK(std::string(error.message) == "must be positive");
    }
    SECTION("a std::exception gives its message and no key")
    {
        CHECK(create("std: 1", &instance, &error) != 0);
        CHECK(std::string(error.key).empty());
        CHECK(std::string(error.message) == "plain failure");
    }
    SECTION("anything else is still reported")
    {
        CHECK(create("weird: 1", &instance, &error) != 0);
        CHECK(std::string(error.message) == "unknown error while creating the instance");
    }
    SECTION("overlong texts are truncated and NUL-terminated")
    {
        CHECK(create("long: 1", &instance, &error) != 0);
        CHECK(std::strlen(error.message) == sizeof error.message - 1);
        CHECK(std::strlen(error.key) == sizeof error.key - 1);
    }
    CHECK(instance == nullptr);
}

TEST_CASE("a throwing callback aborts only its connection and is logged", "[sdk][trampolines]")
{
    rec = {};
    void* instance = nullptr;
    ringd_error error{};
    REQUIRE(create("{}", &instance, &error) == 0);
    REQUIRE(instance != nullptr);
    const ringd_plugin_descriptor* d = descriptor();
    auto* conn = reinterpret_cast<ringd_conn*>(0x1234);

    d->on_data(instance, conn, reinterpret_cast<const uint8_t*>("hello"), 5);
    CHECK(rec.sent == "hello");
    CHECK(rec.closes.empty());

    d->on_data(instance, conn, reinterpret_cast<const uint8_t*>("boom"), 4);
    REQUIRE(rec.closes.size() == 1);
    CHECK(rec.closes[0] == std::make_pair(conn, uint32_t(RINGD_CLOSE_ABORT)));
    REQUIRE(rec.logs.size() == 1);
    CHECK(rec.logs[0] == "on_data threw: data failed");

    d->on_data(instance, conn, reinterpret_cast<const uint8_t*>("weird"), 5);
    CHECK(rec.closes.size() == 2);
    CHECK(rec.logs.back() == "on_data threw a non-standard exception");

    d->on_timer(instance, conn, 1, nullptr);
    CHECK(rec.closes.size() == 3);
    CHECK(rec.logs.back() == "on_timer threw: timer failed");

    // on_open: refusing is the return value; the host closes, so the trampoline must not call close itself.
    CHECK(d->on_open(instance, conn) != 0);
    CHECK(rec.closes.size() == 3);
    CHECK(rec.logs.back() == "on_open threw: open failed");

    d->destroy(instance);
}

// ---- outbound connections (ABI 1.1): Handler::connect, on_connect ----

namespace {

struct ConnectSeen {
    const ringd_listener* self = nullptr;
    ringd_connect_request request{};
    int calls = 0;
};
ConnectSeen connect_seen;

int fake_connect(ringd_listener* self, const ringd_connect_request* request, ringd_conn** out)
{
    ++connect_seen.calls;
    connect_seen.self = self;
    connect_seen.request = *request;
    if (request->timeout_ms == 1) return -EAGAIN; // the test's way to ask for a refusal
    *out = reinterpret_cast<ringd_conn*>(0x5678);
    return 0;
}

class Dialer final : public ringd::Handler {
public:
    using Handler::Handler;
    static std::unique_ptr<Dialer> create(const ringd::InstanceArgs& args) { return std::make_unique<Dialer>(args); }
    void on_connect(ringd::Connection, int error) override
    {
        if (error != 0) throw std::runtime_error("connect failed: " + std::to_string(error));
    }
};

// A Dialer created against `table`, with `handle` as its ringd_instance_args.listener.
std::unique_ptr<ringd::Handler> make_dialer(const ringd_host* table, ringd_listener* handle)
{
    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = RINGD_KIND_STREAM;
    args.listener_name = "dialer";
    args.config_yaml = "{}";
    args.config_len = 2;
    args.worker_count = 1;
    args.host = table;
    args.listener = handle;
    void* instance = nullptr;
    ringd_error error{};
    REQUIRE(ringd::detail::Trampolines<Dialer>::descriptor("dialer", "0.1", RINGD_KIND_STREAM)
                ->create(&args, &instance, &error) == 0);
    return std::unique_ptr<ringd::Handler>(static_cast<ringd::Handler*>(instance));
}

} // namespace

TEST_CASE("Handler::connect passes the request and the instance's own handle", "[sdk][trampolines]")
{
    ringd_host with_connect = make_host();
    with_connect.connect = &fake_connect;
    auto* handle = reinterpret_cast<ringd_listener*>(0x42);
    auto dialer = make_dialer(&with_connect, handle);
    connect_seen = {};
    sockaddr_storage address{};
    address.ss_family = AF_INET;
    int user = 0;

    const ringd::ConnectResult ok =
        dialer->connect(reinterpret_cast<sockaddr*>(&address), sizeof(sockaddr_in), 250, &user);
    CHECK(bool(ok));
    CHECK(ok.connection.raw() == reinterpret_cast<ringd_conn*>(0x5678));
    CHECK(connect_seen.self == handle);
    CHECK(connect_seen.request.struct_size == sizeof(ringd_connect_request));
    CHECK(connect_seen.request.timeout_ms == 250);
    CHECK(connect_seen.request.address == reinterpret_cast<sockaddr*>(&address));
    CHECK(connect_seen.request.address_len == sizeof(sockaddr_in));
    CHECK(connect_seen.request.user == &user);

    const ringd::ConnectResult refused = dialer->connect(reinterpret_cast<sockaddr*>(&address), sizeof(sockaddr_in), 1);
    CHECK_FALSE(bool(refused));
    CHECK(refused.error == -EAGAIN);
    CHECK(refused.connection.raw() == nullptr);
}

TEST_CASE("Handler::connect on a 1.0 host is -ENOSYS, calling nothing", "[sdk][trampolines]")
{
    ringd_host old_host = make_host();
    old_host.struct_size = offsetof(ringd_host, abi_minor); // a 1.0 host's table ends before abi_minor
    old_host.connect = &fake_connect;                       // beyond struct_size: must not be called
    auto dialer = make_dialer(&old_host, nullptr);
    connect_seen = {};
    sockaddr_in address{};
    address.sin_family = AF_INET;
    CHECK(dialer->connect(reinterpret_cast<sockaddr*>(&address), sizeof address).error == -ENOSYS);
    CHECK(connect_seen.calls == 0);
}

TEST_CASE("on_connect reaches the handler; when it throws, that connection is aborted", "[sdk][trampolines]")
{
    rec = {};
    ringd_host with_connect = make_host();
    auto dialer = make_dialer(&with_connect, nullptr);
    const ringd_plugin_descriptor* d = ringd::detail::Trampolines<Dialer>::descriptor("dialer", "0.1", 1);
    REQUIRE(d->struct_size >= offsetof(ringd_plugin_descriptor, on_connect) + sizeof d->on_connect);
    REQUIRE(d->on_connect != nullptr);
    CHECK(d->abi_minor == RINGD_PLUGIN_ABI_MINOR);
    auto* conn = reinterpret_cast<ringd_conn*>(0x9abc);
    d->on_connect(dialer.get(), conn, 0);
    CHECK(rec.closes.empty());
    d->on_connect(dialer.get(), conn, -ECONNREFUSED);
    REQUIRE(rec.closes.size() == 1);
    CHECK(rec.closes[0] == std::make_pair(conn, uint32_t(RINGD_CLOSE_ABORT)));
    CHECK(rec.logs.back() == "on_connect threw: connect failed: -111");
}
