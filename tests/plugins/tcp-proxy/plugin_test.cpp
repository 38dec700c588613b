// The built tcp-proxy.so in the plugin test kit (ringd/testkit.hpp): relaying in any segmentation, the client's
// bytes kept across a failed connect, down marking and its log and metrics, all upstreams down, half-close both
// ways, backpressure both ways, and either side closing first at every moment of a pair's life. Through real
// sockets and the real daemon: test_tcp_proxy.py.
#include <catch2/catch.hpp>
#include <ringd/testkit.hpp>
#include <string>
#include <thread>

#ifndef TCP_PROXY_PLUGIN
#error "TCP_PROXY_PLUGIN must name the built tcp-proxy.so"
#endif

using namespace ringd::testkit;

namespace {

const Plugin& plugin()
{
    static const Plugin p = Plugin::load(TCP_PROXY_PLUGIN);
    return p;
}

constexpr const char* two_upstreams = "{upstreams: [tcp://127.0.0.1:9001, tcp://127.0.0.1:9002], buffer: 4KiB}";

Kit proxy(const std::string& yaml = two_upstreams, Options options = {})
{
    return Kit(plugin(), yaml, options);
}

// The one outbound connection waiting for the test to decide it.
Connection pending(Kit& kit)
{
    const auto list = kit.pending_connects();
    REQUIRE(list.size() == 1);
    return list.front();
}

// A client whose upstream is established (the first upstream tried, whichever it is).
std::pair<Connection, Connection> relaying_pair(Kit& kit, const OpenOptions& options = {})
{
    Connection client = kit.open(options);
    Connection upstream = pending(kit);
    upstream.accept();
    return {client, upstream};
}

} // namespace

TEST_CASE("descriptor and config errors", "[tcp_proxy][abi]")
{
    CHECK(std::string(plugin().descriptor().name) == "tcp-proxy");
    CHECK(plugin().descriptor().socket_kinds == RINGD_KIND_STREAM);
    try {
        (void)proxy("{upstreams: [udp://127.0.0.1:9000]}");
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK(e.key() == "upstreams[0]");
    }
    CHECK_THROWS_AS(proxy("{upstreams: [tcp://127.0.0.1:9000]}", {.kind = Kind::datagram}), LoadError);
}

TEST_CASE("bytes are relayed both ways, however they are segmented", "[tcp_proxy]")
{
    Kit kit = proxy();
    Connection client = kit.open();
    Connection upstream = pending(kit);
    CHECK(upstream.connect_timeout_ms() == 2000);
    client.feed_split("before the connect", {1, 5});
    CHECK(upstream.output().empty()); // kept by the proxy until an upstream accepts
    upstream.accept();
    CHECK(upstream.take_output() == "before the connect");
    client.feed_bytewise("byte by byte");
    upstream.feed_split("and back", {3});
    CHECK(upstream.take_output() == "byte by byte");
    CHECK(client.take_output() == "and back");
    CHECK(kit.metric("connections") == 1);
    CHECK(kit.metric("bytes_to_upstream") == 30);
    CHECK(kit.metric("bytes_to_client") == 8);
}

TEST_CASE("send_proxy: the PROXY header comes first on every upstream connection, before early bytes",
          "[tcp_proxy][send_proxy]")
{
    Kit v1 = proxy("{upstreams: [tcp://127.0.0.1:9001, tcp://127.0.0.1:9002], send_proxy: v1}",
                   {.local_address = "127.0.0.1:7000"});
    Connection client = v1.open({.peer = "127.0.0.9:40001"});
    client.feed("early");
    pending(v1).refuse(); // the next upstream gets its own header, again first
    Connection upstream = pending(v1);
    upstream.accept();
    CHECK(upstream.take_output() == "PROXY TCP4 127.0.0.9 127.0.0.1 40001 7000\r\nearly");
    client.feed("later");
    CHECK(upstream.take_output() == "later");
    CHECK(v1.metric("bytes_to_upstream") == 10); // the header is not relayed bytes

    Kit v2 = proxy("{upstreams: [tcp://127.0.0.1:9001], send_proxy: v2}", {.local_address = "[::1]:7001"});
    Connection client6 = v2.open({.peer = "[::2]:40002"});
    Connection upstream6 = pending(v2);
    upstream6.accept();
    client6.feed("x");
    const std::string out = upstream6.take_output();
    const std::string signature("\r\n\r\n\0\r\nQUIT\n", 12);
    REQUIRE(out.size() == 16 + 36 + 1);
    CHECK(out.substr(0, 12) == signature);
    CHECK(uint8_t(out[12]) == 0x21); // v2, PROXY
    CHECK(uint8_t(out[13]) == 0x21); // TCP over IPv6
    CHECK(uint8_t(out[14]) == 0);
    CHECK(uint8_t(out[15]) == 36);
    CHECK(uint8_t(out[16 + 15]) == 2); // source ::2
    CHECK(uint8_t(out[16 + 31]) == 1); // destination ::1
    CHECK(uint8_t(out[48]) * 256 + uint8_t(out[49]) == 40002);
    CHECK(uint8_t(out[50]) * 256 + uint8_t(out[51]) == 7001);
    CHECK(out.back() == 'x');

    Kit off = proxy("{upstreams: [tcp://127.0.0.1:9001]}");
    Connection plain = off.open();
    Connection plain_up = pending(off);
    plain_up.accept();
    plain.feed("y");
    CHECK(plain_up.take_output() == "y");
}

TEST_CASE("a refused upstream is marked down once, and the client's bytes go to the next", "[tcp_proxy]")
{
    Kit kit = proxy();
    Connection client = kit.open();
    client.feed("early bytes");
    Connection first = pending(kit);
    first.refuse(-ECONNREFUSED);
    Connection second = pending(kit);
    CHECK(second.address() != first.address());
    second.accept();
    CHECK(second.take_output() == "early bytes");
    CHECK(kit.metric("upstream_connect_failures") == 1);
    CHECK(kit.metric("upstreams_down") == 1);
    CHECK(kit.logged("upstream tcp://" + first.address() + " is down (connect: Connection refused)"));

    // While it is down, every client goes to the other one, and nothing more is logged.
    kit.clear_logs();
    for (int i = 0; i < 4; ++i) {
        kit.open();
        Connection next = pending(kit);
        CHECK(next.address() == second.address());
        next.accept();
    }
    CHECK(kit.logs().empty());
}

TEST_CASE("an upstream is tried again after down_time, and a success ends the outage", "[tcp_proxy]")
{
    Kit kit = proxy("{upstreams: [tcp://127.0.0.1:9001], down_time: 30ms}");
    Connection a = kit.open();
    pending(kit).refuse();
    CHECK(a.closed()); // the only upstream failed
    Connection b = kit.open();
    CHECK(kit.pending_connects().empty()); // down: not even tried
    CHECK(b.closed());
    CHECK(kit.metric("clients_without_upstream") == 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(40)); // the plugin's clock is the real one
    kit.open();
    pending(kit).refuse(-ETIMEDOUT); // tried again, still failing: still one outage
    CHECK(kit.metric("upstreams_down") == 1);
    CHECK(kit.metric("upstream_connect_failures") == 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(40));
    (void)relaying_pair(kit);
    CHECK(kit.metric("upstreams_down") == 0);
    CHECK(kit.logged("upstream tcp://127.0.0.1:9001 is up again"));
}

TEST_CASE("every upstream down: the client is closed at once", "[tcp_proxy]")
{
    Kit kit = proxy();
    Connection client = kit.open();
    client.feed("hello?");
    pending(kit).refuse();
    pending(kit).time_out();
    CHECK(client.closed());
    CHECK(client.fin_sent());
    CHECK(client.take_output().empty());
    CHECK(kit.connections().empty());
    CHECK(kit.metric("upstreams_down") == 2);
    CHECK(kit.metric("clients_without_upstream") == 1);
}

TEST_CASE("ringd's own limit closes the client without blaming the upstream", "[tcp_proxy]")
{
    Kit kit = proxy(two_upstreams, {.max_outbound_connections = 1});
    (void)relaying_pair(kit);
    Connection refused = kit.open();
    CHECK(refused.closed());
    CHECK(kit.pending_connects().empty());
    CHECK(kit.metric("upstreams_down") == 0);
    CHECK(kit.metric("clients_without_upstream") == 1);
    CHECK(kit.logged("max_outbound_connections"));
}

TEST_CASE("half-close: the client's FIN reaches the upstream, which can still answer", "[tcp_proxy]")
{
    Kit kit = proxy();
    auto [client, upstream] = relaying_pair(kit);
    upstream.hold_output(true);
    client.feed("request");
    client.peer_shutdown();
    CHECK_FALSE(upstream.fin_sent()); // not before the bytes queued ahead of it
    upstream.hold_output(false);
    upstream.drain();
    CHECK(upstream.take_output() == "request");
    CHECK(upstream.fin_sent());
    upstream.feed("reply");
    CHECK(client.take_output() == "reply");
    CHECK_FALSE(client.closed());
    upstream.peer_shutdown();
    CHECK(client.fin_sent());
    CHECK(client.closed());
    CHECK(upstream.closed());
}

TEST_CASE("half-close: the upstream's FIN reaches the client after every byte, and the client can still send",
          "[tcp_proxy]")
{
    Kit kit = proxy();
    auto [client, upstream] = relaying_pair(kit);
    upstream.feed("all of it");
    upstream.peer_shutdown();
    CHECK(client.take_output() == "all of it");
    CHECK(client.fin_sent());
    client.feed("still talking");
    CHECK(upstream.take_output() == "still talking");
    client.peer_shutdown();
    CHECK(upstream.fin_sent());
    CHECK(client.closed());
    CHECK(upstream.closed());
}

TEST_CASE("a FIN before the upstream is connected follows the early bytes", "[tcp_proxy]")
{
    Kit kit = proxy();
    Connection client = kit.open();
    client.feed("short request");
    client.peer_shutdown();
    Connection upstream = pending(kit);
    upstream.accept();
    CHECK(upstream.take_output() == "short request");
    CHECK(upstream.fin_sent());
    upstream.feed("answer");
    upstream.peer_shutdown();
    CHECK(client.take_output() == "answer");
    CHECK(client.closed());
}

TEST_CASE("backpressure: a client that does not read stops reading from the upstream", "[tcp_proxy]")
{
    Kit kit = proxy();
    auto [client, upstream] = relaying_pair(kit, {.hold_output = true});
    const std::string chunk(1000, 'x');
    for (int i = 0; i < 4; ++i)
        upstream.feed(chunk);
    CHECK_FALSE(upstream.paused()); // 4,000 bytes queued: below buffer (4 KiB)
    upstream.feed(chunk);
    CHECK(upstream.paused());
    CHECK(client.queued_output() == 4096); // the queue never holds more than buffer; 904 bytes wait in the proxy
    upstream.feed(chunk);                  // already on its way: held by the host while paused
    CHECK(client.queued_output() == 4096);
    client.drain(2000); // 2,096 left: still above buffer / 2
    CHECK(upstream.paused());
    client.drain(100);
    CHECK_FALSE(upstream.paused());
    CHECK(client.queued_output() == 1996 + 904 + 1000); // what the proxy kept, then the held read
    CHECK_FALSE(client.backpressured());                // the host's own cap never came into play
    client.hold_output(false);
    client.drain();
    CHECK(client.output().size() == 6000);
    CHECK(kit.metric("bytes_to_client") == 6000);
}

TEST_CASE("backpressure: the host's own cap never pauses the wrong side, whatever buffer is", "[tcp_proxy]")
{
    // buffer equal to max_output_buffer: the host pauses reading a connection whose own output is above its cap,
    // which for a proxy would stop reading the upstream because the upstream does not read (a deadlock with an
    // upstream that reads only while its writes go through). The proxy never queues more than buffer.
    Kit kit = proxy("{upstreams: [tcp://127.0.0.1:9001], buffer: 64KiB}", {.max_output_buffer = 64 * 1024});
    auto [client, upstream] = relaying_pair(kit);
    upstream.hold_output(true);
    for (int i = 0; i < 20; ++i)
        client.feed(std::string(4000, 'q'));
    CHECK(client.paused());
    CHECK(upstream.queued_output() == 64 * 1024);
    CHECK_FALSE(upstream.backpressured());
    upstream.feed("replies still flow");
    CHECK(client.take_output() == "replies still flow");
}

TEST_CASE("backpressure: an upstream that does not read stops reading from the client", "[tcp_proxy]")
{
    Kit kit = proxy();
    auto [client, upstream] = relaying_pair(kit);
    upstream.hold_output(true);
    client.feed(std::string(5000, 'y'));
    CHECK(client.paused());
    upstream.drain(3000);
    CHECK_FALSE(client.paused());
    CHECK(kit.metric("bytes_to_upstream") == 5000);
}

TEST_CASE("backpressure while connecting: the early bytes are bounded by buffer", "[tcp_proxy]")
{
    Kit kit = proxy();
    Connection client = kit.open();
    client.feed(std::string(3000, 'a'));
    CHECK_FALSE(client.paused());
    client.feed(std::string(3000, 'b'));
    CHECK(client.paused());
    Connection upstream = pending(kit);
    upstream.hold_output(true);
    upstream.accept(); // 6,000 bytes queued: above buffer, so the client stays paused
    CHECK(client.paused());
    CHECK(upstream.queued_output() == 4096);
    upstream.hold_output(false);
    upstream.drain();
    CHECK_FALSE(client.paused());
    CHECK(upstream.take_output() == std::string(3000, 'a') + std::string(3000, 'b'));
}

TEST_CASE("the client leaving during the connect cancels it and marks nothing down", "[tcp_proxy]")
{
    Kit kit = proxy();
    Connection client = kit.open();
    client.feed("bytes that will never go anywhere");
    Connection upstream = pending(kit);
    client.reset();
    CHECK(upstream.closed());
    CHECK(kit.connections().empty());
    CHECK(kit.metric("upstreams_down") == 0);
    CHECK(kit.metric("upstream_connect_failures") == 0);
}

TEST_CASE("a client reset closes the upstream after what the client sent has left", "[tcp_proxy]")
{
    Kit kit = proxy();
    auto [client, upstream] = relaying_pair(kit);
    upstream.hold_output(true);
    client.feed("last words");
    client.reset();
    CHECK(upstream.closing());
    upstream.hold_output(false);
    upstream.drain();
    CHECK(upstream.take_output() == "last words");
    CHECK(upstream.fin_sent());
    CHECK(upstream.closed());
    CHECK_FALSE(upstream.was_reset());
}

TEST_CASE("an upstream reset closes the client after what the upstream sent has left", "[tcp_proxy]")
{
    Kit kit = proxy();
    auto [client, upstream] = relaying_pair(kit, {.hold_output = true});
    upstream.feed("partial answer");
    upstream.reset();
    CHECK(client.closing());
    client.drain();
    CHECK(client.take_output() == "partial answer");
    CHECK(client.closed());
    CHECK(client.fin_sent());
}

TEST_CASE("a shutdown with pairs in every state frees them all", "[tcp_proxy]")
{
    Kit kit = proxy(two_upstreams, {.workers = 2});
    auto [a, a_up] = relaying_pair(kit, {.hold_output = true});
    a_up.feed(std::string(6000, 'z')); // paused, with output queued
    auto [b, b_up] = relaying_pair(kit);
    b.peer_shutdown(); // half-closed
    Connection connecting = kit.open();
    connecting.feed("waiting");
    kit.close_all();
    CHECK(kit.connections().empty());
    kit.stop(); // destroy(): ASan reports a Pair still allocated
}

TEST_CASE("the pair lives on the client's worker", "[tcp_proxy]")
{
    Kit kit = proxy(two_upstreams, {.workers = 3});
    for (uint32_t w = 0; w < 3; ++w) {
        (void)kit.open({.worker = w});
        CHECK(pending(kit).worker() == w);
        pending(kit).accept();
    }
    CHECK(kit.misuses().empty());
}
