// The test kit's instance lifecycle: loading (from a .so and linked, with ringd's checks), create() and its
// config errors, destroy() exactly once (a NULL instance too), reload with handover (main thread first, then
// each worker right after on_worker_start; old connections stay on the old instance until they close), and stop.
#include "testkit_probe.hpp"

#include <catch2/catch.hpp>

#if !defined(ECHO_UPPER_PLUGIN) || !defined(ABI_1_0_PLUGIN)
#error "ECHO_UPPER_PLUGIN and ABI_1_0_PLUGIN must name the built echo-upper.so and a plugin built against ABI 1.0"
#endif

using namespace ringd::testkit;

TEST_CASE("loading: a .so as ringd loads it, and its refusals", "[testkit][lifecycle]")
{
    const Plugin echo = Plugin::load(ECHO_UPPER_PLUGIN);
    CHECK(echo.name() == "echo-upper");
    CHECK(echo.descriptor().abi_minor == RINGD_PLUGIN_ABI_MINOR);
    const Plugin old = Plugin::load(ABI_1_0_PLUGIN); // built with the frozen 1.0 header: the rest reads as zero
    CHECK(old.descriptor().abi_minor == 0);
    CHECK(old.descriptor().on_handover == nullptr);
    CHECK(old.descriptor().on_connect == nullptr);
    CHECK_THROWS_WITH(Plugin::load("/nonexistent/x.so"), Catch::StartsWith("cannot load plugin /nonexistent/x.so"));
    CHECK_THROWS_AS(Plugin::linked(nullptr), LoadError);
    ringd_plugin_descriptor other_abi = probe::plugin().descriptor();
    other_abi.abi_version = 2;
    CHECK_THROWS_WITH(Plugin::linked(&other_abi), Catch::Contains("built for plugin ABI 2"));
    ringd_plugin_descriptor tiny = probe::plugin().descriptor();
    tiny.struct_size = 16;
    CHECK_THROWS_WITH(Plugin::linked(&tiny), Catch::Contains("too small"));
}

TEST_CASE("create() refusals surface as ConfigError with the key", "[testkit][lifecycle]")
{
    const int destroys = probe::destroys();
    try {
        Kit kit(probe::plugin(), "fail: yes");
        FAIL("create() should have refused");
    } catch (const ConfigError& e) {
        CHECK(std::string(e.what()) == "probe refuses");
        CHECK(e.key() == "fail");
    }
    CHECK_THROWS_WITH(Kit(probe::plugin(), "throw"), "plugin probe threw from create()");
    CHECK(probe::destroys() == destroys); // no destroy() for a create() that failed
    CHECK_THROWS_WITH(Kit(Plugin::load(ECHO_UPPER_PLUGIN), "{}", {.kind = Kind::datagram}),
                      "plugin echo-upper does not serve datagram (udp) listeners");
    CHECK_THROWS_AS(Kit(probe::plugin(), "{}", {.workers = 0}), std::invalid_argument);
}

TEST_CASE("destroy() runs exactly once per successful create(), a NULL instance included", "[testkit][lifecycle]")
{
    const int destroys = probe::destroys();
    const int null_destroys = probe::null_destroys();
    {
        Kit kit(probe::plugin());
        kit.stop();
        CHECK(probe::destroys() == destroys + 1);
        kit.stop();
    }
    CHECK(probe::destroys() == destroys + 1);
    {
        Kit stateless(probe::plugin(), "stateless");
        auto c = stateless.open();
        c.feed("echo ignored");
        CHECK(c.output().empty());
    }
    CHECK(probe::null_destroys() == null_destroys + 1);
}

TEST_CASE("reload: handover on the main thread, then on each worker after on_worker_start", "[testkit][lifecycle]")
{
    Kit kit(probe::plugin(), "prefix: old>", {.workers = 2});
    auto old0 = kit.open({.worker = 0});
    kit.clear_logs();
    kit.reload(probe::plugin_v2(), "prefix: new>");
    CHECK(probe::notes(kit) == std::vector<std::string>{
                                   "create on test workers 2 host minor 1",
                                   "handover main from 0.1 inherited old> index 0", "worker start 0 index 0",
                                   "handover 0 from 0.1 inherited old> index 0", "worker start 1 index 1",
                                   "handover 1 from 0.1 inherited old> index 1",
                                   "worker stop 1 index 1", // the old instance has nothing on worker 1
                               });
    auto new0 = kit.open({.worker = 0});
    new0.feed("echo a");
    old0.feed("echo a");
    CHECK(new0.take_output() == "new>a");
    CHECK(old0.take_output() == "old>a"); // old connections stay on the old instance's code
    CHECK(kit.metric("opens") == 1);      // the new instance's own metrics
    const int destroys = probe::destroys();
    kit.clear_logs();
    old0.peer_shutdown();
    CHECK(probe::notes(kit) == std::vector<std::string>{"fin " + std::to_string(old0.id()),
                                                        "close " + std::to_string(old0.id()) + " reason 0 on 0",
                                                        "worker stop 0 index 0"});
    CHECK(probe::destroys() == destroys + 1); // after its last connection
}

TEST_CASE("reload: a refused config keeps the old instance serving", "[testkit][lifecycle]")
{
    Kit kit(probe::plugin(), "prefix: old>");
    CHECK_THROWS_AS(kit.reload("fail"), ConfigError);
    auto c = kit.open();
    c.feed("echo x");
    CHECK(c.take_output() == "old>x");
}

TEST_CASE("reload: a retired instance's post_worker task finds it stopped (-ESRCH)", "[testkit][lifecycle]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2, .deliver_after_each_step = false});
    auto old1 = kit.open({.worker = 1});
    kit.reload("{}");
    old1.feed("post_worker 0 late"); // the old instance stopped on worker 0 at the reload
    old1.feed("post_worker 1 here");
    kit.run();
    CHECK(probe::notes(kit, "worker task") ==
          std::vector<std::string>{"worker task late on 0 status -3", "worker task here on 1 status 0"});
}

TEST_CASE("stop: connections closed with SHUTDOWN, queued tasks still run, then destroy", "[testkit][lifecycle]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2, .deliver_after_each_step = false});
    auto a = kit.open({.worker = 0});
    auto b = kit.open({.worker = 1});
    a.feed("post " + std::to_string(b.id()) + " last");
    kit.close_all();
    CHECK(b.close_reason() == RINGD_CLOSE_SHUTDOWN);
    auto c = kit.open(); // the listener still serves after close_all()
    CHECK_FALSE(c.closed());
    kit.stop();
    CHECK(c.close_reason() == RINGD_CLOSE_SHUTDOWN);
    CHECK(probe::notes(kit, "task") == std::vector<std::string>{"task last null on 1"});
    CHECK_THROWS_AS(kit.run(), std::logic_error);
}
