// Per-source token buckets for one worker thread (udp-echo's `rate_limit`), in fixed memory.
//
// A source is a peer *address*: IPv4 (also as ::ffff:a.b.c.d) or a full IPv6 address, without the port, since
// a reflection attack spoofs the victim's address with any ports it likes. Each source may take `burst`
// replies at once and `per_second` on average.
//
// Table: max_sources entries (rounded up to a power of two, at least 8) in an 8-way set-associative array
// indexed by a keyed hash, so lookups cost one short scan and nothing is allocated after construction. An
// entry whose bucket has been idle long enough to be full again (burst / per_second) is indistinguishable from
// a new source, so it is reused without changing anyone's budget. When a source's set has no free or idle
// entry (a flood of many distinct sources), that source is charged to one overflow bucket shared by all such
// sources, with the same rate and burst: together they can never get more than one source's budget, at the
// price of legitimate new sources being limited while the flood lasts.
//
// Not thread safe: udp-echo keeps one RateLimiter per worker (host->worker_index()).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <sys/socket.h>
#include <vector>

namespace ringd::udp_echo {

struct SourceKey {
    std::array<uint8_t, 16> bytes{}; // IPv6, or IPv4-mapped IPv6
    bool operator==(const SourceKey&) const = default;
};

// A datagram's sender: its rate-limit key and its port (host order).
struct Source {
    SourceKey key;
    uint16_t port = 0;
};

// Nullopt for anything but a complete AF_INET / AF_INET6 address.
[[nodiscard]] std::optional<Source> source_of(const sockaddr* peer, socklen_t peer_len);

class RateLimiter {
public:
    static constexpr std::size_t ways = 8;

    RateLimiter(double per_second, double burst, std::size_t max_sources, uint64_t seed);

    // Takes a token for `source` at monotonic time `now_ns`; false means over the limit (drop).
    [[nodiscard]] bool allow(const SourceKey& source, int64_t now_ns);

    [[nodiscard]] std::size_t capacity() const { return entries_.size(); }
    [[nodiscard]] std::size_t tracked() const; // entries in use (a scan: tests and diagnostics only)
    [[nodiscard]] uint64_t overflowed() const { return overflowed_; } // datagrams charged to the overflow bucket

private:
    struct Bucket {
        double tokens = 0;
        int64_t last_ns = 0;
    };
    struct Entry {
        SourceKey key;
        bool used = false;
        Bucket bucket;
    };

    bool take(Bucket& bucket, int64_t now_ns) const;
    [[nodiscard]] std::size_t set_of(const SourceKey& key) const;

    std::vector<Entry> entries_;
    std::size_t set_mask_ = 0;
    double per_ns_;
    double burst_;
    int64_t idle_ns_; // idle this long, a bucket is full again
    uint64_t seed_;
    Bucket overflow_;
    uint64_t overflowed_ = 0;
};

} // namespace ringd::udp_echo
