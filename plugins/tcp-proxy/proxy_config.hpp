// tcp-proxy's `config:` mapping, strictly validated (keys and defaults: README.md).
#pragma once

#include "config/endpoint.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringd::tcp_proxy {

enum class Balance { round_robin, least_connections };

struct Config {
    std::vector<config::Endpoint> upstreams; // tcp:// (IPv4, [IPv6]) or unix://, in the order written
    Balance balance = Balance::round_robin;
    std::chrono::milliseconds connect_timeout{2000};
    // How long an upstream that refused or timed out a connect is skipped before it is tried again.
    std::chrono::milliseconds down_time{10'000};
    // Per direction: output queued towards one side above this pauses reading from the other side, until it
    // drains to half of it. Bounds a proxied connection's memory at about 2 x buffer whatever its peers do.
    uint64_t buffer = 256 * 1024;
};

// Parses the listener's `config:` YAML. Throws ringd::ConfigError with the dotted key at fault (for example
// "upstreams[1]") and what was expected.
[[nodiscard]] Config parse_config(std::string_view yaml);

} // namespace ringd::tcp_proxy
