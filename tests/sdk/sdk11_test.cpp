// The C++ SDK's ABI 1.1 layer (plugin.hpp) seen from the host's side: in a 1.0 host every 1.1 helper says
// -ENOSYS instead of calling what is not there; a functor given to post()/post_worker() runs only when the
// connection or the instance is there, and is destroyed in every case; for_each_connection stops when told;
// the new callbacks reach the handler, and their exceptions stay inside the plugin.
#include <catch2/catch.hpp>
#include <cstddef>
#include <ringd/plugin.hpp>
#include <string>
#include <vector>

namespace {

struct Seen {
    std::vector<std::string> events;
    ringd_conn_task_fn conn_task = nullptr;
    ringd_worker_task_fn worker_task = nullptr;
    void* task_arg = nullptr;
    int post_result = 0;
    std::vector<std::pair<ringd_conn*, uint32_t>> closes;
};
Seen seen;

int fake_close(ringd_conn* conn, uint32_t flags)
{
    seen.closes.emplace_back(conn, flags);
    return 0;
}
void fake_log(ringd_listener*, ringd_log_level, const char* msg)
{
    seen.events.emplace_back(std::string("log ") + msg);
}
int fake_post(ringd_listener*, ringd_conn_id, ringd_conn_task_fn fn, void* arg)
{
    if (seen.post_result == 0) {
        seen.conn_task = fn;
        seen.task_arg = arg;
    }
    return seen.post_result;
}
int fake_post_worker(ringd_listener*, uint32_t, ringd_worker_task_fn fn, void* arg)
{
    seen.worker_task = fn;
    seen.task_arg = arg;
    return 0;
}
int fake_for_each(ringd_listener*, int (*fn)(void*, ringd_conn*), void* ctx)
{
    int called = 0;
    for (uintptr_t c = 1; c <= 3; ++c) {
        ++called;
        if (fn(ctx, reinterpret_cast<ringd_conn*>(c)) != 0) break;
    }
    return called;
}

// A 1.1 host, or (with struct_size cut at abi_minor) a 1.0 one that has none of it.
ringd_host make_host(bool v11)
{
    ringd_host h{};
    h.abi_version = RINGD_PLUGIN_ABI_VERSION;
    h.struct_size = v11 ? uint32_t(sizeof h) : uint32_t(offsetof(ringd_host, abi_minor));
    h.log = &fake_log;
    h.close = &fake_close;
    if (v11) {
        h.abi_minor = RINGD_PLUGIN_ABI_MINOR;
        h.post = &fake_post;
        h.post_worker = &fake_post_worker;
        h.for_each_connection = &fake_for_each;
    }
    return h;
}

// Counts how many copies of it are alive, to see a functor destroyed.
struct Tracked {
    static inline int alive = 0;
    Tracked() { ++alive; }
    Tracked(const Tracked&) { ++alive; }
    Tracked(Tracked&&) noexcept { ++alive; }
    ~Tracked() { --alive; }
};

class Modern final : public ringd::Handler {
public:
    using Handler::Handler;
    static std::unique_ptr<Modern> create(const ringd::InstanceArgs& args) { return std::make_unique<Modern>(args); }
    void on_output_drained(ringd::Connection) override { seen.events.emplace_back("drained"); }
    void on_worker_start(uint32_t w) override { seen.events.push_back("start " + std::to_string(w)); }
    void on_worker_timer(int64_t, void*) override { throw std::runtime_error("tick failed"); }
    void on_handover(ringd::Handler& previous, const ringd_handover_info& info) override
    {
        seen.events.push_back(std::string("handover from ") + (&previous == this ? "self" : "other") + " on " +
                              std::to_string(info.worker));
    }
};

const ringd_plugin_descriptor* descriptor()
{
    return ringd::detail::Trampolines<Modern>::descriptor("modern", "1.1", RINGD_KIND_STREAM);
}

Modern* create(const ringd_host& host)
{
    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = RINGD_KIND_STREAM;
    args.listener_name = "modern";
    args.config_yaml = "{}";
    args.config_len = 2;
    args.worker_count = 2;
    args.host = &host;
    void* instance = nullptr;
    ringd_error error{};
    REQUIRE(descriptor()->create(&args, &instance, &error) == 0);
    return static_cast<Modern*>(static_cast<ringd::Handler*>(instance));
}

} // namespace

TEST_CASE("the SDK's descriptor is an ABI 1.1 descriptor", "[sdk][abi11]")
{
    const ringd_plugin_descriptor* d = descriptor();
    CHECK(d->struct_size == sizeof(ringd_plugin_descriptor));
    CHECK(d->abi_minor == RINGD_PLUGIN_ABI_MINOR);
    CHECK(d->on_output_drained != nullptr);
    CHECK(d->on_worker_start != nullptr);
    CHECK(d->on_worker_stop != nullptr);
    CHECK(d->on_worker_timer != nullptr);
    CHECK(d->on_handover != nullptr);
}

TEST_CASE("a 1.1 plugin in a 1.0 host: every 1.1 helper says ENOSYS and calls nothing", "[sdk][abi11]")
{
    seen = {};
    const ringd_host host = make_host(false);
    Modern* h = create(host);
    auto* conn = reinterpret_cast<ringd_conn*>(0x10);
    const ringd::Connection c(&host, conn);
    CHECK(c.id() == 0);
    CHECK(c.queued_output() == -ENOSYS);
    CHECK(c.notify_output_below(0) == -ENOSYS);
    CHECK(h->send_to(1, "x") == -ENOSYS);
    CHECK(h->close(ringd_conn_id(1)) == -ENOSYS);
    Tracked::alive = 0;
    CHECK(h->post(1, [t = Tracked()](ringd::Connection) {}) == -ENOSYS);
    CHECK(h->post_worker(0, [t = Tracked()] {}) == -ENOSYS);
    CHECK(Tracked::alive == 0);
    CHECK(h->for_each_connection([](ringd::Connection) {}) == -ENOSYS);
    CHECK(h->start_worker_timer(5) == -ENOSYS);
    CHECK(h->cancel_worker_timer(1) == -ENOSYS);
    CHECK(h->register_metric("x", RINGD_METRIC_COUNTER, "") == -ENOSYS);
    h->metric_add(0, 1);
    int64_t v = 0;
    CHECK(h->metric_read(0, &v) == -ENOSYS);
    descriptor()->destroy(static_cast<ringd::Handler*>(h));
}

TEST_CASE("post(): the functor runs only with its connection, and is destroyed in every case", "[sdk][abi11]")
{
    seen = {};
    const ringd_host host = make_host(true);
    Modern* h = create(host);
    void* instance = static_cast<ringd::Handler*>(h);
    Tracked::alive = 0;
    int runs = 0;
    auto task = [&runs, t = Tracked()](ringd::Connection) { ++runs; };

    SECTION("the connection is there")
    {
        REQUIRE(h->post(7, task) == 0);
        CHECK(Tracked::alive == 2); // ours and the posted copy
        seen.conn_task(instance, reinterpret_cast<ringd_conn*>(0x20), seen.task_arg);
        CHECK(runs == 1);
    }
    SECTION("the connection was gone: not run, still destroyed")
    {
        REQUIRE(h->post(7, task) == 0);
        seen.conn_task(instance, nullptr, seen.task_arg);
        CHECK(runs == 0);
    }
    SECTION("the post failed: destroyed at once")
    {
        seen.post_result = -ENOENT;
        CHECK(h->post(7, task) == -ENOENT);
        CHECK(runs == 0);
    }
    SECTION("it throws: the connection is aborted, nothing escapes")
    {
        REQUIRE(h->post(7, [t = Tracked()](ringd::Connection) { throw std::runtime_error("task failed"); }) == 0);
        auto* conn = reinterpret_cast<ringd_conn*>(0x30);
        seen.conn_task(instance, conn, seen.task_arg);
        CHECK(seen.closes == std::vector<std::pair<ringd_conn*, uint32_t>>{{conn, RINGD_CLOSE_ABORT}});
    }
    CHECK(Tracked::alive == 1); // only `task` itself
    descriptor()->destroy(instance);
}

TEST_CASE("post_worker(): runs only while the instance serves there; for_each stops when told", "[sdk][abi11]")
{
    seen = {};
    const ringd_host host = make_host(true);
    Modern* h = create(host);
    void* instance = static_cast<ringd::Handler*>(h);
    int runs = 0;
    REQUIRE(h->post_worker(1, [&runs] { ++runs; }) == 0);
    seen.worker_task(instance, seen.task_arg, -ESRCH);
    CHECK(runs == 0);
    REQUIRE(h->post_worker(1, [&runs] { ++runs; }) == 0);
    seen.worker_task(instance, seen.task_arg, 0);
    CHECK(runs == 1);

    std::vector<ringd_conn*> visited;
    CHECK(h->for_each_connection([&](ringd::Connection c) { visited.push_back(c.raw()); }) == 3);
    CHECK(visited.size() == 3);
    visited.clear();
    CHECK(h->for_each_connection([&](ringd::Connection c) {
        visited.push_back(c.raw());
        return visited.size() < 2; // false: stop
    }) == 2);
    descriptor()->destroy(instance);
}

TEST_CASE("the 1.1 callbacks reach the handler; their exceptions stay in the plugin", "[sdk][abi11]")
{
    seen = {};
    const ringd_host host = make_host(true);
    Modern* h = create(host);
    void* instance = static_cast<ringd::Handler*>(h);
    const ringd_plugin_descriptor* d = descriptor();
    d->on_worker_start(instance, 1);
    d->on_output_drained(instance, reinterpret_cast<ringd_conn*>(0x40));
    ringd_handover_info info{sizeof info, RINGD_NO_WORKER, "1.0"};
    d->on_handover(instance, instance, &info);
    d->on_worker_timer(instance, 3, nullptr); // throws inside: logged, nothing else
    CHECK(seen.events == std::vector<std::string>{"start 1", "drained", "handover from self on 4294967295",
                                                  "log on_worker_timer threw: tick failed"});
    CHECK(seen.closes.empty());
    d->destroy(instance);
}
