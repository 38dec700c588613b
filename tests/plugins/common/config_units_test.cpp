// plugins/common/config_units: durations, sizes and whole numbers in plugin config options.
#include "common/config_units.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>

using namespace ringd::plugin_common;
using namespace std::chrono_literals;

TEST_CASE("durations and sizes", "[plugin_common]")
{
    CHECK(parse_duration("0") == 0ms);
    CHECK(parse_duration("250ms") == 250ms);
    CHECK(parse_duration("10s") == 10s);
    CHECK(parse_duration("2m") == 120s);
    CHECK(parse_duration("1h") == 3600s);
    CHECK_THROWS_AS(parse_duration("10"), std::invalid_argument);
    CHECK_THROWS_AS(parse_duration("s"), std::invalid_argument);
    CHECK_THROWS_AS(parse_duration("1.5s"), std::invalid_argument);
    CHECK_THROWS_AS(parse_duration(" 1s"), std::invalid_argument);
    CHECK(parse_size("4096") == 4096);
    CHECK(parse_size("4096B") == 4096);
    CHECK(parse_size("64KiB") == 65536);
    CHECK(parse_size("1MiB") == 1048576);
    CHECK(parse_size("1GiB") == 1073741824);
    CHECK(parse_size("64kB") == 64000);
    CHECK(parse_size("1MB") == 1000000);
    CHECK_THROWS_AS(parse_size("1 MiB"), std::invalid_argument);
    CHECK_THROWS_AS(parse_size("MiB"), std::invalid_argument);
    CHECK_THROWS_AS(parse_size("99999999999999999999"), std::invalid_argument);
    CHECK_THROWS_AS(parse_size("99999999999GiB"), std::invalid_argument);
}

TEST_CASE("whole numbers are digits only", "[plugin_common]")
{
    CHECK(whole_number("0") == 0u);
    CHECK(whole_number("18446744073709551615") == 18446744073709551615ull);
    CHECK_FALSE(whole_number(""));
    CHECK_FALSE(whole_number("-1"));
    CHECK_FALSE(whole_number("+1"));
    CHECK_FALSE(whole_number("1 "));
    CHECK_FALSE(whole_number("18446744073709551616"));
}
