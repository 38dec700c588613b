// The test kit's simulated workers and ABI 1.1's cross-connection calls, driven through the probe plugin:
// worker hooks and indexes, send_to / close_id / post / post_worker with their ordering and error semantics,
// the thread rule (-EPERM), for_each_connection, a plugin thread, outbound connections, worker timers,
// datagrams and metrics.
#include "testkit_probe.hpp"

#include <catch2/catch.hpp>

using namespace ringd::testkit;

namespace {

std::string id_of(const Connection& c)
{
    return std::to_string(c.id());
}

} // namespace

TEST_CASE("every worker starts the instance; callbacks run on their connection's worker", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 3, .listener_name = "w3"});
    CHECK(probe::notes(kit, "create") == std::vector<std::string>{"create on w3 workers 3 host minor 1"});
    CHECK(probe::notes(kit, "worker start") ==
          std::vector<std::string>{"worker start 0 index 0", "worker start 1 index 1", "worker start 2 index 2"});
    auto a = kit.open();
    auto b = kit.open();
    auto c = kit.open({.worker = 1});
    CHECK(a.worker() == 0);
    CHECK(b.worker() == 1); // round robin
    CHECK(c.worker() == 1);
    c.feed("worker");
    CHECK(c.take_output() == "1");
    CHECK_THROWS_AS(kit.open({.worker = 3}), std::invalid_argument);
    kit.stop();
    CHECK(probe::notes(kit, "worker stop") ==
          std::vector<std::string>{"worker stop 0 index 0", "worker stop 1 index 1", "worker stop 2 index 2"});
    CHECK_THROWS_AS(kit.open(), std::logic_error);
}

TEST_CASE("datagrams: a handle kept past its on_datagram is refused", "[testkit][datagram]")
{
    Kit kit(probe::plugin(), "{}", {.kind = Kind::datagram, .throw_on_misuse = false});
    CHECK(kit.datagram("keep").size() == 1);
    CHECK(kit.datagram("use_kept").empty());
    CHECK(probe::notes(kit, "kept") == std::vector<std::string>{"kept rc=" + std::to_string(-EINVAL)});
    REQUIRE(kit.misuses().size() == 1);
    CHECK_THAT(kit.misuses()[0], Catch::Contains("handle of an earlier on_datagram"));
}

TEST_CASE("send_to across workers is a message; on the connection's own worker it is queued at once",
          "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2, .deliver_after_each_step = false});
    auto a = kit.open({.worker = 0});
    auto b = kit.open({.worker = 1});
    auto a2 = kit.open({.worker = 0});
    a.feed("send_to " + id_of(b) + " one");
    a.feed("send_to " + id_of(b) + " two");
    CHECK(a.take_output() == "rc=0rc=0");
    CHECK(b.output().empty()); // on its way to worker 1
    a.feed("send_to " + id_of(a2) + " near");
    CHECK(a2.take_output() == "near"); // same worker: exactly like send()
    kit.run();
    CHECK(b.take_output() == "onetwo"); // in the order one thread sent them
}

TEST_CASE("send_to, close_id and post: -EINVAL, -ENOENT, -EPIPE", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 0});
    auto gone = kit.open({.worker = 1});
    gone.reset();
    auto closing = kit.open({.worker = 1, .hold_output = true});
    closing.feed("big 10");
    closing.feed("close");
    REQUIRE(closing.closing());
    a.feed("send_to 0 x");
    CHECK(a.take_output() == "rc=-22");
    a.feed("send_to " + std::to_string(a.id() + 1000) + " x"); // never issued
    CHECK(a.take_output() == "rc=-22");
    a.feed("send_to " + id_of(gone) + " x");
    CHECK(a.take_output() == "rc=-2");
    a.feed("send_to " + id_of(closing) + " x");
    CHECK(a.take_output() == "rc=-32");
    a.feed("close_id " + id_of(gone));
    CHECK(a.take_output() == "rc=-2");
    a.feed("post " + id_of(gone) + " late");
    CHECK(a.take_output() == "rc=-2");
    CHECK(probe::notes(kit, "task").empty()); // -ENOENT: the task never runs
    a.feed("post_worker 2 nowhere");
    CHECK(a.take_output() == "rc=-22");
}

TEST_CASE("close_id from another worker closes the connection there", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 0});
    auto b = kit.open({.worker = 1});
    a.feed("close_id " + id_of(b) + " abort");
    CHECK(b.closed());
    CHECK(b.was_reset());
    CHECK(probe::notes(kit, "close") == std::vector<std::string>{"close " + id_of(b) + " reason 1 on 1"});
}

TEST_CASE("post runs on the connection's worker, after what was sent before; NULL once it is gone",
          "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2, .deliver_after_each_step = false});
    auto a = kit.open({.worker = 0});
    auto b = kit.open({.worker = 1});
    a.feed("send_to " + id_of(b) + " first.");
    a.feed("post " + id_of(b) + " hello");
    kit.run();
    CHECK(b.take_output() == "first.task:hello");
    CHECK(probe::notes(kit, "task") == std::vector<std::string>{"task hello conn " + id_of(b) + " on 1"});

    a.feed("post " + id_of(b) + " orphan");
    b.reset(); // gone before the task arrives: it still runs, with NULL, so it can free its argument
    kit.run();
    CHECK(probe::notes(kit, "task").back() == "task orphan null on 1");
}

TEST_CASE("post_worker runs on that worker with status 0", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 0});
    a.feed("post_worker 1 job");
    CHECK(a.take_output() == "rc=0");
    CHECK(probe::notes(kit, "worker task") == std::vector<std::string>{"worker task job on 1 status 0"});
}

TEST_CASE("the thread rule: a connection's functions from another worker fail with -EPERM", "[testkit][workers]")
{
    {
        Kit kit(probe::plugin(), "{}", {.workers = 2});
        auto a = kit.open({.worker = 0});
        auto b = kit.open({.worker = 1});
        CHECK_THROWS_AS(a.feed("touch " + id_of(b)), Misuse);
        CHECK(a.take_output() == "rc=-1");
        CHECK(b.output().empty());
    }
    Kit kit(probe::plugin(), "{}", {.workers = 2, .throw_on_misuse = false});
    auto a = kit.open({.worker = 0});
    auto same = kit.open({.worker = 0});
    auto b = kit.open({.worker = 1});
    a.feed("touch " + id_of(same)); // another connection of the same worker: allowed
    CHECK(same.take_output() == "poke");
    a.feed("touch " + id_of(b));
    CHECK(a.take_output() == "rc=0rc=-1");
    REQUIRE(kit.misuses().size() == 1);
    CHECK_THAT(kit.misuses()[0], Catch::Contains("send() for connection " + id_of(b) + " of worker 1 from worker 0"));
}

TEST_CASE("for_each_connection: this instance's open connections on the calling worker", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 0});
    auto b = kit.open({.worker = 0});
    auto elsewhere = kit.open({.worker = 1});
    auto closing = kit.open({.worker = 0, .hold_output = true});
    closing.feed("big 5");
    closing.feed("close");
    a.feed("broadcast hi");
    CHECK(probe::notes(kit, "broadcast") == std::vector<std::string>{"broadcast reached 2"});
    CHECK(a.take_output() == "hi");
    CHECK(b.take_output() == "hi");
    CHECK(elsewhere.output().empty());
}

TEST_CASE("a plugin thread's send_to is delivered by the next step or run()", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 0});
    auto b = kit.open({.worker = 1});
    a.feed("thread " + id_of(b) + " from-thread");
    CHECK(a.take_output() == "rc=0");
    CHECK(b.take_output() == "from-thread");
    a.feed("thread 0 x");
    CHECK(a.take_output() == "rc=-22");
}

TEST_CASE("outbound: connect, queued sends, accept", "[testkit][outbound]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 1});
    a.feed("connect 127.0.0.1:9000");
    CHECK(a.take_output() == "rc=0");
    auto pending = kit.pending_connects();
    REQUIRE(pending.size() == 1);
    auto up = pending[0];
    CHECK(up.connecting());
    CHECK(up.worker() == 1);
    CHECK(up.address() == "127.0.0.1:9000");
    CHECK(up.connect_timeout_ms() == 500);
    CHECK(up.output().empty()); // "early " waits for the connection
    up.accept();
    CHECK(kit.pending_connects().empty());
    CHECK(up.take_output() == "early hello");
    CHECK(probe::notes(kit, "connect") == std::vector<std::string>{"connect " + id_of(up) + " error 0 on 1"});
    up.feed("echo upstream");
    CHECK(up.take_output() == "upstream");
}

TEST_CASE("outbound: refused, timed out, too many, and not from the main thread", "[testkit][outbound]")
{
    Kit kit(probe::plugin(), "{}", {.max_outbound_connections = 2});
    auto a = kit.open();
    a.feed("connect 127.0.0.1:9000");
    a.feed("connect unix:/run/x.sock");
    a.feed("connect 127.0.0.1:9002");
    CHECK(a.take_output() == "rc=0rc=0rc=-11"); // EAGAIN: max_outbound_connections
    auto pending = kit.pending_connects();
    REQUIRE(pending.size() == 2);
    CHECK(pending[1].address() == "unix:/run/x.sock");
    pending[0].refuse();
    CHECK(pending[0].closed());
    CHECK(pending[0].close_reason() == RINGD_CLOSE_ERROR);
    kit.advance(499);
    CHECK(pending[1].connecting());
    kit.advance(1);
    CHECK(pending[1].closed());
    const auto outcomes = probe::notes(kit, "connect");
    REQUIRE(outcomes.size() == 2);
    CHECK_THAT(outcomes[0], Catch::Contains("error " + std::to_string(-ECONNREFUSED)));
    CHECK_THAT(outcomes[1], Catch::Contains("error " + std::to_string(-ETIMEDOUT)));
    CHECK(kit.host()->connect != nullptr);
}

TEST_CASE("worker timers fire on their worker; dropped once the instance stops there", "[testkit][workers]")
{
    Kit kit(probe::plugin(), "{}", {.workers = 2});
    auto a = kit.open({.worker = 1});
    a.feed("wtimer 30");
    CHECK(a.take_output() == "rc=1");
    kit.advance(30);
    CHECK(probe::notes(kit, "worker timer") == std::vector<std::string>{"worker timer 1 on 1"});
    a.feed("wtimer 30");
    kit.reload("{}");
    a.reset(); // the old instance's last connection on worker 1: it stops there, its timer is dropped
    kit.advance(100);
    CHECK(probe::notes(kit, "worker timer").size() == 1);
}

TEST_CASE("datagrams: replies with their destination, a full send queue, the worker", "[testkit][datagram]")
{
    Kit kit(probe::plugin(), "prefix: >", {.workers = 2, .kind = Kind::datagram});
    auto sent = kit.datagram("ping", "[::1]:5353", 1);
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].payload == ">ping");
    CHECK(sent[0].to == "[::1]:5353");
    CHECK(probe::notes(kit, "datagram") == std::vector<std::string>{"datagram on 1 rc=0"});
    sent = kit.datagram("to 10.1.2.3:99");
    REQUIRE(sent.size() == 1);
    CHECK(sent[0].to == "10.1.2.3:99");
    kit.set_datagram_queue_full(true);
    CHECK(kit.datagram("ping").empty());
    CHECK(probe::notes(kit, "datagram").back() == "datagram on 1 rc=-105");
    CHECK_THROWS_AS(kit.open(), std::logic_error);
}

TEST_CASE("metrics: registered in create, summed on read; registration's errors", "[testkit][metrics]")
{
    Kit kit(probe::plugin(), "metric-checks", {.workers = 2, .throw_on_misuse = false});
    // Bad names, a name taken, a bad kind; then 64 metrics at most (2 + 62 here, the 63rd fails).
    CHECK(probe::notes(kit, "metric checks") == std::vector<std::string>{"metric checks -22 -22 -17 -22 -22 -28"});
    auto a = kit.open();
    (void)kit.open();
    a.reset();
    CHECK(kit.metric("opens") == 2);
    CHECK(kit.metric("live") == 1);
    CHECK(kit.metric("m61") == 0);
    CHECK_THROWS_WITH(kit.metric("nope"), Catch::StartsWith("no metric \"nope\" (registered: opens, live, m0"));
    auto b = kit.open();
    b.feed("register");
    CHECK(b.take_output() == "rc=-1"); // only during create()
    CHECK(kit.misuses().size() == 1);
}

TEST_CASE("an older host: the table ends at its struct_size", "[testkit]")
{
    Kit kit(probe::plugin(), "{}", {.host_struct_size = offsetof(ringd_host, abi_minor)});
    CHECK(probe::notes(kit, "create") == std::vector<std::string>{"create on test workers 1 host minor 0"});
    CHECK(kit.host()->send_to == nullptr);
    CHECK_FALSE(RINGD_HOST_HAS(kit.host(), send_to));
}
