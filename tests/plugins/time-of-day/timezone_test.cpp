// TimeZone (TZif + POSIX rule reader) against glibc's own localtime_r as the oracle, plus name validation and
// malformed input. Setting TZ here is fine: this test process is single-threaded, unlike the daemon.
#include "timezone.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <sstream>

using ringd::tod::TimeZone;
using ringd::tod::TimeZoneError;

namespace {

const std::filesystem::path zoneinfo = "/usr/share/zoneinfo";

// Restores TZ on scope exit.
class ScopedTz {
public:
    explicit ScopedTz(const char* value)
    {
        if (const char* old = std::getenv("TZ")) saved_ = old;
        set(value);
    }
    ~ScopedTz() { set(saved_ ? saved_->c_str() : nullptr); }
    ScopedTz(const ScopedTz&) = delete;
    ScopedTz& operator=(const ScopedTz&) = delete;

private:
    static void set(const char* value)
    {
        if (value == nullptr) {
            unsetenv("TZ");
        } else {
            setenv("TZ", value, 1);
        }
        tzset();
    }
    std::optional<std::string> saved_;
};

std::string describe(const std::tm& tm)
{
    std::ostringstream out;
    out << tm.tm_year + 1900 << '-' << tm.tm_mon + 1 << '-' << tm.tm_mday << ' ' << tm.tm_hour << ':' << tm.tm_min
        << ':' << tm.tm_sec << " wday=" << tm.tm_wday << " yday=" << tm.tm_yday << " dst=" << tm.tm_isdst
        << " off=" << tm.tm_gmtoff << " zone=" << (tm.tm_zone != nullptr ? tm.tm_zone : "(null)");
    return out.str();
}

constexpr int64_t year_1900 = -2'208'988'800;
constexpr int64_t year_1971 = 31'536'000;
constexpr int64_t year_2100 = 4'102'444'800;

// Instants to compare: a spread over [from, to) (the caller adds both sides of every change glibc reports).
std::vector<int64_t> sample_instants(int64_t from, int64_t to)
{
    std::vector<int64_t> out;
    std::mt19937_64 rng(42);
    for (int64_t t = from; t < to; t += 86400 * 7 + static_cast<int64_t>(rng() % 86400))
        out.push_back(t);
    return out;
}

void compare_with_glibc(const TimeZone& zone, const char* tz_env, int64_t from = year_1900, int64_t to = year_2100)
{
    ScopedTz tz(tz_env);
    std::vector<int64_t> instants = sample_instants(from, to);
    // Add the neighbourhood of every offset change that glibc sees between the samples.
    std::vector<int64_t> extra;
    long previous = 0;
    for (std::size_t i = 0; i < instants.size(); ++i) {
        std::tm g{};
        const auto t = static_cast<time_t>(instants[i]);
        localtime_r(&t, &g);
        if (i > 0 && g.tm_gmtoff != previous) {
            int64_t lo = instants[i - 1], hi = instants[i]; // bisect to the change
            while (hi - lo > 1) {
                const int64_t mid = lo + (hi - lo) / 2;
                std::tm m{};
                const auto mt = static_cast<time_t>(mid);
                localtime_r(&mt, &m);
                (m.tm_gmtoff == g.tm_gmtoff ? hi : lo) = mid;
            }
            for (int64_t d = -2; d <= 1; ++d)
                extra.push_back(hi + d);
        }
        previous = g.tm_gmtoff;
    }
    instants.insert(instants.end(), extra.begin(), extra.end());
    int mismatches = 0;
    for (const int64_t instant : instants) {
        std::tm g{};
        const auto t = static_cast<time_t>(instant);
        localtime_r(&t, &g);
        const std::tm ours = zone.local_time(instant);
        const std::string a = describe(g), b = describe(ours);
        if (a != b && ++mismatches <= 5) {
            INFO("zone " << tz_env << " at " << instant);
            CHECK(b == a);
        }
    }
    CHECK(mismatches == 0);
}

} // namespace

TEST_CASE("IANA zones agree with glibc from 1900 to 2100", "[timezone]")
{
    for (const char* name : {"UTC",
                             "Asia/Shanghai",
                             "America/New_York",
                             "Europe/London",
                             "Europe/Dublin",
                             "Europe/Berlin",
                             "Australia/Sydney",
                             "Australia/Lord_Howe",
                             "Pacific/Chatham",
                             "Antarctica/Troll",
                             "America/Nuuk",
                             "America/Sao_Paulo",
                             "Africa/Casablanca",
                             "Asia/Kathmandu",
                             "America/St_Johns",
                             "Pacific/Apia",
                             "Asia/Tehran",
                             "Europe/Moscow",
                             "America/Santiago",
                             "Pacific/Kiritimati",
                             "America/Los_Angeles"}) {
        SECTION(name)
        {
            const TimeZone zone = TimeZone::named(name, zoneinfo);
            CHECK(zone.name() == name);
            compare_with_glibc(zone, (std::string(":") + name).c_str());
        }
    }
}

// glibc evaluates POSIX rules for any year before 1971 as if it were 1970, so compare from 1971 on.
TEST_CASE("POSIX TZ rule strings agree with glibc", "[timezone]")
{
    for (const char* rule :
         {"EST5EDT,M3.2.0,M11.1.0", "<+0545>-5:45", "CET-1CEST,M3.5.0,M10.5.0/3", "IST-1GMT0,M10.5.0,M3.5.0/1",
          "AEST-10AEDT,M10.1.0,M4.1.0/3", "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "AAA3BBB,J60/2,J300/2",
          "XXX-3YYY,1/0,200/0", "NZST-12NZDT,M9.5.0,M4.1.0/3", "UTC0", "XYZ-3:30"}) {
        SECTION(rule)
        {
            compare_with_glibc(TimeZone::from_posix(rule), rule, year_1971);
        }
    }
}

// RFC 8536 3.3.1's "DST all year" form. (glibc 2.36 gets the last hours of each year wrong: it evaluates the
// rule for the UTC year, which has already turned.)
TEST_CASE("daylight time all year", "[timezone]")
{
    const TimeZone zone = TimeZone::from_posix("EST5EDT4,0/0,J365/25");
    for (int64_t t = year_1971; t < year_2100; t += 3600 * 997) {
        INFO("at " << t);
        CHECK(zone.type_at(t).abbreviation == "EDT");
    }
    CHECK(zone.type_at(1'830'307'010).abbreviation == "EDT"); // 2027-12-31 22:36:50 EDT
    // Daylight time from local New Year in a zone east of UTC, when the UTC year has not turned yet.
    const TimeZone east = TimeZone::from_posix("XXX-3YYY,0/0,200/0");
    CHECK(east.type_at(63'061'200 - 1).abbreviation == "XXX"); // 1971-12-31 23:59:59 XXX
    CHECK(east.type_at(63'061'200).abbreviation == "YYY");     // 1972-01-01 01:00:00 YYY
}

// glibc takes a rule-less "std offset dst" from its posixrules file; we use the US rule, as tzcode does.
TEST_CASE("a daylight zone without dates follows the US rule", "[timezone]")
{
    const TimeZone zone = TimeZone::from_posix("AAA8BBB");
    CHECK(zone.type_at(1'782'907'200).abbreviation == "BBB"); // 2026-07-01
    CHECK(zone.type_at(1'782'907'200).utc_offset == -7 * 3600);
    CHECK(zone.type_at(1'795'286'655).abbreviation == "AAA");     // 2026-11-21
    CHECK(zone.type_at(1'772'964'000 - 1).abbreviation == "AAA"); // 2026-03-08 10:00 UTC = 02:00 AAA
    CHECK(zone.type_at(1'772'964'000).abbreviation == "BBB");
}

TEST_CASE("known instants", "[timezone]")
{
    const int64_t t = 1'795'286'655;                                  // 2026-11-21 18:44:15 UTC
    const TimeZone zone = TimeZone::named("Asia/Shanghai", zoneinfo); // tm_zone points into it
    const std::tm shanghai = zone.local_time(t);
    CHECK(describe(shanghai) == "2026-11-22 2:44:15 wday=0 yday=325 dst=0 off=28800 zone=CST");
    CHECK(describe(TimeZone::utc().local_time(t)) == "2026-11-21 18:44:15 wday=6 yday=324 dst=0 off=0 zone=UTC");
    const TimeZone ny = TimeZone::named("America/New_York", zoneinfo);
    CHECK(ny.type_at(1'782'907'200).abbreviation == "EDT"); // 2026-07-01 12:00 UTC
    CHECK(ny.type_at(1'782'907'200).utc_offset == -4 * 3600);
    CHECK(ny.type_at(4'118'054'400).abbreviation == "EDT"); // 2100-07-01, long after the file's transitions
    CHECK(ny.type_at(4'102'444'800).abbreviation == "EST"); // 2100-01-01
    // Before 1970 and before the first transition: local mean time.
    CHECK(ny.type_at(-4'000'000'000).abbreviation == "LMT");
}

TEST_CASE("zone names are validated", "[timezone]")
{
    for (const char* bad :
         {"", "Nope/Zone", "../etc/passwd", "/etc/localtime", "Asia//Shanghai", "Asia/", "Asia/./Shanghai",
          "Asia/Shanghai ", "Asia\\Shanghai", "Asia", "zone.tab", "right/UTC", "Asia/Shanghai\n"}) {
        INFO("name: \"" << bad << "\"");
        CHECK_THROWS_AS(TimeZone::named(bad, zoneinfo), TimeZoneError);
    }
    CHECK_THROWS_WITH(TimeZone::named("Mars/Olympus_Mons", zoneinfo), Catch::Contains("unknown time zone"));
    CHECK_THROWS_WITH(TimeZone::named("zone.tab", zoneinfo), Catch::Contains("not a valid TZif"));
    CHECK_THROWS_WITH(TimeZone::named("right/UTC", zoneinfo), Catch::Contains("leap-second"));
    CHECK_NOTHROW(TimeZone::named("Etc/GMT+5", zoneinfo));
    CHECK_NOTHROW(TimeZone::named("America/Argentina/Buenos_Aires", zoneinfo));
    CHECK(TimeZone::named("Etc/GMT+5", zoneinfo).type_at(0).utc_offset == -5 * 3600);
}

TEST_CASE("local follows TZ, then /etc/localtime, like the C library", "[timezone]")
{
    {
        ScopedTz tz(nullptr);
        const TimeZone zone = TimeZone::local(zoneinfo);
        const time_t t = 1'795'286'655;
        std::tm g{};
        localtime_r(&t, &g);
        CHECK(describe(zone.local_time(t)) == describe(g));
    }
    struct Case {
        const char* tz;
        int32_t offset; // at 2026-11-21 18:44:15 UTC
        const char* abbreviation;
    };
    for (const Case& c :
         {Case{"", 0, "UTC"}, Case{":", 0, "UTC"}, Case{":Asia/Shanghai", 8 * 3600, "CST"},
          Case{"Asia/Shanghai", 8 * 3600, "CST"}, Case{"/usr/share/zoneinfo/Asia/Kolkata", 19800, "IST"},
          Case{"CET-1CEST,M3.5.0,M10.5.0/3", 3600, "CET"}, Case{"<+0545>-5:45", 20700, "+0545"},
          Case{"no such zone!", 0, "UTC"}, Case{"Nope/Nope", 0, "UTC"}}) {
        INFO("TZ=" << c.tz);
        ScopedTz tz(c.tz);
        const TimeZone zone = TimeZone::local(zoneinfo);
        const auto& type = zone.type_at(1'795'286'655);
        CHECK(type.utc_offset == c.offset);
        CHECK(type.abbreviation == c.abbreviation);
    }
}

TEST_CASE("malformed TZif data is rejected, never read out of bounds", "[timezone]")
{
    std::ifstream in(zoneinfo / "Europe/Dublin", std::ios::binary);
    const std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(data.size() > 100);
    CHECK_NOTHROW(TimeZone::from_tzif(data, "Europe/Dublin"));
    for (std::size_t n = 0; n < data.size(); ++n) {
        INFO("truncated to " << n << " bytes");
        CHECK_THROWS_AS(TimeZone::from_tzif(std::string_view(data).substr(0, n), "cut"), TimeZoneError);
    }
    // Random corruption: either rejected or a usable zone (ASan/UBSan builds check the "usable" part).
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        std::string bad = data;
        for (int flips = 0; flips < 3; ++flips)
            bad[rng() % bad.size()] = static_cast<char>(rng());
        try {
            const TimeZone zone = TimeZone::from_tzif(bad, "corrupt");
            for (const int64_t t : {-5'000'000'000LL, 0LL, 1'795'286'655LL, 5'000'000'000LL}) {
                (void)zone.local_time(t);
            }
        } catch (const TimeZoneError&) {
        }
    }
}

TEST_CASE("malformed POSIX rules are rejected", "[timezone]")
{
    for (const char* bad : {"", "E", "EST", "EST5EDT,M3.2.0", "EST5EDT,M13.2.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
                            "EST5EDT,M3.2.7,M11.1.0", "EST5EDT,J0,J100", "EST5EDT,366,1", "EST25", "<AB>5",
                            "<+0545-5:45", "EST5EDT,M3.2.0/168,M11.1.0", "EST5x"}) {
        INFO("rule: \"" << bad << "\"");
        CHECK_THROWS_AS(TimeZone::from_posix(bad), TimeZoneError);
    }
}
