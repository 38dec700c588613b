// The built udp-echo.so in the plugin test kit (ringd/testkit.hpp): descriptor, config errors, transforms, size
// limit, denied ports, rate limiting per worker, counters logged at destroy.
#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <ringd/testkit.hpp>

#ifndef UDP_ECHO_PLUGIN
#error "UDP_ECHO_PLUGIN must name the built udp-echo.so"
#endif

using namespace ringd::testkit;

namespace {

const Plugin& plugin()
{
    static const Plugin p = Plugin::load(UDP_ECHO_PLUGIN);
    return p;
}

constexpr const char* client = "127.0.0.1:40000";

Kit echo(const std::string& yaml, uint32_t workers = 1)
{
    return Kit(plugin(), yaml, {.workers = workers, .kind = Kind::datagram});
}

// The payloads of what one datagram got back.
std::vector<std::string> replies(Kit& kit, std::string_view payload, std::string_view from = client,
                                 std::optional<uint32_t> worker = std::nullopt)
{
    std::vector<std::string> payloads;
    for (const SentDatagram& d : kit.datagram(payload, from, worker)) {
        CHECK(d.to == from); // always back to the sender
        payloads.push_back(d.payload);
    }
    return payloads;
}

using Replies = std::vector<std::string>;

} // namespace

TEST_CASE("descriptor", "[abi]")
{
    const ringd_plugin_descriptor& d = plugin().descriptor();
    CHECK(d.abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(std::string(d.name) == "udp-echo");
    CHECK(d.socket_kinds == RINGD_KIND_DATAGRAM);
    CHECK(d.on_datagram != nullptr);
}

TEST_CASE("create() rejects bad config with the dotted key; no stream listener", "[abi]")
{
    try {
        (void)echo("rate_limit: {per_source: fast}");
        FAIL("accepted");
    } catch (const ConfigError& e) {
        CHECK(e.key() == "rate_limit.per_source");
        CHECK_THAT(e.what(), Catch::StartsWith("expected a rate like 1000/s"));
    }
    // The host refuses a stream listener before create() (udp-echo's descriptor serves datagrams only).
    CHECK_THROWS_WITH(Kit(plugin(), "{}"), "plugin udp-echo does not serve stream (tcp/unix) listeners");
}

TEST_CASE("transform upper (the default) and none", "[abi]")
{
    std::string all_bytes;
    for (int i = 0; i < 256; ++i)
        all_bytes.push_back(static_cast<char>(i));
    std::string all_upper = all_bytes;
    for (char& c : all_upper) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    }
    Kit upper = echo("{}");
    CHECK(replies(upper, "Hello, w\xc3\xb6rld! 123") == Replies{"HELLO, W\xc3\xb6RLD! 123"});
    CHECK(replies(upper, all_bytes, "[::1]:50000") == Replies{all_upper});
    CHECK(replies(upper, "") == Replies{""});
    Kit none = echo("transform: none");
    CHECK(replies(none, all_bytes) == Replies{all_bytes});
}

TEST_CASE("max_datagram: larger datagrams are dropped, never truncated", "[abi]")
{
    Kit small = echo("max_datagram: 1000");
    CHECK(replies(small, std::string(1000, 'a')) == Replies{std::string(1000, 'A')});
    CHECK(replies(small, std::string(1001, 'a')).empty());
    small.stop();
    CHECK(small.logged("udp-echo totals: 1 echoed; dropped 1 oversize, 0 from denied source ports, 0 rate-limited"));

    Kit big = echo("{max_datagram: 65535, rate_limit: off}");
    CHECK(replies(big, std::string(65507, 'z')) == Replies{std::string(65507, 'Z')});
    CHECK(replies(big, std::string(65535, 'y')) == Replies{std::string(65535, 'Y')});
}

TEST_CASE("denied source ports", "[abi]")
{
    Kit defaults = echo("{}");
    for (const char* from :
         {"127.0.0.1:0", "127.0.0.1:7", "127.0.0.1:19", "127.0.0.1:53", "127.0.0.1:1023", "[::1]:53"})
        CHECK(replies(defaults, "x", from).empty());
    CHECK(replies(defaults, "x", "127.0.0.1:1024").size() == 1);

    Kit listed = echo("deny_source_ports: [40000, 45000-45010]");
    CHECK(replies(listed, "x", "127.0.0.1:40000").empty());
    CHECK(replies(listed, "x", "[::1]:45005").empty());
    CHECK(replies(listed, "x", "127.0.0.1:0").empty());      // always refused
    CHECK(replies(listed, "x", "127.0.0.1:53").size() == 1); // the list replaced the default
    // A malformed peer address gets nothing (and no crash).
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(40001);
    CHECK(listed.datagram("x", reinterpret_cast<const sockaddr*>(&peer), 4).empty());
    CHECK_FALSE(listed.logged("threw"));
}

TEST_CASE("rate limit per source address, per worker", "[abi]")
{
    Kit kit = echo("rate_limit: {per_source: 1/h, burst: 5}", 2);
    std::size_t answered = 0;
    for (int i = 0; i < 10; ++i)
        answered += replies(kit, "x", "127.0.0.1:" + std::to_string(40000 + i), 0).size();
    CHECK(answered == 5);                                       // the address is the source, whatever the port
    CHECK(replies(kit, "x", "127.0.0.2:40000", 0).size() == 1); // another source still gets answers
    for (int i = 0; i < 10; ++i)
        answered += replies(kit, "x", client, 1).size(); // each worker has its own table
    CHECK(answered == 10);
    kit.stop();
    CHECK(kit.logged("udp-echo totals: 11 echoed; dropped 0 oversize, 0 from denied source ports, 10 rate-limited"));

    Kit off = echo("rate_limit: off");
    for (int i = 0; i < 1000; ++i)
        answered += replies(off, "x").size();
    CHECK(answered == 1010);
}

TEST_CASE("a full send queue is counted", "[abi]")
{
    Kit kit = echo("{}");
    kit.set_datagram_queue_full(true);
    CHECK(kit.datagram("x", client).empty()); // dropped by the host
    kit.stop();
    CHECK(kit.logged("0 rate-limited, 1 send queue full"));
    CHECK_FALSE(kit.logged("threw"));
}
