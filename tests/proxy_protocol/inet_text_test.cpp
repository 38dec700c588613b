// The v1 header's textual addresses and ports: strict parsing, canonical writing.
#include "proxy_protocol/inet_text.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstring>

using namespace ringd::proxy_protocol;

TEST_CASE("IPv4 text: four decimal octets, no leading zeros")
{
    for (const char* good : {"0.0.0.0", "192.168.0.1", "255.255.255.255", "10.0.10.100"}) {
        INFO(good);
        const auto parsed = parse_ipv4_text(good);
        REQUIRE(parsed);
        in_addr expected{};
        REQUIRE(inet_pton(AF_INET, good, &expected) == 1);
        REQUIRE(std::memcmp(parsed->data(), &expected, 4) == 0);
        REQUIRE(format_ipv4_text(*parsed) == good);
    }
    for (const char* bad : {"", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.04", "256.1.1.1", "1..2.3", "1.2.3.4.",
                            ".1.2.3", "1.2.3.-4", "1.2.3.4 ", "1.2.3.a", "1.2.3.1000", "0x1.2.3.4"}) {
        INFO(bad);
        REQUIRE_FALSE(parse_ipv4_text(bad));
    }
}

TEST_CASE("IPv6 text: hex groups with at most one ::, no dotted tail")
{
    for (const char* good : {"::", "::1", "1::", "2001:db8::1", "2001:DB8:0:0:0:0:0:1", "fe80::1:2:3:4:5:6",
                             "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8"}) {
        INFO(good);
        const auto parsed = parse_ipv6_text(good);
        REQUIRE(parsed);
        in6_addr expected{};
        REQUIRE(inet_pton(AF_INET6, good, &expected) == 1);
        REQUIRE(std::memcmp(parsed->data(), &expected, 16) == 0);
    }
    for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", "1::2::3", ":1::2", "1::2:",
                            "12345::", "g::", "::ffff:1.2.3.4", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "[::1]"}) {
        INFO(bad);
        REQUIRE_FALSE(parse_ipv6_text(bad));
    }
}

TEST_CASE("IPv6 text is written in RFC 5952 form, mapped IPv4 in hex groups")
{
    for (const char* canonical : {"::", "::1", "2001:db8::1", "1:0:2::", "1:0:0:4::8", "1::2:0:0:3:4",
                                  "ffff::", "1:2:3:4:5:6:7:8", "1:0:2:0:3:0:4:0", "::ffff:c000:201"}) {
        INFO(canonical);
        const auto parsed = parse_ipv6_text(canonical);
        REQUIRE(parsed);
        REQUIRE(format_ipv6_text(*parsed) == canonical);
    }
}

TEST_CASE("ports: decimal 0..65535 without leading zeros")
{
    REQUIRE(parse_port_text("0") == 0);
    REQUIRE(parse_port_text("443") == 443);
    REQUIRE(parse_port_text("65535") == 65535);
    for (const char* bad : {"", "00", "0443", "65536", "99999", "123456", "-1", "+1", "1 ", "0x10"}) {
        INFO(bad);
        REQUIRE_FALSE(parse_port_text(bad));
    }
}
