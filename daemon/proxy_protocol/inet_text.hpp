// The textual addresses and ports of a v1 header, parsed strictly and written canonically.
//
// Accepted (spec 2.1): IPv4 as exactly four decimal numbers 0..255 with no leading zeros; IPv6 as hexadecimal
// groups of 1 to 4 digits (either case) separated by colons, with at most one "::", 128 bits in all, and no
// embedded dotted IPv4 part (the spec allows only hex groups); ports as decimal 0..65535 with no leading zeros.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ringd::proxy_protocol {

// The longest valid texts: "255.255.255.255", eight groups of four hex digits, "65535".
inline constexpr std::size_t max_ipv4_text = 15;
inline constexpr std::size_t max_ipv6_text = 39;
inline constexpr std::size_t max_port_text = 5;

[[nodiscard]] std::optional<std::array<uint8_t, 4>> parse_ipv4_text(std::string_view text);
[[nodiscard]] std::optional<std::array<uint8_t, 16>> parse_ipv6_text(std::string_view text);
[[nodiscard]] std::optional<uint16_t> parse_port_text(std::string_view text);

// Characters that may appear in each field: the v1 decoder uses them to refuse a line at its first impossible
// character, before the CRLF has arrived.
[[nodiscard]] bool is_ipv4_text_char(char c);
[[nodiscard]] bool is_ipv6_text_char(char c);
[[nodiscard]] bool is_port_text_char(char c);

// "192.0.2.1"; RFC 5952's form ("2001:db8::1", lowercase, the longest run of two or more zero groups as "::"),
// but always in hex groups, also for IPv4-mapped addresses ("::ffff:c000:201"), so the decoder above reads it.
[[nodiscard]] std::string format_ipv4_text(const std::array<uint8_t, 4>& address);
[[nodiscard]] std::string format_ipv6_text(const std::array<uint8_t, 16>& address);

} // namespace ringd::proxy_protocol
