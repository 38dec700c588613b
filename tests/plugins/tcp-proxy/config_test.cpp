// tcp-proxy's config: every key, its defaults, and the errors (with the key at fault) for bad values.
#include "proxy_config.hpp"

#include <catch2/catch.hpp>
#include <ringd/plugin.hpp>
#include <string>
#include <utility>

using namespace ringd::tcp_proxy;
using namespace std::chrono_literals;

namespace {

std::pair<std::string, std::string> config_error(const std::string& yaml)
{
    try {
        (void)parse_config(yaml);
    } catch (const ringd::ConfigError& e) {
        return {e.key(), e.what()};
    }
    FAIL("accepted: " << yaml);
    return {};
}

} // namespace

TEST_CASE("defaults, with the one required key", "[tcp_proxy][config]")
{
    const Config c = parse_config("{upstreams: [tcp://127.0.0.1:9000]}");
    REQUIRE(c.upstreams.size() == 1);
    CHECK(c.upstreams[0].text == "tcp://127.0.0.1:9000");
    CHECK(c.balance == Balance::round_robin);
    CHECK(c.connect_timeout == 2s);
    CHECK(c.down_time == 10s);
    CHECK(c.buffer == 256 * 1024);
    CHECK(c.send_proxy == SendProxy::off);
}

TEST_CASE("every key", "[tcp_proxy][config]")
{
    const Config c = parse_config("upstreams: [tcp://127.0.0.1:9000, 'tcp://[::1]:9001', unix:///run/app.sock, "
                                  "unix:@app]\nbalance: least_connections\nconnect_timeout: 500ms\ndown_time: 1m\n"
                                  "buffer: 1MiB\nsend_proxy: v2\n");
    REQUIRE(c.upstreams.size() == 4);
    CHECK(c.upstreams[1].family() == AF_INET6);
    CHECK(c.upstreams[2].is_unix());
    CHECK(c.upstreams[3].is_abstract_unix());
    CHECK(c.balance == Balance::least_connections);
    CHECK(c.connect_timeout == 500ms);
    CHECK(c.down_time == 60s);
    CHECK(c.buffer == 1024 * 1024);
    CHECK(c.send_proxy == SendProxy::v2);
    CHECK(parse_config("{upstreams: [tcp://127.0.0.1:9000], send_proxy: v1}").send_proxy == SendProxy::v1);
    CHECK(parse_config("{upstreams: [tcp://127.0.0.1:9000], send_proxy: off}").send_proxy == SendProxy::off);
}

TEST_CASE("bad configs name the key at fault", "[tcp_proxy][config]")
{
    struct Case {
        const char* yaml;
        const char* key;
        const char* message;
    };
    const Case cases[] = {
        {"{}", "", "upstreams: is required"},
        {"{upstreams: tcp://127.0.0.1:9000}", "upstreams", "expected a list of upstreams"},
        {"{upstreams: []}", "upstreams", "at least one"},
        {"{upstreams: [tcp://127.0.0.1:9000, udp://127.0.0.1:9001]}", "upstreams[1]", "stream address"},
        {"{upstreams: [tcp://localhost:9000]}", "upstreams[0]", "host names are not resolved"},
        {"{upstreams: [tcp://127.0.0.1:9000, tcp://127.0.0.1:9000]}", "upstreams[1]", "listed twice"},
        {"{upstreams: [[tcp://127.0.0.1:9000]]}", "upstreams[0]", "expected an upstream"},
        {"{upstreams: [tcp://127.0.0.1:9000], balance: random}", "balance", "round_robin or least_connections"},
        {"{upstreams: [tcp://127.0.0.1:9000], connect_timeout: 2}", "connect_timeout", "expected a duration"},
        {"{upstreams: [tcp://127.0.0.1:9000], connect_timeout: 0}", "connect_timeout", "longer than 0"},
        {"{upstreams: [tcp://127.0.0.1:9000], down_time: 2h}", "down_time", "at most 1h"},
        {"{upstreams: [tcp://127.0.0.1:9000], buffer: 1KiB}", "buffer", "between 4KiB and 64MiB"},
        {"{upstreams: [tcp://127.0.0.1:9000], buffer: lots}", "buffer", "expected a size"},
        {"{upstreams: [tcp://127.0.0.1:9000], send_proxy: v3}", "send_proxy", "expected v1, v2 or off"},
        {"{upstreams: [tcp://127.0.0.1:9000], send_proxy: [v1]}", "send_proxy", "expected v1, v2 or off"},
        {"{upstreams: [tcp://127.0.0.1:9000], upstream: x}", "upstream", "unknown key"},
        {"[tcp://127.0.0.1:9000]", "", "must be a mapping"},
    };
    for (const Case& c : cases) {
        INFO(c.yaml);
        const auto [key, message] = config_error(c.yaml);
        CHECK(key == c.key);
        CHECK_THAT(message, Catch::Contains(c.message));
    }
}

TEST_CASE("at most 64 upstreams", "[tcp_proxy][config]")
{
    std::string yaml = "upstreams: [";
    for (int i = 0; i < 65; ++i)
        yaml += (i ? ", " : "") + std::string("tcp://127.0.0.1:") + std::to_string(9000 + i);
    yaml += "]";
    CHECK(config_error(yaml).first == "upstreams");
}
