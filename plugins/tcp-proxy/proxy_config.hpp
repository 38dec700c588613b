// tcp-proxy's `config:` mapping, strictly validated (keys and defaults: README.md).
#pragma once

#include "config/endpoint.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace ringd::tcp_proxy {

enum class Balance { round_robin, least_connections };

// Whether each upstream connection starts with a PROXY protocol header naming the client (docs/proxy-protocol.md).
enum class SendProxy { off, v1, v2 };

struct Config {
    std::vector<config::Endpoint> upstreams; // tcp:// (IPv4, [IPv6]) or unix://, in the order written
    Balance balance = Balance::round_robin;
    std::chrono::milliseconds connect_timeout{2000};
    // How long an upstream that refused or timed out a connect is skipped before it is tried again.
    std::chrono::milliseconds down_time{10'000};
    // Per direction: the most the proxy queues towards one side. A read that does not fit is kept (one read at
    // most) and the other side is not read until the queue has drained to half of this (flow.hpp). Bounds a
    // proxied pair's memory at about 2 x buffer whatever its peers do. Keep it at most the listener's
    // max_output_buffer (README.md, "Backpressure").
    uint64_t buffer = 256 * 1024;
    SendProxy send_proxy = SendProxy::off;
};

// Parses the listener's `config:` YAML. Throws ringd::ConfigError with the dotted key at fault (for example
// "upstreams[1]") and what was expected.
[[nodiscard]] Config parse_config(std::string_view yaml);

} // namespace ringd::tcp_proxy
