// udp-echo's `config:` mapping, strictly validated (keys and defaults: README.md).
#pragma once

#include "port_set.hpp"

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringd::udp_echo {

struct RateLimit {
    double per_second = 1000; // `per_source`, e.g. "1000/s", "600/m", "3600/h"
    uint32_t burst = 200;
    uint32_t max_sources = 16384; // per worker; see rate_limiter.hpp for what happens when it is full
};

struct Config {
    enum class Transform { upper, none };

    Transform transform = Transform::upper;
    uint32_t max_datagram = 65507;                     // larger datagrams are dropped (and counted), never truncated
    PortSet deny_source_ports;                         // always contains port 0, which cannot be replied to
    std::optional<RateLimit> rate_limit = RateLimit{}; // nullopt: `rate_limit: off`
};

// Parses the listener's `config:` YAML. Throws ringd::ConfigError with the dotted key at fault (for example
// "rate_limit.per_source") and what was expected.
[[nodiscard]] Config parse_config(std::string_view yaml);

// "1000/s" -> 1000.0, "60/m" -> 1.0, "3600/h" -> 1.0. Throws std::invalid_argument.
[[nodiscard]] double parse_rate(std::string_view text);

} // namespace ringd::udp_echo
