// The built time-of-day.so in the plugin test kit (ringd/testkit.hpp): descriptor, create() accepting and
// rejecting configs, a TCP connection, and UDP datagrams.
#include <catch2/catch.hpp>
#include <ctime>
#include <regex>
#include <ringd/testkit.hpp>

#ifndef TIME_OF_DAY_PLUGIN
#error "TIME_OF_DAY_PLUGIN must name the built time-of-day.so"
#endif

using namespace ringd::testkit;

namespace {

const Plugin& plugin()
{
    static const Plugin p = Plugin::load(TIME_OF_DAY_PLUGIN);
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

// create()'s refusal as "key: message", or "(accepted)".
std::string error_of(const std::string& yaml, Kind kind)
{
    try {
        Kit kit(plugin(), yaml, {.kind = kind});
        return "(accepted)";
    } catch (const ConfigError& e) {
        return e.key() + ": " + e.what();
    }
}

} // namespace

TEST_CASE("descriptor", "[abi]")
{
    const ringd_plugin_descriptor& d = plugin().descriptor();
    CHECK(d.abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(std::string(d.name) == "time-of-day");
    CHECK(d.socket_kinds == (RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM));
    CHECK(d.create != nullptr);
    CHECK(d.destroy != nullptr);
}

TEST_CASE("create() reports bad config with the key", "[abi]")
{
    const std::string bad = error_of("timezone: Nowhere/Special", Kind::stream);
    CHECK_THAT(bad, Catch::StartsWith("timezone: ") && Catch::Contains("unknown time zone \"Nowhere/Special\""));
    CHECK_THAT(error_of("{rate: 5}", Kind::datagram), Catch::StartsWith("rate: "));
    CHECK(error_of("{}", Kind::stream) == "(accepted)");
    CHECK(Kit(plugin(), "{}").instance() != nullptr);
}

TEST_CASE("TCP: one line, then close after flush", "[abi]")
{
    Kit kit(plugin(), "timezone: UTC");
    const auto before = static_cast<int64_t>(std::time(nullptr));
    auto c = kit.open();
    const auto after = static_cast<int64_t>(std::time(nullptr));
    const int64_t shown = parse_utc_line(c.take_output());
    CHECK(shown >= before);
    CHECK(shown <= after);
    CHECK(c.closed());
    CHECK(c.fin_sent()); // closed after flush, not reset
    CHECK(c.close_reason() == RINGD_CLOSE_LOCAL);
}

TEST_CASE("TCP: RFC 868", "[abi]")
{
    Kit kit(plugin(), "protocol: rfc868");
    auto c = kit.open();
    const std::string sent = c.take_output();
    REQUIRE(sent.size() == 4);
    uint32_t v = 0;
    for (const char ch : sent)
        v = (v << 8) | static_cast<uint8_t>(ch);
    const int64_t now = static_cast<int64_t>(std::time(nullptr)) + 2'208'988'800;
    CHECK(std::abs(static_cast<int64_t>(v) - now) <= 2);
    CHECK(c.closed());
    CHECK(c.fin_sent());
}

TEST_CASE("UDP: one reply per datagram, none to port 0 or service ports", "[abi]")
{
    Kit kit(plugin(), "timezone: UTC", {.kind = Kind::datagram});
    for (const char* from : {"127.0.0.1:40000", "[::1]:50000"}) {
        const auto sent = kit.datagram(from[0] == '[' ? "what time is it?" : "", from);
        REQUIRE(sent.size() == 1);
        CHECK(sent[0].to == from);
        (void)parse_utc_line(sent[0].payload);
    }
    for (const char* from : {"127.0.0.1:0", "127.0.0.1:7", "[::1]:37"})
        CHECK(kit.datagram("x", from).empty());
    // A full send queue is not an error for the plugin.
    kit.set_datagram_queue_full(true);
    CHECK(kit.datagram("x", "127.0.0.1:40000").empty());
    CHECK_FALSE(kit.logged("threw"));
}
