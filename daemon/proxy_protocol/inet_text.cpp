// Strict textual IPv4/IPv6 addresses and ports, written out by hand rather than with inet_pton(3): glibc's
// inet_pton accepts an IPv6 address with a dotted IPv4 tail, which v1 does not, and its rules for IPv4 are
// not documented as refusing leading zeros.
#include "proxy_protocol/inet_text.hpp"

#include <cstdio>

namespace ringd::proxy_protocol {

namespace {

bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int hex_value(char c)
{
    if (is_digit(c)) return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A decimal number of 1..max_digits digits without a leading zero ("0" itself is fine), at most `max`.
std::optional<unsigned> parse_decimal(std::string_view text, std::size_t max_digits, unsigned max)
{
    if (text.empty() || text.size() > max_digits) return std::nullopt;
    if (text.size() > 1 && text[0] == '0') return std::nullopt;
    unsigned value = 0;
    for (const char c : text) {
        if (!is_digit(c)) return std::nullopt;
        value = value * 10 + unsigned(c - '0');
    }
    if (value > max) return std::nullopt;
    return value;
}

// Hex groups separated by single colons ("1:2:3"), appended to `groups`; false on anything else. An empty
// text is zero groups.
bool parse_hex_groups(std::string_view text, std::array<uint16_t, 8>& groups, std::size_t& count)
{
    if (text.empty()) return true;
    while (true) {
        const std::size_t colon = text.find(':');
        const std::string_view group = text.substr(0, colon);
        if (group.empty() || group.size() > 4 || count == groups.size()) return false;
        unsigned value = 0;
        for (const char c : group) {
            const int digit = hex_value(c);
            if (digit < 0) return false;
            value = value * 16 + unsigned(digit);
        }
        groups[count++] = uint16_t(value);
        if (colon == std::string_view::npos) return true;
        text.remove_prefix(colon + 1);
    }
}

} // namespace

std::optional<std::array<uint8_t, 4>> parse_ipv4_text(std::string_view text)
{
    if (text.size() > max_ipv4_text) return std::nullopt;
    std::array<uint8_t, 4> address{};
    for (std::size_t i = 0; i < address.size(); ++i) {
        const std::size_t dot = text.find('.');
        const bool last = i + 1 == address.size();
        if (last != (dot == std::string_view::npos)) return std::nullopt;
        const auto octet = parse_decimal(text.substr(0, dot), 3, 255);
        if (!octet) return std::nullopt;
        address[i] = uint8_t(*octet);
        if (!last) text.remove_prefix(dot + 1);
    }
    return address;
}

std::optional<std::array<uint8_t, 16>> parse_ipv6_text(std::string_view text)
{
    if (text.size() < 2 || text.size() > max_ipv6_text) return std::nullopt;
    std::array<uint16_t, 8> head{};
    std::array<uint16_t, 8> tail{};
    std::size_t head_count = 0;
    std::size_t tail_count = 0;
    const std::size_t gap = text.find("::");
    if (gap == std::string_view::npos) {
        if (!parse_hex_groups(text, head, head_count) || head_count != 8) return std::nullopt;
    } else {
        const std::string_view after = text.substr(gap + 2);
        if (after.find("::") != std::string_view::npos) return std::nullopt;
        // "::" stands for at least one zero group, so at most 7 groups around it.
        if (!parse_hex_groups(text.substr(0, gap), head, head_count)) return std::nullopt;
        if (!parse_hex_groups(after, tail, tail_count)) return std::nullopt;
        if (head_count + tail_count > 7) return std::nullopt;
    }
    std::array<uint16_t, 8> groups{};
    for (std::size_t i = 0; i < head_count; ++i)
        groups[i] = head[i];
    for (std::size_t i = 0; i < tail_count; ++i)
        groups[8 - tail_count + i] = tail[i];
    std::array<uint8_t, 16> address{};
    for (std::size_t i = 0; i < groups.size(); ++i) {
        address[2 * i] = uint8_t(groups[i] >> 8);
        address[2 * i + 1] = uint8_t(groups[i] & 0xff);
    }
    return address;
}

std::optional<uint16_t> parse_port_text(std::string_view text)
{
    const auto port = parse_decimal(text, max_port_text, 65535);
    if (!port) return std::nullopt;
    return uint16_t(*port);
}

bool is_ipv4_text_char(char c)
{
    return is_digit(c) || c == '.';
}

bool is_ipv6_text_char(char c)
{
    return hex_value(c) >= 0 || c == ':';
}

bool is_port_text_char(char c)
{
    return is_digit(c);
}

std::string format_ipv4_text(const std::array<uint8_t, 4>& address)
{
    char text[max_ipv4_text + 1];
    std::snprintf(text, sizeof text, "%u.%u.%u.%u", address[0], address[1], address[2], address[3]);
    return text;
}

std::string format_ipv6_text(const std::array<uint8_t, 16>& address)
{
    std::array<unsigned, 8> groups{};
    for (std::size_t i = 0; i < groups.size(); ++i)
        groups[i] = unsigned(address[2 * i]) << 8 | address[2 * i + 1];
    // The longest run of zero groups (the first of equal ones), compressed only if at least two long.
    std::size_t best_start = groups.size();
    std::size_t best_length = 1;
    for (std::size_t i = 0; i < groups.size();) {
        std::size_t j = i;
        while (j < groups.size() && groups[j] == 0)
            ++j;
        if (j - i > best_length) {
            best_start = i;
            best_length = j - i;
        }
        i = j == i ? i + 1 : j;
    }
    std::string text;
    for (std::size_t i = 0; i < groups.size(); ++i) {
        if (i == best_start) {
            text += "::";
            i += best_length - 1;
            continue;
        }
        if (!text.empty() && text.back() != ':') text += ':';
        char group[5];
        std::snprintf(group, sizeof group, "%x", groups[i]);
        text += group;
    }
    return text;
}

} // namespace ringd::proxy_protocol
