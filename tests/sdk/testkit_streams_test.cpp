// The test kit's stream connections, driven through the probe plugin: input order and pauses, the output
// "kernel" (held output, drain, on_output_drained, backpressure, owned buffers), closes and their reasons,
// failures, misuse, timers and idle timeouts in virtual time, spawn.
#include "testkit_probe.hpp"

#include <catch2/catch.hpp>

using namespace ringd::testkit;

TEST_CASE("a connection echoes, then closes after flush with FIN", "[testkit]")
{
    Kit kit(probe::plugin(), "prefix: >");
    auto c = kit.open();
    c.feed("echo hello");
    CHECK(c.take_output() == ">hello");
    CHECK(c.output().empty());
    c.peer_shutdown();
    CHECK(c.take_output() == "bye");
    CHECK(c.closed());
    CHECK(c.fin_sent());
    CHECK_FALSE(c.was_reset());
    CHECK(c.close_reason() == RINGD_CLOSE_PEER); // closed after the peer's FIN
    CHECK(probe::notes(kit, "close") == std::vector<std::string>{"close " + std::to_string(c.id()) + " reason 0 on 0"});
    CHECK_THROWS_AS(c.feed("echo again"), std::logic_error);
}

TEST_CASE("close, abort and the peer's reset", "[testkit]")
{
    Kit kit(probe::plugin());
    auto closed = kit.open();
    closed.feed("close");
    CHECK(closed.closed());
    CHECK(closed.close_reason() == RINGD_CLOSE_LOCAL);
    CHECK(closed.fin_sent());

    auto aborted = kit.open({.hold_output = true});
    aborted.feed("big 100");
    aborted.feed("abort");
    CHECK(aborted.closed());
    CHECK(aborted.was_reset());
    CHECK(aborted.close_reason() == RINGD_CLOSE_LOCAL);
    CHECK(aborted.drain() == 0); // the queued output was dropped

    auto reset = kit.open();
    reset.reset();
    CHECK(reset.close_reason() == RINGD_CLOSE_PEER);
    CHECK(reset.was_reset());
}

TEST_CASE("input is held while reading is paused; resume delivers it as one read, then the held FIN", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open();
    c.feed("pause_for 10");
    CHECK(c.paused());
    c.feed("echo ");
    c.feed("x");
    c.peer_shutdown();
    CHECK(probe::notes(kit, "data").size() == 1);
    CHECK(probe::notes(kit, "fin").empty());
    // A task reaches a paused connection all the same.
    auto other = kit.open();
    other.feed("post " + std::to_string(c.id()) + " wake");
    CHECK(c.take_output() == "task:wake");
    kit.advance(10); // the probe's timer resumes reading
    CHECK_FALSE(c.paused());
    CHECK(probe::notes(kit, "data").back() == "data " + std::to_string(c.id()) + " echo x");
    CHECK(probe::notes(kit, "fin").size() == 1);
    CHECK(c.take_output() == "xbye");
    CHECK(c.closed());
}

TEST_CASE("feed segmentations reach on_data read by read", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open();
    c.feed_split("echo abcdef", {5, 3});
    CHECK(probe::notes(kit, "data") == std::vector<std::string>{"data " + std::to_string(c.id()) + " echo ",
                                                                "data " + std::to_string(c.id()) + " abc",
                                                                "data " + std::to_string(c.id()) + " def"});
    CHECK_THROWS_AS(c.feed_split("ab", {3}), std::invalid_argument);
    auto closes = kit.open();
    closes.feed_split("closeecho late", {5}); // the plugin closes after the first read: the rest goes nowhere
    CHECK(closes.closed());
    CHECK(probe::notes(kit, "data " + std::to_string(closes.id())).size() == 1);
    kit.clear_logs();
    c.feed_bytewise("xyz");
    CHECK(probe::notes(kit, "data").size() == 3);
}

TEST_CASE("held output: queued_output, drain, on_output_drained at the low-water mark", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open({.hold_output = true});
    c.feed("big 1000");
    CHECK(c.queued_output() == 1000);
    CHECK(c.output().empty());
    c.feed("queued");
    CHECK(c.queued_output() == 1000 + std::string("queued=1000").size());
    c.feed("notify 100");
    CHECK(probe::notes(kit, "drained").empty());
    CHECK(c.drain(500) == 500);
    CHECK(probe::notes(kit, "drained").empty());
    CHECK(c.drain(450) == 450);
    CHECK(probe::notes(kit, "drained") == std::vector<std::string>{"drained " + std::to_string(c.id()) + " queued 61"});
    c.drain();
    CHECK(c.take_output() == std::string(1000, 'x') + "queued=1000");
    CHECK(probe::notes(kit, "drained").size() == 1); // one-shot
    // Armed when already below: fires at the next settle, never inside the call.
    c.feed("notify 0");
    CHECK(probe::notes(kit, "drained").size() == 2);
}

TEST_CASE("owned buffers are freed once the kernel took all of them, or after on_close", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open({.hold_output = true});
    c.feed("owned abcdef");
    CHECK_FALSE(kit.logged("freed"));
    c.drain(3);
    CHECK_FALSE(kit.logged("freed"));
    c.drain(3);
    CHECK(kit.logged("freed abcdef"));
    c.feed("owned gone");
    c.reset();
    const auto lines = probe::notes(kit);
    const auto close_at = std::find_if(lines.begin(), lines.end(), [](auto& l) { return l.starts_with("close"); });
    const auto freed_at = std::find(lines.begin(), lines.end(), "freed gone");
    REQUIRE(freed_at != lines.end());
    CHECK(close_at < freed_at);
}

TEST_CASE("backpressure: reading stops above max_output_buffer and resumes at half", "[testkit]")
{
    Kit kit(probe::plugin(), "{}", {.max_output_buffer = 1000});
    auto c = kit.open({.hold_output = true});
    c.feed("big 1500");
    CHECK(c.backpressured());
    c.feed("echo held");
    CHECK(probe::notes(kit, "data").size() == 1);
    c.drain(900); // 600 left: still above half
    CHECK(c.backpressured());
    c.drain(100); // 500: resumes, and the held read arrives
    CHECK_FALSE(c.backpressured());
    CHECK(probe::notes(kit, "data").size() == 2);
    c.hold_output(false);
    CHECK(c.take_output().ends_with("held"));
}

TEST_CASE("shutdown_write sends FIN and refuses later sends", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open();
    c.feed("shutdown");
    CHECK(c.take_output() == "last");
    CHECK(probe::notes(kit, "send after") == std::vector<std::string>{"send after shutdown rc=-32"}); // EPIPE
    CHECK(c.fin_sent());
    CHECK_FALSE(c.closed());
}

TEST_CASE("a refused connection is closed at once; on_close still runs", "[testkit]")
{
    Kit kit(probe::plugin(), "prefix: refuse");
    auto c = kit.open();
    CHECK(c.closed());
    CHECK(c.close_reason() == RINGD_CLOSE_LOCAL);
    CHECK(probe::notes(kit, "close").size() == 1);
}

TEST_CASE("a callback that throws aborts its connection only, and is logged", "[testkit]")
{
    Kit kit(probe::plugin());
    auto bad = kit.open();
    auto good = kit.open();
    bad.feed("throw");
    CHECK(bad.closed());
    CHECK(bad.close_reason() == RINGD_CLOSE_ERROR);
    CHECK(bad.was_reset());
    CHECK(kit.logged("plugin probe (<linked probe>) on_data threw: probe on_data threw; connection aborted"));
    good.feed("echo fine");
    CHECK(good.take_output() == "fine");
}

TEST_CASE("misuse: a reservation left open is reported, by exception or in misuses()", "[testkit]")
{
    {
        Kit kit(probe::plugin());
        auto c = kit.open();
        CHECK_THROWS_WITH(c.feed("reserve"), Catch::Contains("between send_reserve() and send_commit()"));
    }
    Kit kit(probe::plugin(), "{}", {.throw_on_misuse = false});
    auto c = kit.open();
    c.feed("reserve");
    REQUIRE(kit.misuses().size() == 1);
    CHECK_THAT(kit.misuses()[0], Catch::Contains("on_data returned between send_reserve()"));
}

TEST_CASE("misuse: a connection used after its on_close returned", "[testkit]")
{
    Kit kit(probe::plugin(), "{}", {.throw_on_misuse = false});
    auto gone = kit.open();
    gone.reset();
    auto c = kit.open();
    c.feed("stale");
    CHECK(probe::notes(kit, "stale") == std::vector<std::string>{"stale rc=" + std::to_string(-EBADF)});
    REQUIRE(kit.misuses().size() == 1);
    CHECK_THAT(kit.misuses()[0], Catch::Contains("after its on_close returned"));
}

TEST_CASE("addresses and peer credentials", "[testkit]")
{
    Kit kit(probe::plugin());
    auto tcp = kit.open({.peer = "[::1]:5555"});
    tcp.feed("addr");
    CHECK(tcp.take_output() == "family=" + std::to_string(AF_INET6) + " cred=" + std::to_string(-ENOTSUP) + " uid=0");
    auto local = kit.open({.peer = "unix:", .credentials = {.pid = 7, .uid = 1234, .gid = 5}});
    local.feed("addr");
    CHECK(local.take_output() == "family=" + std::to_string(AF_UNIX) + " cred=0 uid=1234");
    CHECK_THROWS_AS(kit.open({.peer = "nowhere"}), std::invalid_argument);
}

TEST_CASE("timers fire in virtual time, in order; cancelled and closed ones never", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open();
    c.feed("timer 100");
    c.feed("timer 50");
    c.feed("timer 70");
    CHECK(c.take_output() == "timer=1timer=2timer=3");
    REQUIRE(c.timers().size() == 3);
    CHECK(c.timers()[0].id == 2);
    CHECK(c.timers()[0].due_ms == 50);
    CHECK(c.timers()[2].delay_ms == 100);
    c.feed("cancel 3");
    CHECK(c.take_output() == "rc=0");
    c.feed("cancel 3");
    CHECK(c.take_output() == "rc=-2");
    kit.advance(49);
    CHECK(c.output().empty());
    kit.advance(1);
    CHECK(c.take_output() == "tick");
    CHECK(kit.now() == 50);
    CHECK(kit.advance_to_next_timer());
    CHECK(kit.now() == 100);
    CHECK(probe::notes(kit, "timer") == std::vector<std::string>{"timer 2 at conn " + std::to_string(c.id()),
                                                                 "timer 1 at conn " + std::to_string(c.id())});
    CHECK_FALSE(kit.advance_to_next_timer());
    c.feed("timer 10");
    c.feed("close");
    kit.advance(1000);
    CHECK(probe::notes(kit, "timer").size() == 2);
}

TEST_CASE("idle timeout closes a quiet connection, not one waiting for its command", "[testkit]")
{
    Kit kit(probe::plugin(), "{}", {.idle_timeout_ms = 1000});
    auto quiet = kit.open();
    auto busy = kit.open();
    busy.feed("spawn /bin/sleep 5");
    kit.advance(600);
    quiet.feed("echo still here");
    kit.advance(600);
    CHECK_FALSE(quiet.closed());
    kit.advance(400);
    CHECK(quiet.closed());
    CHECK(quiet.close_reason() == RINGD_CLOSE_IDLE);
    CHECK(quiet.fin_sent());
    CHECK_FALSE(busy.closed());
    busy.complete_spawn(SpawnResult::exited(0));
    kit.advance(1000);
    CHECK(busy.close_reason() == RINGD_CLOSE_IDLE);
}

TEST_CASE("spawn: pending, completed by the test, or decided by a responder", "[testkit]")
{
    Kit kit(probe::plugin());
    auto c = kit.open();
    c.feed("spawn /bin/echo hi");
    CHECK(c.take_output() == "spawn rc=0");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns()[0].argv == std::vector<std::string>{"/bin/echo", "hi"});
    CHECK_FALSE(c.spawns()[0].envp);
    CHECK(c.spawns()[0].timeout_ms == 1000);
    c.complete_spawn(SpawnResult::exited(3, "hi\n"));
    CHECK(c.take_output() == "exit=3 out=hi\n");
    CHECK_THROWS_AS(c.complete_spawn(SpawnResult::exited(0)), std::logic_error);

    kit.on_spawn([](const SpawnCall& call) {
        if (call.argv[0] == "missing") return SpawnReply::refuse(ENOENT);
        if (call.argv[0] == "later") return SpawnReply::later();
        return SpawnReply::finish(SpawnResult::exited(0, call.argv.back()));
    });
    c.feed("spawn missing");
    CHECK(c.take_output() == "spawn rc=-2");
    c.feed("spawn /bin/echo now");
    CHECK(c.take_output() == "spawn rc=0exit=0 out=now"); // after the callback returned, never inside spawn()
    c.feed("spawn later");
    CHECK(c.spawns().size() == 1);
    c.reset(); // ringd kills the child: its completion never comes
    CHECK(c.spawns().empty());

    kit.on_spawn([&kit](const SpawnCall&) {
        kit.on_spawn(nullptr); // replacing itself while it runs
        return SpawnReply::later();
    });
    auto e = kit.open();
    CHECK_THROWS_WITH(e.feed("spawn x"), Catch::Contains("on_spawn() from inside a step"));

    kit.on_spawn([](const SpawnCall&) -> SpawnReply { throw std::runtime_error("responder failed"); });
    auto d = kit.open();
    CHECK_THROWS_WITH(d.feed("spawn x"), "responder failed");
    CHECK(d.take_output() == "spawn rc=-5");
}
