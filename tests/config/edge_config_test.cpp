// The keys for running at the edge and behind a load balancer: per-source limits in `limits:`
// (max_connections_per_source, connection_rate_per_source, source_prefix_v4/v6, max_tracked_sources) and a
// listener's PROXY protocol keys (proxy_protocol, proxy_trusted, proxy_timeout). Good values and defaults, each
// bad value at its file:line:col, and the warnings.
#include "config/config.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace ringd::config;
using namespace ringd::config::test;
using namespace std::chrono_literals;

namespace {

LoadOptions no_plugin_files()
{
    LoadOptions options;
    options.check_plugin_files = false;
    return options;
}

// Listener 'a' on lines 1-4 at `listen`, with `extra` lines (indented 4) from line 5 on.
std::string listener(const std::string& listen, const std::string& extra = "")
{
    return "listeners:\n  - name: a\n    listen: " + listen + "\n    plugin: echo\n" + extra;
}

const std::string tcp4 = "tcp://127.0.0.1:8080";
const std::string tcp6 = "tcp://[::]:8080";
const std::string udp4 = "udp://127.0.0.1:8080";
const std::string unix_path = "unix:///run/a.sock";

Config load(const std::string& yaml)
{
    const TempDir dir;
    return parse_config(yaml, "test.yaml", dir.path(), no_plugin_files());
}

std::vector<Diagnostic> errors(const std::string& yaml)
{
    const TempDir dir;
    return errors_of(yaml, dir.path(), no_plugin_files());
}

} // namespace

TEST_CASE("per-source limits and PROXY protocol are off by default", "[config][edge]")
{
    const Config config = load(listener(tcp4));
    const ListenerConfig& a = config.listeners.at(0);
    CHECK_FALSE(a.limits.max_connections_per_source.has_value());
    CHECK_FALSE(a.limits.connection_rate_per_source.has_value());
    CHECK_FALSE(a.limits.limits_per_source());
    CHECK(a.limits.source_prefix_v4 == 32);
    CHECK(a.limits.source_prefix_v6 == 64);
    CHECK(a.limits.max_tracked_sources == 65536);
    CHECK(a.proxy_protocol == ProxyProtocol::off);
    CHECK(a.proxy_trusted.empty());
    CHECK(a.proxy_timeout == 3s);
    CHECK(config.warnings.empty());
}

TEST_CASE("per-source limits are read at the top level and merged per key into a listener's", "[config][edge]")
{
    const Config config =
        load("limits:\n"
             "  max_connections_per_source: 20\n"
             "  connection_rate_per_source: { rate: 3000/m, burst: 100 }\n"
             "  source_prefix_v4: 24\n"
             "  source_prefix_v6: 56\n"
             "  max_tracked_sources: 100000\n" +
             listener(tcp4, "    limits: { max_connections_per_source: 5, source_prefix_v6: 128 }\n") +
             "  - name: b\n    listen: tcp://127.0.0.1:8081\n    plugin: echo\n"
             "    limits:\n"
             "      max_connections_per_source: off\n"
             "      connection_rate_per_source: { rate: 1/h }\n");
    CHECK(config.limits.max_connections_per_source == 20u);
    REQUIRE(config.limits.connection_rate_per_source.has_value());
    CHECK(*config.limits.connection_rate_per_source == ConnectionRate{.count = 3000, .per = 60s, .burst = 100});
    const Limits& a = config.listeners.at(0).limits;
    CHECK(a.max_connections_per_source == 5u);
    CHECK(a.connection_rate_per_source == config.limits.connection_rate_per_source);
    CHECK(a.source_prefix_v4 == 24);
    CHECK(a.source_prefix_v6 == 128);
    CHECK(a.max_tracked_sources == 100000);
    const Limits& b = config.listeners.at(1).limits;
    CHECK_FALSE(b.max_connections_per_source.has_value()); // `off` unsets the inherited one
    // A listener's rate replaces the inherited one whole; burst defaults to the rate's count.
    CHECK(b.connection_rate_per_source == ConnectionRate{.count = 1, .per = 3600s, .burst = 1});
    CHECK(b.limits_per_source());
    CHECK(config.warnings.empty());
}

TEST_CASE("the extremes of each per-source value are accepted", "[config][edge]")
{
    const Config config = load(listener(tcp4, "    limits:\n"
                                              "      max_connections: 1000000\n"
                                              "      max_connections_per_source: \"1\"\n"
                                              "      connection_rate_per_source: { rate: 1000000/s, burst: 1000000 }\n"
                                              "      source_prefix_v4: 0\n"
                                              "      source_prefix_v6: 0\n"
                                              "      max_tracked_sources: 10000000\n"));
    const Limits& a = config.listeners.at(0).limits;
    CHECK(a.max_connections_per_source == 1u);
    CHECK(a.connection_rate_per_source == ConnectionRate{.count = 1'000'000, .per = 1s, .burst = 1'000'000});
    CHECK(a.source_prefix_v4 == 0);
    CHECK(a.source_prefix_v6 == 0);
    CHECK(a.max_tracked_sources == 10'000'000);
    CHECK(load(listener(tcp4, "    limits: { source_prefix_v4: 32, source_prefix_v6: 128 }\n"))
              .listeners.at(0)
              .limits.source_prefix_v6 == 128);
}

TEST_CASE("proxy_protocol with proxy_trusted and proxy_timeout, per transport", "[config][edge]")
{
    const Config tcp = load(listener(tcp4, "    proxy_protocol: any\n    proxy_trusted: [10.0.0.0/8, \"fd00::/8\"]\n"
                                           "    proxy_timeout: 500ms\n"));
    const ListenerConfig& a = tcp.listeners.at(0);
    CHECK(a.proxy_protocol == ProxyProtocol::any);
    REQUIRE(a.proxy_trusted.size() == 2);
    CHECK(format_cidr(a.proxy_trusted[0]) == "10.0.0.0/8");
    CHECK(format_cidr(a.proxy_trusted[1]) == "fd00::/8");
    CHECK(a.proxy_timeout == 500ms);
    CHECK(tcp.warnings.empty());
    CHECK(load(listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: [127.0.0.1]\n"))
              .listeners.at(0)
              .proxy_protocol == ProxyProtocol::v1);
    CHECK(load(listener(udp4, "    proxy_protocol: v2\n    proxy_trusted: [127.0.0.1]\n"))
              .listeners.at(0)
              .proxy_protocol == ProxyProtocol::v2);
    // A unix listener needs no proxy_trusted: the socket file's mode decides who may connect.
    const Config unix_config = load(listener(unix_path, "    proxy_protocol: v2\n    mode: \"0660\"\n"));
    CHECK(unix_config.listeners.at(0).proxy_protocol == ProxyProtocol::v2);
    CHECK(unix_config.warnings.empty());
    CHECK(load(listener(tcp4, "    proxy_protocol: off\n")).listeners.at(0).proxy_protocol == ProxyProtocol::off);
    CHECK(describe(ProxyProtocol::any) == "any");
}

namespace {

struct Bad {
    std::string yaml;
    std::string where;   // line:col in test.yaml
    std::string message; // a substring of the message
};

std::vector<Bad> bad_configs()
{
    const std::string trusted = "    proxy_trusted: [10.0.0.1]\n";
    return {
        // max_connections_per_source
        {listener(tcp4, "    limits: { max_connections_per_source: 0 }\n"), "5:43",
         "expected off or a number from 1 to 1000000 for 'max_connections_per_source', got \"0\""},
        {listener(tcp4, "    limits: { max_connections_per_source: lots }\n"), "5:43", "got \"lots\""},
        {listener(tcp4, "    limits: { max_connections_per_source: 1000001 }\n"), "5:43", "got \"1000001\""},
        {"limits:\n  max_connections_per_source: [5]\n" + listener(tcp4), "2:31", "got a sequence"},
        // connection_rate_per_source
        {listener(tcp4, "    limits: { connection_rate_per_source: 50/s }\n"), "5:43",
         "expected a mapping like { rate: 50/s, burst: 100 }, or off, for 'connection_rate_per_source', got \"50/s\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 50 } }\n"), "5:51",
         "expected a rate like 50/s, 3000/m or 100/h, got \"50\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 50/d } }\n"), "5:51", "got \"50/d\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 50 / s } }\n"), "5:51", "got \"50 / s\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 0/s } }\n"), "5:51",
         "expected a rate from 1 to 1000000 per unit, got \"0/s\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 1000001/s } }\n"), "5:51",
         "got \"1000001/s\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 50/s, burst: 0 } }\n"), "5:64",
         "expected a number from 1 to 1000000 for 'burst', got \"0\""},
        {listener(tcp4, "    limits: { connection_rate_per_source: { burst: 10 } }\n"), "5:43",
         "missing required key 'rate' (like rate: 50/s) in connection_rate_per_source"},
        {listener(tcp4, "    limits: { connection_rate_per_source: { rate: 5/s, brust: 10 } }\n"), "5:56",
         "unknown key 'brust' in connection_rate_per_source; did you mean 'burst'?"},
        // prefixes and the table
        {listener(tcp4, "    limits: { source_prefix_v4: 33 }\n"), "5:33",
         "expected a number from 0 to 32 for 'source_prefix_v4', got \"33\""},
        {listener(tcp4, "    limits: { source_prefix_v6: 129 }\n"), "5:33",
         "expected a number from 0 to 128 for 'source_prefix_v6', got \"129\""},
        {listener(tcp4, "    limits: { source_prefix_v6: /64 }\n"), "5:33", "got \"/64\""},
        {listener(tcp4, "    limits: { max_tracked_sources: 0 }\n"), "5:36",
         "expected a number from 1 to 10000000 for 'max_tracked_sources', got \"0\""},
        {listener(tcp4, "    limits: { max_tracked_sources: 10000001 }\n"), "5:36", "got \"10000001\""},
        {listener(tcp4, "    limits: { max_connection_per_source: 5 }\n"), "5:15",
         "did you mean 'max_connections_per_source'?"},
        // proxy_protocol
        {listener(tcp4, "    proxy_protocol: v3\n" + trusted), "5:21",
         "expected v1, v2, any or off for 'proxy_protocol', got \"v3\""},
        {listener(tcp4, "    proxy_protocol: on\n" + trusted), "5:21", "got \"on\""},
        {listener(tcp4, "    proxy_protocol:\n" + trusted), "5:5", "got nothing (null)"},
        {listener(udp4, "    proxy_protocol: v1\n" + trusted), "5:21",
         "a udp listener takes only proxy_protocol v2 (udp://127.0.0.1:8080)"},
        {listener(udp4, "    proxy_protocol: any\n" + trusted), "5:21", "a udp listener takes only proxy_protocol v2"},
        {listener(tcp4, "    proxy_protocol: v2\n"), "5:5",
         "'proxy_protocol' needs 'proxy_trusted': the addresses of the proxies or load balancers"},
        {listener(udp4, "    proxy_protocol: v2\n"), "5:5", "'proxy_protocol' needs 'proxy_trusted'"},
        // proxy_trusted
        {listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: []\n"), "6:20",
         "an empty 'proxy_trusted' list trusts nobody"},
        {listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: 10.0.0.1\n"), "6:20",
         "expected a list of address ranges like [127.0.0.0/8, \"::1/128\"] for 'proxy_trusted', got \"10.0.0.1\""},
        {listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: [10.0.0.0/33]\n"), "6:21",
         "expected a prefix length from 0 to 32"},
        {listener(unix_path, "    proxy_protocol: v1\n    proxy_trusted: [10.0.0.1]\n"), "6:5",
         "'proxy_trusted' cannot be used on a unix socket listener: its peers have no address"},
        // proxy_timeout
        {listener(tcp4, "    proxy_protocol: v1\n" + trusted + "    proxy_timeout: 5ms\n"), "7:20",
         "expected a proxy_timeout from 10ms to 1m, got \"5ms\""},
        {listener(tcp4, "    proxy_protocol: v1\n" + trusted + "    proxy_timeout: 2m\n"), "7:20", "got \"2m\""},
        {listener(tcp4, "    proxy_protocol: v1\n" + trusted + "    proxy_timeout: 3\n"), "7:20",
         "a unit is required unless the value is 0"},
        {listener(tcp4, "    proxy_protocl: v1\n"), "5:5", "did you mean 'proxy_protocol'?"},
    };
}

} // namespace

TEST_CASE("each bad per-source or PROXY value is reported at file:line:col", "[config][edge][errors]")
{
    for (const Bad& bad : bad_configs()) {
        INFO("config:\n" << bad.yaml);
        const std::vector<Diagnostic> diagnostics = errors(bad.yaml);
        INFO("diagnostics:\n" << dump(diagnostics));
        REQUIRE(diagnostics.size() == 1);
        CHECK(diagnostics[0].where.str() == "test.yaml:" + bad.where);
        CHECK_THAT(diagnostics[0].message, Catch::Contains(bad.message));
    }
}

namespace {

struct Warned {
    std::string yaml;
    std::string where;
    std::string message;
};

std::vector<Warned> warned_configs()
{
    return {
        // Trusting every peer
        {listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: [10.0.0.0/8, 0.0.0.0/0]\n"), "6:33",
         "proxy_trusted 0.0.0.0/0 trusts every peer of tcp://127.0.0.1:8080: anyone who can connect can send a PROXY "
         "header and claim to be any client"},
        {listener(tcp6, "    proxy_protocol: v2\n    proxy_trusted: [\"::/0\"]\n"), "6:21",
         "proxy_trusted ::/0 trusts every peer of tcp://[::]:8080"},
        {listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: [0.0.0.0/1, 128.0.0.0/1]\n"), "6:5",
         "the proxy_trusted entries trust every peer"},
        {listener(udp4, "    proxy_protocol: v2\n    proxy_trusted: [0.0.0.0/0]\n"), "6:21", "trusts every peer"},
        // Keys with no effect
        {listener(tcp4, "    proxy_trusted: [10.0.0.1]\n"), "5:5",
         "'proxy_trusted' has no effect without proxy_protocol"},
        {listener(tcp4, "    proxy_protocol: off\n    proxy_timeout: 1s\n"), "6:5",
         "'proxy_timeout' has no effect without proxy_protocol"},
        {listener(udp4, "    proxy_protocol: v2\n    proxy_trusted: [10.0.0.1]\n    proxy_timeout: 1s\n"), "7:5",
         "'proxy_timeout' has no effect on a udp listener (udp://127.0.0.1:8080): each datagram carries its own "
         "header"},
        {listener(unix_path, "    limits: { max_connections_per_source: 5 }\n"), "5:15",
         "per-source limits have no effect on a unix listener (unix:///run/a.sock) without proxy_protocol"},
        // Limits that cannot work as written
        {listener(tcp4, "    limits: { max_connections: 100, max_connections_per_source: 100 }\n"), "5:65",
         "max_connections_per_source 100 is not below the listener's max_connections 100: it never refuses"},
        {listener(tcp4, "    limits: { max_connections_per_source: 5, max_tracked_sources: 1000 }\n"), "5:67",
         "max_tracked_sources 1000 is below max_connections 10000: a source with an open connection is never "
         "forgotten"},
        {"limits: { connection_rate_per_source: { rate: 5/s }, max_connections: 70000 }\n" + listener(tcp4), "1:39",
         "max_tracked_sources 65536 is below max_connections 70000"},
    };
}

} // namespace

TEST_CASE("per-source and PROXY warnings, each at its place", "[config][edge][warnings]")
{
    for (const Warned& w : warned_configs()) {
        INFO("config:\n" << w.yaml);
        const Config config = load(w.yaml);
        INFO("warnings:\n" << dump(config.warnings));
        REQUIRE(config.warnings.size() == 1);
        CHECK(config.warnings[0].where.str() == "test.yaml:" + w.where);
        CHECK(config.warnings[0].listener == "a");
        CHECK_THAT(config.warnings[0].message, Catch::Contains(w.message));
    }
}

TEST_CASE("no warning where per-source and PROXY settings are fine", "[config][edge][warnings]")
{
    for (const std::string& yaml : {
             listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: [10.0.0.0/8]\n"),
             listener(tcp6, "    proxy_protocol: v2\n    proxy_trusted: [\"fd00::/8\", 10.0.0.0/8]\n"),
             listener(tcp4, "    proxy_protocol: v1\n    proxy_trusted: [10.0.0.0/8]\n    proxy_timeout: 1m\n"),
             // A per-source limit inherited by a unix listener is not its mistake.
             "limits: { max_connections_per_source: 5 }\n" + listener(unix_path),
             listener(unix_path, "    proxy_protocol: v1\n    limits: { max_connections_per_source: 5 }\n"),
             listener(tcp4, "    limits: { max_connections: 100, max_connections_per_source: 99, "
                            "max_tracked_sources: 100 }\n"),
             // Without a per-source limit, a small table is never used.
             listener(tcp4, "    limits: { max_tracked_sources: 10 }\n"),
         }) {
        INFO("config:\n" << yaml);
        const Config config = load(yaml);
        INFO("warnings:\n" << dump(config.warnings));
        CHECK(config.warnings.empty());
    }
}
