// SourceKey: the "source" that per-source limits count, i.e. a client address with the bits beyond a configured
// prefix cleared, so that one client holding many addresses (an IPv6 /64, a small IPv4 block) counts as one.
//
// Keys live in one 128-bit space in which IPv4 a.b.c.d is ::ffff:a.b.c.d, so an IPv4 peer seen on a dual-stack
// IPv6 socket as ::ffff:a.b.c.d and the same peer on an IPv4 socket (or named by a PROXY header) are one source,
// masked with the IPv4 prefix either way.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace ringd::limits {

// How much of an address names a source: source_prefix_v4 (0..32) and source_prefix_v6 (0..128).
struct SourcePrefixes {
    unsigned v4 = 32;
    unsigned v6 = 64;
};

struct SourceKey {
    std::array<uint8_t, 16> bytes{};

    friend bool operator==(const SourceKey&, const SourceKey&) = default;
};

// The key of `address` (AF_INET or AF_INET6); nullopt for an address with no IP (AF_UNIX, AF_UNSPEC: a unix
// peer, a PROXY header's LOCAL command), which per-source limits do not track.
[[nodiscard]] std::optional<SourceKey> source_key_of(const sockaddr* address, SourcePrefixes prefixes);

// "192.0.2.0" or "2001:db8::" (the masked address, without the prefix length): for logs and tests.
[[nodiscard]] std::string format_source_key(const SourceKey& key);

// A 64-bit hash of the key under a per-table secret `seed`. The table picks shards and slots with it; a seed
// unknown to clients keeps them from choosing addresses that all land in one shard or one probe chain.
[[nodiscard]] uint64_t hash_source_key(const SourceKey& key, uint64_t seed) noexcept;

} // namespace ringd::limits
