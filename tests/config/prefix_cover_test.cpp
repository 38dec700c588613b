// Containment and coverage of address prefixes (the arithmetic behind the allow/deny warnings).
#include "config/prefix_cover.hpp"

#include <catch2/catch.hpp>
#include <vector>

using namespace ringd::config;
using namespace ringd::config::detail;

namespace {

Prefix p(const char* text)
{
    return prefix_of(parse_cidr(text));
}

} // namespace

TEST_CASE("IPv4 ranges live in the IPv4-mapped block", "[config][cidr]")
{
    CHECK(prefix_contains(ipv4_peers(), p("0.0.0.0/0")));
    CHECK(prefix_contains(ipv4_peers(), p("0.0.0.0/0")));
    CHECK(prefix_contains(p("0.0.0.0/0"), ipv4_peers()));
    CHECK(prefix_contains(p("::/0"), p("10.0.0.0/8")));
    CHECK(prefix_contains(p("::ffff:10.0.0.0/104"), p("10.1.0.0/16")));
    CHECK(prefix_contains(p("10.0.0.0/8"), p("::ffff:10.1.2.3")));
    CHECK_FALSE(prefixes_overlap(p("fd00::/8"), ipv4_peers()));
    CHECK_FALSE(prefixes_overlap(p("::1"), p("0.0.0.1")));
}

TEST_CASE("containment is by prefix", "[config][cidr]")
{
    CHECK(prefix_contains(p("10.0.0.0/8"), p("10.255.0.0/16")));
    CHECK(prefix_contains(p("10.0.0.0/8"), p("10.0.0.0/8")));
    CHECK_FALSE(prefix_contains(p("10.0.0.0/16"), p("10.0.0.0/8")));
    CHECK_FALSE(prefix_contains(p("10.0.0.0/8"), p("11.0.0.0/8")));
    CHECK(prefix_contains(p("fd00::/8"), p("fdff:1::/32")));
    CHECK_FALSE(prefixes_overlap(p("10.0.0.0/9"), p("10.128.0.0/9")));
}

TEST_CASE("covered_by takes the union of the ranges", "[config][cidr]")
{
    const std::vector<Prefix> halves{p("10.0.0.0/9"), p("10.128.0.0/9")};
    CHECK(covered_by(p("10.0.0.0/8"), halves));
    CHECK(covered_by(p("10.64.0.0/10"), halves));
    CHECK_FALSE(covered_by(p("10.0.0.0/7"), halves));

    const std::vector<Prefix> gap{p("10.0.0.0/9"), p("10.128.0.0/10")}; // 10.192.0.0/10 is left
    CHECK_FALSE(covered_by(p("10.0.0.0/8"), gap));

    const std::vector<Prefix> quarters{p("0.0.0.0/2"), p("64.0.0.0/2"), p("128.0.0.0/2"), p("192.0.0.0/3"),
                                       p("224.0.0.0/3")};
    CHECK(covered_by(ipv4_peers(), quarters));
    CHECK_FALSE(covered_by(p("::/0"), quarters));
    CHECK(covered_by(p("::/0"), std::vector<Prefix>{p("::/1"), p("8000::/1")}));
    CHECK_FALSE(covered_by(p("10.0.0.0/8"), std::vector<Prefix>{}));
    CHECK(covered_by(p("10.1.2.3"), std::vector<Prefix>{p("10.1.2.3/32")}));
}

TEST_CASE("covered_by of a full-length prefix by many single addresses stays quick", "[config][cidr]")
{
    // 256 host routes make a /24: the recursion only descends where a range lies inside.
    std::vector<Prefix> hosts;
    for (int i = 0; i < 256; ++i)
        hosts.push_back(p(("192.0.2." + std::to_string(i)).c_str()));
    CHECK(covered_by(p("192.0.2.0/24"), hosts));
    hosts.pop_back();
    CHECK_FALSE(covered_by(p("192.0.2.0/24"), hosts));
}
