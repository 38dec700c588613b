// The built time-of-day.so through its exported C ABI only, with a fake host (tests/support/fake_host.hpp): descriptor,
// create() accepting and rejecting configs, a TCP connection, and UDP datagrams.
#include "support/fake_host.hpp"

#include <catch2/catch.hpp>
#include <ctime>
#include <regex>

#ifndef TIME_OF_DAY_PLUGIN
#error "TIME_OF_DAY_PLUGIN must name the built time-of-day.so"
#endif

namespace {

const fake::Plugin& plugin()
{
    static const fake::Plugin p(TIME_OF_DAY_PLUGIN);
    return p;
}

// Seconds since the epoch of a default-format line in UTC ("Current time is 2026-11-21 18:44:15.123456\n").
int64_t parse_utc_line(const std::string& line)
{
    static const std::regex re(R"(Current time is (\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.\d{6}\n)");
    std::smatch m;
    REQUIRE(std::regex_match(line, m, re));
    std::tm tm{};
    tm.tm_year = std::stoi(m[1]) - 1900;
    tm.tm_mon = std::stoi(m[2]) - 1;
    tm.tm_mday = std::stoi(m[3]);
    tm.tm_hour = std::stoi(m[4]);
    tm.tm_min = std::stoi(m[5]);
    tm.tm_sec = std::stoi(m[6]);
    return timegm(&tm);
}

} // namespace

TEST_CASE("descriptor", "[abi]")
{
    const ringd_plugin_descriptor& d = plugin().descriptor();
    CHECK(d.abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(d.struct_size == sizeof(ringd_plugin_descriptor));
    CHECK(std::string(d.name) == "time-of-day");
    CHECK(d.socket_kinds == (RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM));
    CHECK(d.create != nullptr);
    CHECK(d.destroy != nullptr);
}

TEST_CASE("create() reports bad config with the key", "[abi]")
{
    fake::Recorder log;
    fake::Plugin::Instance bad;
    plugin().create(bad, "timezone: Nowhere/Special", RINGD_KIND_STREAM, log);
    CHECK(bad.rc != 0);
    CHECK(std::string(bad.error.key) == "timezone");
    CHECK_THAT(std::string(bad.error.message), Catch::Contains("unknown time zone \"Nowhere/Special\""));

    fake::Plugin::Instance unknown;
    plugin().create(unknown, "{rate: 5}", RINGD_KIND_DATAGRAM, log);
    CHECK(unknown.rc != 0);
    CHECK(std::string(unknown.error.key) == "rate");

    fake::Plugin::Instance good;
    plugin().create(good, "{}", RINGD_KIND_STREAM, log);
    CHECK(good.rc == 0);
    CHECK(good.instance != nullptr);
}

TEST_CASE("TCP: one line, then close after flush", "[abi]")
{
    fake::Recorder log, conn;
    fake::Plugin::Instance tod;
    plugin().create(tod, "timezone: UTC", RINGD_KIND_STREAM, log);
    REQUIRE(tod.rc == 0);
    const auto before = static_cast<int64_t>(std::time(nullptr));
    CHECK(tod.d->on_open(tod.instance, conn.conn()) == 0);
    const auto after = static_cast<int64_t>(std::time(nullptr));
    const int64_t shown = parse_utc_line(conn.sent);
    CHECK(shown >= before);
    CHECK(shown <= after);
    CHECK(conn.closes == std::vector<uint32_t>{RINGD_CLOSE_AFTER_FLUSH});
    if (tod.d->on_close != nullptr) tod.d->on_close(tod.instance, conn.conn(), RINGD_CLOSE_LOCAL);
}

TEST_CASE("TCP: RFC 868", "[abi]")
{
    fake::Recorder log, conn;
    fake::Plugin::Instance tod;
    plugin().create(tod, "protocol: rfc868", RINGD_KIND_STREAM, log);
    REQUIRE(tod.rc == 0);
    CHECK(tod.d->on_open(tod.instance, conn.conn()) == 0);
    REQUIRE(conn.sent.size() == 4);
    uint32_t v = 0;
    for (const char c : conn.sent)
        v = (v << 8) | static_cast<uint8_t>(c);
    const int64_t now = static_cast<int64_t>(std::time(nullptr)) + 2'208'988'800;
    CHECK(std::abs(static_cast<int64_t>(v) - now) <= 2);
    CHECK(conn.closes == std::vector<uint32_t>{RINGD_CLOSE_AFTER_FLUSH});
}

TEST_CASE("UDP: one reply per datagram, none to port 0 or service ports", "[abi]")
{
    fake::Recorder log, dg;
    fake::Plugin::Instance tod;
    plugin().create(tod, "timezone: UTC", RINGD_KIND_DATAGRAM, log);
    REQUIRE(tod.rc == 0);
    tod.datagram(dg, "", fake::ipv4("127.0.0.1", 40000));
    tod.datagram(dg, "what time is it?", fake::ipv6("::1", 50000));
    REQUIRE(dg.datagrams.size() == 2);
    for (const std::string& reply : dg.datagrams)
        (void)parse_utc_line(reply);
    dg.datagrams.clear();
    tod.datagram(dg, "x", fake::ipv4("127.0.0.1", 0));
    tod.datagram(dg, "x", fake::ipv4("127.0.0.1", 7));
    tod.datagram(dg, "x", fake::ipv6("::1", 37));
    CHECK(dg.datagrams.empty());
    // A full send queue is not an error for the plugin.
    dg.send_datagram_result = -ENOBUFS;
    tod.datagram(dg, "x", fake::ipv4("127.0.0.1", 40000));
    CHECK(dg.datagrams.size() == 1);
    CHECK(!log.logged("threw"));
}
