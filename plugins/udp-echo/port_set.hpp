// Source ports udp-echo never replies to (`deny_source_ports`): parsing of "N" and "A-B" items, and a fixed
// 65536-bit set that is built at create() and only read afterwards.
#pragma once

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringd::udp_echo {

struct PortRange {
    uint16_t first = 0;
    uint16_t last = 0;
};

// "40000" or "1-1023" (decimal, 0..65535, first <= last, no spaces). Throws std::invalid_argument.
[[nodiscard]] PortRange parse_port_range(std::string_view text);

class PortSet {
public:
    void add(PortRange range);
    [[nodiscard]] bool contains(uint16_t port) const { return bits_.test(port); }
    [[nodiscard]] std::size_t count() const { return bits_.count(); }

private:
    std::bitset<65536> bits_;
};

} // namespace ringd::udp_echo
