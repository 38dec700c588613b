// Containment and coverage of address prefixes; see prefix_cover.hpp.
#include "config/prefix_cover.hpp"

#include <algorithm>

namespace ringd::config::detail {
namespace {

bool bit_at(const std::array<uint8_t, 16>& bytes, unsigned index)
{
    return (bytes[index / 8] >> (7 - index % 8)) & 1u;
}

// The lower or upper half of `p` (p.length < 128).
Prefix half_of(const Prefix& p, bool upper)
{
    Prefix half = p;
    half.length = p.length + 1;
    if (upper) half.bytes[p.length / 8] |= static_cast<uint8_t>(0x80u >> (p.length % 8));
    return half;
}

} // namespace

Prefix prefix_of(const Cidr& cidr)
{
    Prefix p;
    if (cidr.family == AF_INET) {
        p.bytes[10] = 0xff;
        p.bytes[11] = 0xff;
        std::copy_n(cidr.bytes.begin(), 4, p.bytes.begin() + 12);
        p.length = 96 + cidr.prefix_len;
    } else {
        p.bytes = cidr.bytes;
        p.length = cidr.prefix_len;
    }
    return p;
}

Prefix ipv4_peers()
{
    Prefix p;
    p.bytes[10] = 0xff;
    p.bytes[11] = 0xff;
    p.length = 96;
    return p;
}

bool prefix_contains(const Prefix& outer, const Prefix& inner)
{
    if (outer.length > inner.length) return false;
    for (unsigned i = 0; i < outer.length; ++i) {
        if (bit_at(outer.bytes, i) != bit_at(inner.bytes, i)) return false;
    }
    return true;
}

bool prefixes_overlap(const Prefix& a, const Prefix& b)
{
    return prefix_contains(a, b) || prefix_contains(b, a);
}

// Splitting in halves only where some prefix of `by` lies strictly inside: each of those is reached through
// at most 128 splits, so the work is bounded by 128 * by.size() however the ranges are arranged.
bool covered_by(const Prefix& target, std::span<const Prefix> by)
{
    bool partial = false;
    for (const Prefix& p : by) {
        if (prefix_contains(p, target)) return true;
        if (prefix_contains(target, p)) partial = true;
    }
    if (!partial || target.length == 128) return false;
    return covered_by(half_of(target, false), by) && covered_by(half_of(target, true), by);
}

} // namespace ringd::config::detail
