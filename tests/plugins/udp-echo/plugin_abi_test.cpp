// The built udp-echo.so through its exported C ABI only, with a fake host (tests/support/fake_host.hpp): descriptor,
// config errors, transforms, size limit, denied ports, rate limiting per worker, counters logged at destroy.
#include "support/fake_host.hpp"

#include <catch2/catch.hpp>

#ifndef UDP_ECHO_PLUGIN
#error "UDP_ECHO_PLUGIN must name the built udp-echo.so"
#endif

namespace {

const fake::Plugin& plugin()
{
    static const fake::Plugin p(UDP_ECHO_PLUGIN);
    return p;
}

const sockaddr_in client = fake::ipv4("127.0.0.1", 40000);

} // namespace

TEST_CASE("descriptor", "[abi]")
{
    const ringd_plugin_descriptor& d = plugin().descriptor();
    CHECK(d.abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(d.struct_size == sizeof(ringd_plugin_descriptor));
    CHECK(std::string(d.name) == "udp-echo");
    CHECK(d.socket_kinds == RINGD_KIND_DATAGRAM);
    CHECK(d.on_datagram != nullptr);
}

TEST_CASE("create() rejects bad config with the dotted key, and stream listeners", "[abi]")
{
    fake::Recorder log;
    fake::Plugin::Instance bad;
    plugin().create(bad, "rate_limit: {per_source: fast}", RINGD_KIND_DATAGRAM, log);
    CHECK(bad.rc != 0);
    CHECK(std::string(bad.error.key) == "rate_limit.per_source");
    CHECK_THAT(std::string(bad.error.message), Catch::StartsWith("expected a rate like 1000/s"));

    fake::Plugin::Instance stream;
    plugin().create(stream, "{}", RINGD_KIND_STREAM, log);
    CHECK(stream.rc != 0);
    CHECK_THAT(std::string(stream.error.message), Catch::Contains("udp://"));
}

TEST_CASE("transform upper (the default) and none", "[abi]")
{
    fake::Recorder log, dg;
    std::string all_bytes;
    for (int i = 0; i < 256; ++i)
        all_bytes.push_back(static_cast<char>(i));
    std::string all_upper = all_bytes;
    for (char& c : all_upper) {
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    }
    {
        fake::Plugin::Instance echo;
        plugin().create(echo, "{}", RINGD_KIND_DATAGRAM, log);
        REQUIRE(echo.rc == 0);
        echo.datagram(dg, "Hello, w\xc3\xb6rld! 123", client);
        echo.datagram(dg, all_bytes, fake::ipv6("::1", 50000));
        echo.datagram(dg, "", client);
        REQUIRE(dg.datagrams.size() == 3);
        CHECK(dg.datagrams[0] == "HELLO, W\xc3\xb6RLD! 123");
        CHECK(dg.datagrams[1] == all_upper);
        CHECK(dg.datagrams[2].empty());
    }
    dg.datagrams.clear();
    {
        fake::Plugin::Instance echo;
        plugin().create(echo, "transform: none", RINGD_KIND_DATAGRAM, log);
        REQUIRE(echo.rc == 0);
        echo.datagram(dg, all_bytes, client);
        REQUIRE(dg.datagrams.size() == 1);
        CHECK(dg.datagrams[0] == all_bytes);
    }
}

TEST_CASE("max_datagram: larger datagrams are dropped, never truncated", "[abi]")
{
    fake::Recorder log, dg;
    {
        fake::Plugin::Instance echo;
        plugin().create(echo, "max_datagram: 1000", RINGD_KIND_DATAGRAM, log);
        REQUIRE(echo.rc == 0);
        echo.datagram(dg, std::string(1000, 'a'), client);
        echo.datagram(dg, std::string(1001, 'a'), client);
        REQUIRE(dg.datagrams.size() == 1);
        CHECK(dg.datagrams[0] == std::string(1000, 'A'));
    }
    CHECK(log.logged("udp-echo totals: 1 echoed; dropped 1 oversize, 0 from denied source ports, 0 rate-limited"));

    dg.datagrams.clear();
    fake::Plugin::Instance big;
    plugin().create(big, "{max_datagram: 65535, rate_limit: off}", RINGD_KIND_DATAGRAM, log);
    REQUIRE(big.rc == 0);
    big.datagram(dg, std::string(65507, 'z'), client);
    big.datagram(dg, std::string(65535, 'y'), client);
    REQUIRE(dg.datagrams.size() == 2);
    CHECK(dg.datagrams[0] == std::string(65507, 'Z'));
    CHECK(dg.datagrams[1] == std::string(65535, 'Y'));
}

TEST_CASE("denied source ports", "[abi]")
{
    fake::Recorder log, dg;
    fake::Plugin::Instance defaults;
    plugin().create(defaults, "{}", RINGD_KIND_DATAGRAM, log);
    REQUIRE(defaults.rc == 0);
    for (const uint16_t port : {0, 7, 19, 53, 1023})
        defaults.datagram(dg, "x", fake::ipv4("127.0.0.1", port));
    defaults.datagram(dg, "x", fake::ipv6("::1", 53));
    CHECK(dg.datagrams.empty());
    defaults.datagram(dg, "x", fake::ipv4("127.0.0.1", 1024));
    CHECK(dg.datagrams.size() == 1);

    dg.datagrams.clear();
    fake::Plugin::Instance listed;
    plugin().create(listed, "deny_source_ports: [40000, 45000-45010]", RINGD_KIND_DATAGRAM, log);
    REQUIRE(listed.rc == 0);
    listed.datagram(dg, "x", fake::ipv4("127.0.0.1", 40000));
    listed.datagram(dg, "x", fake::ipv6("::1", 45005));
    listed.datagram(dg, "x", fake::ipv4("127.0.0.1", 0)); // always refused
    CHECK(dg.datagrams.empty());
    listed.datagram(dg, "x", fake::ipv4("127.0.0.1", 53)); // the list replaced the default
    CHECK(dg.datagrams.size() == 1);
    // A malformed peer address gets nothing (and no crash).
    listed.datagram(dg, "x", reinterpret_cast<const sockaddr*>(&client), 4);
    CHECK(dg.datagrams.size() == 1);
}

TEST_CASE("rate limit per source address, per worker", "[abi]")
{
    fake::Recorder log, dg;
    {
        fake::Plugin::Instance echo;
        plugin().create(echo, "rate_limit: {per_source: 1/h, burst: 5}", RINGD_KIND_DATAGRAM, log, 2);
        REQUIRE(echo.rc == 0);
        fake::worker = 0;
        for (int i = 0; i < 10; ++i)
            echo.datagram(dg, "x", fake::ipv4("127.0.0.1", static_cast<uint16_t>(40000 + i)));
        CHECK(dg.datagrams.size() == 5); // the address is the source, whatever the port
        echo.datagram(dg, "x", fake::ipv4("127.0.0.2", 40000));
        CHECK(dg.datagrams.size() == 6); // another source still gets answers
        fake::worker = 1;                // each worker has its own table
        for (int i = 0; i < 10; ++i)
            echo.datagram(dg, "x", client);
        CHECK(dg.datagrams.size() == 11);
        fake::worker = 7; // outside worker_count: ignored rather than indexing out of bounds
        echo.datagram(dg, "x", fake::ipv4("127.0.0.9", 40000));
        CHECK(dg.datagrams.size() == 11);
        fake::worker = 0;
    }
    CHECK(log.logged("udp-echo totals: 11 echoed; dropped 0 oversize, 0 from denied source ports, 10 rate-limited"));

    dg.datagrams.clear();
    fake::Plugin::Instance off;
    plugin().create(off, "rate_limit: off", RINGD_KIND_DATAGRAM, log);
    REQUIRE(off.rc == 0);
    for (int i = 0; i < 1000; ++i)
        off.datagram(dg, "x", client);
    CHECK(dg.datagrams.size() == 1000);
}

TEST_CASE("a full send queue is counted", "[abi]")
{
    fake::Recorder log, dg;
    {
        fake::Plugin::Instance echo;
        plugin().create(echo, "{}", RINGD_KIND_DATAGRAM, log);
        REQUIRE(echo.rc == 0);
        dg.send_datagram_result = -ENOBUFS;
        echo.datagram(dg, "x", client);
    }
    CHECK(log.logged("0 rate-limited, 1 send queue full"));
    CHECK(!log.logged("threw"));
}
