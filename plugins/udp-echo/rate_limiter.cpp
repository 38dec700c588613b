// Per-source token buckets: see rate_limiter.hpp.
#include "rate_limiter.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <netinet/in.h>

namespace ringd::udp_echo {

namespace {

uint64_t mix(uint64_t h) // MurmurHash3's 64-bit finaliser
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

} // namespace

std::optional<Source> source_of(const sockaddr* peer, socklen_t peer_len)
{
    if (peer == nullptr) return std::nullopt;
    Source s;
    if (peer->sa_family == AF_INET && peer_len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        sockaddr_in a;
        std::memcpy(&a, peer, sizeof a);
        s.port = ntohs(a.sin_port);
        s.key.bytes[10] = s.key.bytes[11] = 0xff; // ::ffff:a.b.c.d, the same key as an IPv4-mapped peer
        std::memcpy(&s.key.bytes[12], &a.sin_addr, 4);
        return s;
    }
    if (peer->sa_family == AF_INET6 && peer_len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        sockaddr_in6 a;
        std::memcpy(&a, peer, sizeof a);
        s.port = ntohs(a.sin6_port);
        std::memcpy(s.key.bytes.data(), &a.sin6_addr, 16);
        return s;
    }
    return std::nullopt;
}

RateLimiter::RateLimiter(double per_second, double burst, std::size_t max_sources, uint64_t seed)
    : per_ns_(per_second / 1e9), burst_(burst), idle_ns_(static_cast<int64_t>(std::ceil(burst / per_ns_))),
      seed_(seed), overflow_{burst, 0}
{
    const std::size_t capacity = std::bit_ceil(std::max(max_sources, ways));
    entries_.resize(capacity);
    set_mask_ = capacity / ways - 1;
}

bool RateLimiter::take(Bucket& bucket, int64_t now_ns) const
{
    if (now_ns > bucket.last_ns) {
        bucket.tokens = std::min(burst_, bucket.tokens + static_cast<double>(now_ns - bucket.last_ns) * per_ns_);
        bucket.last_ns = now_ns;
    }
    if (bucket.tokens < 1.0) return false;
    bucket.tokens -= 1.0;
    return true;
}

std::size_t RateLimiter::set_of(const SourceKey& key) const
{
    uint64_t lo = 0, hi = 0;
    std::memcpy(&lo, key.bytes.data(), 8);
    std::memcpy(&hi, key.bytes.data() + 8, 8);
    // Keyed with a per-instance random seed, so a flood cannot aim all its sources at one victim's set.
    return static_cast<std::size_t>(mix(mix(lo ^ seed_) ^ hi) & set_mask_);
}

bool RateLimiter::allow(const SourceKey& source, int64_t now_ns)
{
    Entry* const set = &entries_[set_of(source) * ways];
    Entry* reusable = nullptr;
    for (std::size_t i = 0; i < ways; ++i) {
        Entry& e = set[i];
        if (e.used && e.key == source) return take(e.bucket, now_ns);
        if (!e.used) {
            if (reusable == nullptr || reusable->used) reusable = &e;
        } else if (now_ns - e.bucket.last_ns >= idle_ns_ &&
                   (reusable == nullptr || (reusable->used && e.bucket.last_ns < reusable->bucket.last_ns))) {
            reusable = &e; // idle long enough to be full: forgetting it changes nothing
        }
    }
    if (reusable == nullptr) {
        ++overflowed_;
        return take(overflow_, now_ns);
    }
    *reusable = Entry{source, true, Bucket{burst_, now_ns}};
    return take(reusable->bucket, now_ns);
}

std::size_t RateLimiter::tracked() const
{
    return static_cast<std::size_t>(
        std::count_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.used; }));
}

} // namespace ringd::udp_echo
