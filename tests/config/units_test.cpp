// Durations and sizes as written in ringd.yaml.
#include "config/endpoint.hpp"
#include "config/units.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace ringd::config;
using namespace std::chrono_literals;

TEST_CASE("parse_duration accepts ms, s, m, h and a bare 0", "[config][units]")
{
    struct Case {
        const char* text;
        std::chrono::milliseconds expected;
    };
    const auto c = GENERATE(values<Case>({
        {"0", 0ms},
        {"0s", 0ms},
        {"0ms", 0ms},
        {"500ms", 500ms},
        {"60s", 60'000ms},
        {"5m", 300'000ms},
        {"2h", 7'200'000ms},
        {"007s", 7'000ms},
        {"8760h", 31'536'000'000ms},
    }));
    CAPTURE(c.text);
    CHECK(parse_duration(c.text) == c.expected);
}

TEST_CASE("parse_duration rejects everything else", "[config][units]")
{
    struct Case {
        const char* text;
        const char* message;
    };
    const auto c = GENERATE(values<Case>({
        {"60 seconds", "expected a duration like 60s, 500ms or 0, got \"60 seconds\""},
        {"60", "a unit is required unless the value is 0"},
        {"", "expected a duration like 60s, 500ms or 0, got \"\""},
        {"-5s", "got \"-5s\""},
        {"+5s", "got \"+5s\""},
        {"1.5s", "got \"1.5s\""},
        {"5S", "got \"5S\""},
        {"5 s", "got \"5 s\""},
        {" 5s", "got \" 5s\""},
        {"5d", "got \"5d\""},
        {"s", "got \"s\""},
        {"0x10s", "got \"0x10s\""},
        {"9223372036854775808ms", "duration \"9223372036854775808ms\" is too large"},
        {"2562047788015216h", "is too large"},
        {"99999999999999999999999s", "is too large"},
        {"3000000h", "duration \"3000000h\" is too large (at most 8760h, a year)"}, // wrapped the deadlines
        {"8761h", "is too large"},
    }));
    CAPTURE(c.text);
    CHECK_THROWS_WITH(parse_duration(c.text), Catch::Contains(c.message));
}

TEST_CASE("parse_size accepts bytes and 1024- and 1000-based units", "[config][units]")
{
    struct Case {
        const char* text;
        uint64_t expected;
    };
    const auto c = GENERATE(values<Case>({
        {"0", 0},
        {"4096", 4096},
        {"4096B", 4096},
        {"1KiB", 1024},
        {"64KiB", 65536},
        {"1MiB", 1048576},
        {"3GiB", 3ull << 30},
        {"1kB", 1000},
        {"2MB", 2'000'000},
        {"5GB", 5'000'000'000},
        {"18446744073709551615", UINT64_MAX},
        {"17179869183GiB", 17179869183ull << 30},
    }));
    CAPTURE(c.text);
    CHECK(parse_size(c.text) == c.expected);
}

TEST_CASE("parse_size rejects everything else", "[config][units]")
{
    struct Case {
        const char* text;
        const char* message;
    };
    const auto c = GENERATE(values<Case>({
        {"1 MiB", "expected a size like 1MiB, 64KiB or 4096, got \"1 MiB\""},
        {"1mb", "got \"1mb\""},
        {"1KB", "got \"1KB\""},
        {"1kiB", "got \"1kiB\""},
        {"1TiB", "got \"1TiB\""},
        {"-1", "got \"-1\""},
        {"1.5MiB", "got \"1.5MiB\""},
        {"MiB", "got \"MiB\""},
        {"", "got \"\""},
        {"18446744073709551616", "size \"18446744073709551616\" is too large"},
        {"17179869184GiB", "size \"17179869184GiB\" is too large"},
        {"18446744073709552GB", "is too large"},
    }));
    CAPTURE(c.text);
    CHECK_THROWS_WITH(parse_size(c.text), Catch::Contains(c.message));
}

TEST_CASE("parse_file_mode reads three octal digits, or four with a leading 0", "[config][units]")
{
    CHECK(parse_file_mode("660") == 0660);
    CHECK(parse_file_mode("0660") == 0660);
    CHECK(parse_file_mode("600") == 0600);
    CHECK(parse_file_mode("0777") == 0777);
    CHECK(parse_file_mode("000") == 0);
}

TEST_CASE("parse_file_mode rejects everything else", "[config][units]")
{
    // Special bits (setuid, sticky) mean nothing on a socket; decimal (438 = 0666), prefixes, signs and
    // symbolic modes are mistakes to report, not to guess at.
    for (const char* text :
         {"", "66", "06600", "1777", "4755", "0o660", "0x1b6", "680", "438", "-660", "+660", " 660", "rw-rw----"}) {
        CAPTURE(text);
        CHECK_THROWS_WITH(parse_file_mode(text), Catch::Contains("expected permission bits in octal like 0660"));
    }
}

TEST_CASE("unit parse errors are ParseError", "[config][units]")
{
    CHECK_THROWS_AS(parse_duration("soon"), ParseError);
    CHECK_THROWS_AS(parse_size("big"), ParseError);
    CHECK_THROWS_AS(parse_file_mode("rw"), ParseError);
}

TEST_CASE("parse_rate reads a count per second, minute or hour", "[config][units]")
{
    CHECK(parse_rate("50/s").count == 50);
    CHECK(parse_rate("50/s").per == 1s);
    CHECK(parse_rate("3000/m").per == 60s);
    CHECK(parse_rate("1/h").per == 3600s);
    CHECK(parse_rate("1000000/s").count == 1'000'000);
}

TEST_CASE("parse_rate rejects everything else", "[config][units]")
{
    for (const char* text : {"", "50", "/s", "50/", "50/sec", "50/S", "50 /s", "50/ s", "-5/s", "+5/s", "5.5/s", "50/d",
                             "0/s", "1000001/s", "99999999999999999999999/s", "50/s/s"}) {
        CAPTURE(text);
        CHECK_THROWS_AS(parse_rate(text), ParseError);
    }
    CHECK_THROWS_WITH(parse_rate("50/d"), "expected a rate like 50/s, 3000/m or 100/h, got \"50/d\"");
    CHECK_THROWS_WITH(parse_rate("0/m"), "expected a rate from 1 to 1000000 per unit, got \"0/m\"");
}
