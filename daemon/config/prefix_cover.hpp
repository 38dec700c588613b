// Internal to ringd_config: set arithmetic on address ranges, for the warnings about access lists (an `allow`
// entry that a `deny` covers, a `deny` that refuses everyone). Pure logic, unit-tested in tests/config.
#pragma once

#include "config/endpoint.hpp"

#include <array>
#include <cstdint>
#include <span>

namespace ringd::config::detail {

// A range in one 128-bit address space in which an IPv4 range a.b.c.d/n is ::ffff:a.b.c.d/(96+n). That is
// exactly how Cidr::contains matches: an IPv4 peer against an IPv6 range is compared in its mapped form, and an
// IPv4 range matches an IPv6 peer only when the peer is IPv4-mapped. So "range A contains range B" here means
// every peer B matches, A matches too.
struct Prefix {
    std::array<uint8_t, 16> bytes{};
    unsigned length = 0; // 0..128
};

[[nodiscard]] Prefix prefix_of(const Cidr& cidr);

// The IPv4-mapped block ::ffff:0:0/96: every peer an IPv4 socket can see.
[[nodiscard]] Prefix ipv4_peers();

// Two prefixes are either nested or disjoint.
[[nodiscard]] bool prefix_contains(const Prefix& outer, const Prefix& inner);
[[nodiscard]] bool prefixes_overlap(const Prefix& a, const Prefix& b);

// True when every address of `target` is in at least one of `by` (their union, not only a single one).
[[nodiscard]] bool covered_by(const Prefix& target, std::span<const Prefix> by);

} // namespace ringd::config::detail
