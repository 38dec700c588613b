// udp-echo config validation: see echo_config.hpp.
#include "echo_config.hpp"

#include "common/config_mapping.hpp"
#include "common/config_scalar.hpp"

#include <ringd/plugin.hpp>
#include <stdexcept>
#include <string>
#include <yaml-cpp/yaml.h>

namespace ringd::udp_echo {

using plugin_common::scalar_text;

namespace {

constexpr const char* not_a_mapping =
    "expected a mapping of udp-echo options (transform, max_datagram, deny_source_ports, rate_limit)";
constexpr const char* rate_limit_expected = "off, or a mapping like {per_source: 1000/s, burst: 200}";

// A plain decimal integer in [min, max].
uint32_t integer(const YAML::Node& node, const std::string& key, uint32_t min, uint32_t max, const char* unit)
{
    const std::string expected =
        std::string("an integer from ") + std::to_string(min) + " to " + std::to_string(max) + unit;
    const std::string text = scalar_text(node, key, expected);
    uint64_t v = 0;
    bool ok = !text.empty() && text.size() <= 10;
    for (const char c : text) {
        if (c < '0' || c > '9') {
            ok = false;
            break;
        }
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!ok || v < min || v > max) throw ConfigError(key, "expected " + expected + ", got \"" + text + "\"");
    return static_cast<uint32_t>(v);
}

// Items are reported by index, "deny_source_ports.2", which the host locates like any other dotted key.
PortSet parse_ports(const YAML::Node& node)
{
    if (!node.IsSequence()) {
        throw ConfigError("deny_source_ports",
                          "expected a list of ports and \"A-B\" ranges, e.g. [\"0-1023\", 40000] or []");
    }
    PortSet ports;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const std::string key = "deny_source_ports." + std::to_string(i);
        try {
            ports.add(parse_port_range(scalar_text(node[i], key, "a port or an \"A-B\" range")));
        } catch (const std::invalid_argument& e) {
            throw ConfigError(key, e.what());
        }
    }
    return ports;
}

RateLimit parse_rate_limit(const YAML::Node& node)
{
    RateLimit limit;
    for (const auto& entry : node) {
        const std::string name = scalar_text(entry.first, "rate_limit", "option names to be strings");
        const std::string key = "rate_limit." + name;
        if (name == "per_source") {
            const std::string text = scalar_text(entry.second, key, "a rate like 1000/s");
            try {
                limit.per_second = parse_rate(text);
            } catch (const std::invalid_argument& e) {
                throw ConfigError(key, e.what());
            }
        } else if (name == "burst") {
            limit.burst = integer(entry.second, key, 1, 1'000'000, " (datagrams)");
        } else if (name == "max_sources") {
            limit.max_sources = integer(entry.second, key, 8, 1u << 22, " (sources tracked per worker)");
        } else {
            throw ConfigError(key, "unknown key \"" + name + "\"; expected per_source, burst or max_sources");
        }
    }
    return limit;
}

} // namespace

double parse_rate(std::string_view text)
{
    const std::string expected = "expected a rate like 1000/s (a whole number from 1 to 1000000000 per s, m or h)";
    const std::size_t slash = text.find('/');
    const std::string_view count = text.substr(0, slash);
    const std::string_view unit = slash == std::string_view::npos ? "" : text.substr(slash + 1);
    uint64_t n = 0;
    bool ok = !count.empty() && count.size() <= 10;
    for (const char c : count) {
        if (c < '0' || c > '9') {
            ok = false;
            break;
        }
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    const double seconds = unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
    if (!ok || n < 1 || n > 1'000'000'000 || seconds == 0) {
        throw std::invalid_argument(expected + ", got \"" + std::string(text) + "\"");
    }
    return static_cast<double>(n) / seconds;
}

Config parse_config(std::string_view yaml)
{
    Config config;
    bool ports_given = false;
    for (const auto& [key, value] : plugin_common::read_config_mapping(yaml, not_a_mapping)) {
        if (key == "transform") {
            const std::string transform = scalar_text(value, key, "upper or none");
            if (transform == "upper") {
                config.transform = Config::Transform::upper;
            } else if (transform == "none") {
                config.transform = Config::Transform::none;
            } else {
                throw ConfigError(key, "expected upper or none, got \"" + transform + "\"");
            }
        } else if (key == "max_datagram") {
            config.max_datagram = integer(value, key, 1, 65535, " (bytes)");
        } else if (key == "deny_source_ports") {
            config.deny_source_ports = parse_ports(value);
            ports_given = true;
        } else if (key == "rate_limit") {
            if (value.IsScalar() && (value.Scalar() == "off" || value.Scalar() == "false")) {
                config.rate_limit.reset();
            } else if (value.IsMap()) {
                config.rate_limit = parse_rate_limit(value);
            } else {
                throw ConfigError(key, std::string("expected ") + rate_limit_expected);
            }
        } else {
            throw ConfigError(key, "unknown key \"" + key +
                                       "\"; expected transform, max_datagram, deny_source_ports or rate_limit");
        }
    }
    if (!ports_given) config.deny_source_ports.add({1, 1023}); // the well-known service ports
    config.deny_source_ports.add({0, 0});                      // cannot be replied to at all
    return config;
}

} // namespace ringd::udp_echo
