// Port ranges for deny_source_ports: see port_set.hpp.
#include "port_set.hpp"

#include <optional>
#include <stdexcept>
#include <string>

namespace ringd::udp_echo {

namespace {

std::optional<uint16_t> parse_port(std::string_view text)
{
    if (text.empty() || text.size() > 5) return std::nullopt;
    uint32_t v = 0;
    for (const char c : text) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<uint32_t>(c - '0');
    }
    if (v > 65535) return std::nullopt;
    return static_cast<uint16_t>(v);
}

} // namespace

PortRange parse_port_range(std::string_view text)
{
    const std::size_t dash = text.find('-');
    const auto first = parse_port(text.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_port(text.substr(dash + 1));
    if (!first || !last || *first > *last) {
        throw std::invalid_argument("expected a port 0-65535 or a range \"A-B\" with A <= B, got \"" +
                                    std::string(text) + "\"");
    }
    return {*first, *last};
}

void PortSet::add(PortRange range)
{
    for (uint32_t port = range.first; port <= range.last; ++port)
        bits_.set(port);
}

} // namespace ringd::udp_echo
