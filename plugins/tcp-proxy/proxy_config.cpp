// tcp-proxy's config: upstreams (the same address grammar as `listen:`), balance, timeouts, buffer, send_proxy.
#include "proxy_config.hpp"

#include "common/config_mapping.hpp"
#include "common/config_scalar.hpp"
#include "common/config_units.hpp"

#include <ringd/plugin.hpp>
#include <stdexcept>
#include <string>
#include <yaml-cpp/yaml.h>

namespace ringd::tcp_proxy {

namespace {

constexpr std::size_t max_upstreams = 64;

config::Endpoint upstream(const YAML::Node& node, const std::string& key)
{
    const std::string text =
        plugin_common::scalar_text(node, key, "an upstream like tcp://127.0.0.1:9000 or unix:///run/app.sock");
    config::Endpoint e;
    try {
        e = config::parse_endpoint(text);
    } catch (const config::ParseError& err) {
        throw ConfigError(key, err.what());
    }
    if (!e.is_stream()) throw ConfigError(key, "an upstream is a stream address (tcp:// or unix://), not " + text);
    return e;
}

std::vector<config::Endpoint> upstream_list(const YAML::Node& node, const std::string& key)
{
    if (!node.IsSequence()) {
        throw ConfigError(key, "expected a list of upstreams, e.g. [tcp://127.0.0.1:9000, unix:///run/app.sock]");
    }
    if (node.size() == 0) throw ConfigError(key, "expected at least one upstream");
    if (node.size() > max_upstreams) throw ConfigError(key, "at most " + std::to_string(max_upstreams) + " upstreams");
    std::vector<config::Endpoint> list;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const std::string item_key = key + "[" + std::to_string(i) + "]";
        config::Endpoint e = upstream(node[i], item_key);
        for (const config::Endpoint& earlier : list) {
            if (earlier.same_address(e)) throw ConfigError(item_key, e.text + " is listed twice");
        }
        list.push_back(std::move(e));
    }
    return list;
}

std::chrono::milliseconds positive_duration(const YAML::Node& node, const std::string& key)
{
    try {
        const auto d = plugin_common::parse_duration(plugin_common::scalar_text(node, key, "a duration"));
        if (d.count() <= 0) throw ConfigError(key, "must be longer than 0");
        if (d > std::chrono::hours(1)) throw ConfigError(key, "at most 1h");
        return d;
    } catch (const std::invalid_argument& e) {
        throw ConfigError(key, e.what());
    }
}

SendProxy send_proxy(const YAML::Node& node, const std::string& key)
{
    const std::string v = plugin_common::scalar_text(node, key, "v1, v2 or off");
    if (v == "v1") return SendProxy::v1;
    if (v == "v2") return SendProxy::v2;
    if (v == "off") return SendProxy::off;
    throw ConfigError(key, "expected v1, v2 or off, got \"" + v + "\"");
}

} // namespace

Config parse_config(std::string_view yaml)
{
    Config c;
    bool has_upstreams = false;
    for (const auto& [key, value] : plugin_common::read_config_mapping(yaml, "tcp-proxy's config must be a mapping")) {
        if (key == "upstreams") {
            c.upstreams = upstream_list(value, key);
            has_upstreams = true;
        } else if (key == "balance") {
            const std::string b = plugin_common::scalar_text(value, key, "round_robin or least_connections");
            if (b == "round_robin") {
                c.balance = Balance::round_robin;
            } else if (b == "least_connections") {
                c.balance = Balance::least_connections;
            } else {
                throw ConfigError(key, "expected round_robin or least_connections, got \"" + b + "\"");
            }
        } else if (key == "connect_timeout") {
            c.connect_timeout = positive_duration(value, key);
        } else if (key == "down_time") {
            c.down_time = positive_duration(value, key);
        } else if (key == "buffer") {
            try {
                c.buffer = plugin_common::parse_size(plugin_common::scalar_text(value, key, "a size"));
            } catch (const std::invalid_argument& e) {
                throw ConfigError(key, e.what());
            }
            if (c.buffer < 4096 || c.buffer > (64u << 20)) throw ConfigError(key, "must be between 4KiB and 64MiB");
        } else if (key == "send_proxy") {
            c.send_proxy = send_proxy(value, key);
        } else {
            throw ConfigError(key, "unknown key (known: upstreams, balance, connect_timeout, down_time, buffer, "
                                   "send_proxy)");
        }
    }
    if (!has_upstreams) throw ConfigError("", "upstreams: is required (a list of tcp:// or unix:// addresses)");
    return c;
}

} // namespace ringd::tcp_proxy
