// TimeFormat (strftime + %f + %s) and the RFC 868 conversion.
#include "time_format.hpp"

#include <catch2/catch.hpp>

using ringd::tod::Instant;
using ringd::tod::TimeFormat;
using ringd::tod::TimeZone;

namespace {
const std::filesystem::path zoneinfo = "/usr/share/zoneinfo";
constexpr int64_t example = 1'795'286'655; // 2026-11-21 18:44:15 UTC
} // namespace

TEST_CASE("the default format, with six digits of microseconds", "[format]")
{
    const TimeFormat f("Current time is %Y-%m-%d %H:%M:%S.%f\n");
    const TimeZone utc = TimeZone::utc();
    CHECK(f.format({example, 123456}, utc) == "Current time is 2026-11-21 18:44:15.123456\n");
    CHECK(f.format({example, 0}, utc) == "Current time is 2026-11-21 18:44:15.000000\n");
    CHECK(f.format({example, 7}, utc) == "Current time is 2026-11-21 18:44:15.000007\n");
    CHECK(f.format({example, 999999}, utc) == "Current time is 2026-11-21 18:44:15.999999\n");
    CHECK(f.format({example, 123456}, TimeZone::named("Asia/Shanghai", zoneinfo)) ==
          "Current time is 2026-11-22 02:44:15.123456\n");
}

TEST_CASE("zone-dependent conversions come from the configured zone, not TZ", "[format]")
{
    const TimeZone kathmandu = TimeZone::named("Asia/Kathmandu", zoneinfo);
    CHECK(TimeFormat("%z %Z").format({example, 0}, kathmandu) == "+0545 +0545");
    const TimeZone ny = TimeZone::named("America/New_York", zoneinfo);
    CHECK(TimeFormat("%F %T %z %Z").format({1'782'907'200, 0}, ny) == "2026-07-01 08:00:00 -0400 EDT");
    CHECK(TimeFormat("%F %T %z %Z").format({example, 0}, ny) == "2026-11-21 13:44:15 -0500 EST");
    // %s is seconds since the epoch whatever the zone (glibc's own %s would ask mktime, i.e. TZ).
    CHECK(TimeFormat("%s.%f").format({example, 42}, ny) == "1795286655.000042");
    CHECK(TimeFormat("%s").format({-1, 0}, ny) == "-1");
}

TEST_CASE("a SecondCache gives the uncached text, across seconds and for every %f", "[format][cache]")
{
    const TimeZone ny = TimeZone::named("America/New_York", zoneinfo);
    for (const char* format : {"Current time is %Y-%m-%d %H:%M:%S.%f\n", "%f|%s|%f %Z", "%H:%M:%S", "%%f%f"}) {
        const TimeFormat f(format);
        TimeFormat::SecondCache cache;
        // Same second twice (the cache is used), the next second, a jump back, then across a DST change.
        const Instant instants[] = {{example, 1},         {example, 999999},   {example + 1, 500000},
                                    {example - 86400, 7}, {1'793'512'799, 12}, {1'793'512'800, 34},
                                    {example, 123456},    {example, 123456}};
        for (const Instant& t : instants) {
            INFO(format << " at " << t.seconds << "." << t.microseconds);
            CHECK(f.format(t, ny, cache) == f.format(t, ny));
        }
    }
    const TimeFormat f("%S.%f");
    TimeFormat::SecondCache cache;
    CHECK(f.format({example, 1}, TimeZone::utc(), cache) == "15.000001");
    CHECK(f.format({example, 2}, TimeZone::utc(), cache) == "15.000002");
    CHECK(f.format({example + 1, 3}, TimeZone::utc(), cache) == "16.000003");
}

TEST_CASE("strftime details pass through", "[format]")
{
    const TimeZone utc = TimeZone::utc();
    CHECK(TimeFormat("%%f is literal: %%f").format({example, 5}, utc) == "%f is literal: %f");
    CHECK(TimeFormat("%a %A %b %B %j %u %w %p").format({example, 0}, utc) == "Sat Saturday Nov November 325 6 6 PM");
    CHECK(TimeFormat("%c").format({example, 0}, utc) == "Sat Nov 21 18:44:15 2026");
    CHECK(TimeFormat("%-d/%_m/%10Y|%^a").format({example, 0}, utc) == "21/11/0000002026|SAT");
    CHECK(TimeFormat("%Ey %OH").format({example, 0}, utc) == "26 18");
    CHECK(TimeFormat("%f%f").format({example, 1}, utc) == "000001000001");
    CHECK(TimeFormat("no conversions").format({example, 1}, utc) == "no conversions");
    // Output far larger than the first buffer.
    std::string big;
    for (int i = 0; i < 100; ++i)
        big += "%99Y";
    CHECK(TimeFormat(big).format({example, 0}, utc).size() == 9900);
}

TEST_CASE("bad formats are rejected with a reason", "[format]")
{
    CHECK_THROWS_WITH(TimeFormat(""), Catch::Contains("non-empty"));
    CHECK_THROWS_WITH(TimeFormat("%"), Catch::Contains("incomplete"));
    CHECK_THROWS_WITH(TimeFormat("time %H:%"), Catch::Contains("incomplete"));
    CHECK_THROWS_WITH(TimeFormat("%-"), Catch::Contains("incomplete"));
    CHECK_THROWS_WITH(TimeFormat("%Q"), Catch::Contains("unknown conversion \"%Q\""));
    CHECK_THROWS_WITH(TimeFormat("%+"), Catch::Contains("unknown conversion"));
    CHECK_THROWS_WITH(TimeFormat("%Ef"), Catch::Contains("%f takes no flags"));
    CHECK_THROWS_WITH(TimeFormat("%3f"), Catch::Contains("%f takes no flags"));
    CHECK_THROWS_WITH(TimeFormat("%-s"), Catch::Contains("%s takes no flags"));
    CHECK_THROWS_WITH(TimeFormat("%100Y"), Catch::Contains("width over 99"));
    CHECK_THROWS_WITH(TimeFormat(std::string(1025, 'x')), Catch::Contains("longer than 1024"));
    CHECK_NOTHROW(TimeFormat(std::string(1024, 'x')));
}

TEST_CASE("RFC 868 time", "[rfc868]")
{
    using ringd::tod::rfc868_bytes;
    using ringd::tod::rfc868_seconds;
    STATIC_REQUIRE(rfc868_seconds(0) == 2'208'988'800u);
    STATIC_REQUIRE(rfc868_seconds(-2'208'988'800) == 0u);
    STATIC_REQUIRE(rfc868_seconds(example) == 4'004'275'455u);
    // The 32-bit field wraps on 2036-02-07 06:28:16 UTC.
    STATIC_REQUIRE(rfc868_seconds(2'085'978'495) == 0xffff'ffffu);
    STATIC_REQUIRE(rfc868_seconds(2'085'978'496) == 0u);
    const auto b = rfc868_bytes(0);
    CHECK(b == std::array{std::byte{0x83}, std::byte{0xaa}, std::byte{0x7e}, std::byte{0x80}});
}

TEST_CASE("now() reads the real clock", "[format]")
{
    const Instant a = ringd::tod::now();
    const auto t = static_cast<int64_t>(std::time(nullptr));
    CHECK(a.microseconds < 1'000'000);
    CHECK(std::abs(a.seconds - t) <= 1);
}
