// deny_source_ports items: "N" and "A-B".
#include "port_set.hpp"

#include <catch2/catch.hpp>

using ringd::udp_echo::parse_port_range;
using ringd::udp_echo::PortSet;

TEST_CASE("port items parse", "[ports]")
{
    CHECK(parse_port_range("0").first == 0);
    CHECK(parse_port_range("40000").last == 40000);
    CHECK(parse_port_range("65535").first == 65535);
    const auto r = parse_port_range("1-1023");
    CHECK(r.first == 1);
    CHECK(r.last == 1023);
    CHECK(parse_port_range("7-7").last == 7);
    CHECK(parse_port_range("0-65535").last == 65535);
}

TEST_CASE("bad port items are rejected", "[ports]")
{
    for (const char* bad : {"", "-", "65536", "1-65536", "10-5", "-5", "5-", "a", "1 - 5", " 1", "1-2-3", "0x10", "+5",
                            "100000", "1.5"}) {
        INFO("item \"" << bad << "\"");
        CHECK_THROWS_WITH(parse_port_range(bad), Catch::StartsWith("expected a port 0-65535 or a range \"A-B\""));
    }
}

TEST_CASE("port sets", "[ports]")
{
    PortSet set;
    CHECK(set.count() == 0);
    set.add({1, 1023});
    set.add({40000, 40000});
    set.add({1000, 2000}); // overlaps
    CHECK(set.count() == 2001);
    CHECK(!set.contains(0));
    CHECK(set.contains(1));
    CHECK(set.contains(2000));
    CHECK(!set.contains(2001));
    CHECK(set.contains(40000));
    CHECK(!set.contains(65535));
    set.add({65535, 65535});
    CHECK(set.contains(65535));
}
