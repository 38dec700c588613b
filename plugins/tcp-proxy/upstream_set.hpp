// UpstreamSet: which upstream a new client goes to, and which are down.
//
// Shared by every worker of an instance without locks: the round-robin cursor, each upstream's open-connection
// count (least_connections) and its "down until" time are relaxed atomics. They only steer choices, so a choice
// made on a slightly stale view is still a good one; no invariant spans two of them.
//
// Health is passive, as in nginx's stream upstreams (max_fails=1, fail_timeout=down_time): a connect that is
// refused or times out marks the upstream down for down_time, during which no client is sent there; after it,
// the next client tries it again, and a successful connect marks it up at once.
#pragma once

#include "proxy_config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace ringd::tcp_proxy {

class UpstreamSet {
public:
    // Nanoseconds on a monotonic clock (steady_clock in the plugin, any numbers in tests).
    using Time = int64_t;

    UpstreamSet(std::size_t count, Balance balance, std::chrono::nanoseconds down_time);

    // One client's way through the upstreams: each is tried at most once, down ones are skipped.
    class Attempt {
    public:
        // The next upstream to try, or nullopt when every upstream is down or already tried.
        [[nodiscard]] std::optional<std::size_t> next(Time now);

    private:
        friend class UpstreamSet;
        explicit Attempt(UpstreamSet& set) : set_(&set) {}
        UpstreamSet* set_;
        uint64_t tried_ = 0; // bit i: upstream i was tried (at most 64 upstreams, see proxy_config.cpp)
    };
    [[nodiscard]] Attempt attempt() { return Attempt(*this); }

    // A failed connect: skip the upstream until now + down_time. True for the call that took it from up to down
    // (exactly one across all workers per outage), so the plugin logs and counts each outage once; marking an
    // upstream again whose down time is over but which has not accepted a connect since returns false.
    bool mark_down(std::size_t upstream, Time now);
    // A successful connect. True for the call that ended an outage (exactly one across all workers).
    bool mark_up(std::size_t upstream);
    [[nodiscard]] bool is_down(std::size_t upstream, Time now) const;

    // Open proxied connections per upstream, for least_connections.
    void opened(std::size_t upstream);
    void closed(std::size_t upstream);
    [[nodiscard]] uint64_t active(std::size_t upstream) const;

    [[nodiscard]] std::size_t size() const { return count_; }

private:
    struct alignas(64) State { // one cache line each: workers update different upstreams without false sharing
        // 0 while up; otherwise when the outage's skip ends (it stays non-zero after that, until a connect
        // succeeds: an upstream retried after its down time is not "up" before it accepted a connection).
        std::atomic<Time> down_until{0};
        std::atomic<uint64_t> active{0};
    };

    std::size_t count_;
    Balance balance_;
    Time down_time_ns_;
    std::unique_ptr<State[]> state_;
    alignas(64) std::atomic<uint64_t> cursor_{0}; // round-robin position; tie-breaker for least_connections
};

} // namespace ringd::tcp_proxy
