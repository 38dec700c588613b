// udp-echo config validation: defaults, every key, and the dotted key plus message of every rejection.
#include "echo_config.hpp"

#include <catch2/catch.hpp>
#include <ringd/plugin.hpp>

using ringd::udp_echo::Config;
using ringd::udp_echo::parse_config;
using ringd::udp_echo::parse_rate;

namespace {

std::string error_of(const std::string& yaml)
{
    try {
        (void)parse_config(yaml);
    } catch (const ringd::ConfigError& e) {
        return e.key() + ": " + e.what();
    }
    return "(accepted)";
}

} // namespace

TEST_CASE("defaults", "[config]")
{
    for (const char* yaml : {"{}", "", "~"}) {
        const Config c = parse_config(yaml);
        CHECK(c.transform == Config::Transform::upper);
        CHECK(c.max_datagram == 65507);
        CHECK(c.deny_source_ports.count() == 1024); // 0-1023
        CHECK(c.deny_source_ports.contains(0));
        CHECK(c.deny_source_ports.contains(1023));
        CHECK(!c.deny_source_ports.contains(1024));
        REQUIRE(c.rate_limit);
        CHECK(c.rate_limit->per_second == 1000);
        CHECK(c.rate_limit->burst == 200);
        CHECK(c.rate_limit->max_sources == 16384);
    }
}

TEST_CASE("every key", "[config]")
{
    const Config c = parse_config(R"(
transform: none
max_datagram: 1000
deny_source_ports: [40000, "50000-50010", 7]
rate_limit: {per_source: 60/m, burst: 5, max_sources: 64}
)");
    CHECK(c.transform == Config::Transform::none);
    CHECK(c.max_datagram == 1000);
    CHECK(c.deny_source_ports.count() == 1 + 1 + 11 + 1); // 0 is always in
    CHECK(c.deny_source_ports.contains(40000));
    CHECK(c.deny_source_ports.contains(50005));
    CHECK(!c.deny_source_ports.contains(53)); // the list replaces the default
    REQUIRE(c.rate_limit);
    CHECK(c.rate_limit->per_second == 1.0);
    CHECK(c.rate_limit->burst == 5);
    CHECK(c.rate_limit->max_sources == 64);

    CHECK(parse_config("deny_source_ports: []").deny_source_ports.count() == 1);
    CHECK(!parse_config("rate_limit: off").rate_limit);
    CHECK(!parse_config("rate_limit: false").rate_limit);
    CHECK(parse_config("rate_limit: {}").rate_limit->burst == 200);
    CHECK(parse_config("rate_limit: {burst: 7}").rate_limit->per_second == 1000);
    CHECK(parse_config("max_datagram: 65535").max_datagram == 65535);
    CHECK(parse_config("max_datagram: '1'").max_datagram == 1);
}

TEST_CASE("rates", "[config]")
{
    CHECK(parse_rate("1000/s") == 1000);
    CHECK(parse_rate("60/m") == 1);
    CHECK(parse_rate("1800/h") == 0.5);
    CHECK(parse_rate("1000000000/s") == 1e9);
    for (const char* bad : {"1000", "/s", "1000/", "1000/sec", "-5/s", "1.5/s", " 10/s", "0/s", "10/d", "1000000001/s",
                            "99999999999/s", "10/s/s"}) {
        INFO("rate \"" << bad << "\"");
        CHECK_THROWS_WITH(parse_rate(bad), Catch::StartsWith("expected a rate like 1000/s"));
    }
}

TEST_CASE("rejections name the key and what was expected", "[config]")
{
    CHECK(error_of("colour: red") ==
          "colour: unknown key \"colour\"; expected transform, max_datagram, deny_source_ports or rate_limit");
    CHECK(error_of("transform: lower") == "transform: expected upper or none, got \"lower\"");
    CHECK(error_of("transform: [upper]") == "transform: expected upper or none");
    CHECK(error_of("max_datagram: 0") == "max_datagram: expected an integer from 1 to 65535 (bytes), got \"0\"");
    CHECK(error_of("max_datagram: 65536") ==
          "max_datagram: expected an integer from 1 to 65535 (bytes), got \"65536\"");
    CHECK(error_of("max_datagram: 1.5").starts_with("max_datagram: expected an integer from 1 to 65535"));
    CHECK(error_of("max_datagram: -1").starts_with("max_datagram: expected an integer from 1 to 65535"));
    CHECK(error_of("max_datagram: 64KiB").starts_with("max_datagram: expected an integer from 1 to 65535"));
    CHECK(error_of("max_datagram: 99999999999").starts_with("max_datagram: expected an integer"));
    CHECK(error_of("deny_source_ports: 80").starts_with("deny_source_ports: expected a list of ports"));
    CHECK(error_of("deny_source_ports: {a: 1}").starts_with("deny_source_ports: expected a list of ports"));
    CHECK(error_of("deny_source_ports: [80, 70000]") ==
          "deny_source_ports.1: expected a port 0-65535 or a range \"A-B\" with A <= B, got \"70000\"");
    CHECK(error_of("deny_source_ports: ['10-5']").starts_with("deny_source_ports.0: expected a port"));
    CHECK(error_of("deny_source_ports: [1, 2, [1]]") == "deny_source_ports.2: expected a port or an \"A-B\" range");
    CHECK(error_of("rate_limit: on") == "rate_limit: expected off, or a mapping like {per_source: 1000/s, burst: 200}");
    CHECK(error_of("rate_limit: [1000/s]").starts_with("rate_limit: expected off, or a mapping"));
    CHECK(error_of("rate_limit: {per_source: 1000}") ==
          "rate_limit.per_source: expected a rate like 1000/s (a whole number from 1 to 1000000000 per s, m or h), "
          "got \"1000\"");
    CHECK(error_of("rate_limit: {per_source: [1]}") == "rate_limit.per_source: expected a rate like 1000/s");
    CHECK(error_of("rate_limit: {burst: 0}") ==
          "rate_limit.burst: expected an integer from 1 to 1000000 (datagrams), got \"0\"");
    CHECK(error_of("rate_limit: {max_sources: 4}") ==
          "rate_limit.max_sources: expected an integer from 8 to 4194304 (sources tracked per worker), got \"4\"");
    CHECK(error_of("rate_limit: {per_sauce: 5/s}") ==
          "rate_limit.per_sauce: unknown key \"per_sauce\"; expected per_source, burst or max_sources");
    CHECK(error_of("[1, 2]").starts_with(": expected a mapping of udp-echo options"));
    CHECK(error_of("{transform: ").starts_with(": config is not valid YAML"));
}
