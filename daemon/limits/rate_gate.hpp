// RateGate: a per-source token bucket (`connection_rate_per_source: { rate: 50/s, burst: 100 }`), kept as one
// number per source.
//
// A bucket of `burst` tokens refilled at `count` per `period`, where each connection takes one, is the same
// thing as the generic cell rate algorithm (GCRA): a source's state is its "theoretical arrival time" `tat`,
// the moment its bucket will be full again. Taking a token moves tat one interval (period / count) later; a
// token is there when tat, so moved, is at most `burst` intervals ahead of now. tat <= now means a full bucket.
// One int64 per source instead of a count and a refill time, integer arithmetic only, and the refill is
// computed lazily from the `now` the caller passes in, so tests step time by hand.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace ringd::limits {

// `count` connections per `period`, at most `burst` at once (a full bucket).
struct ConnectionRate {
    uint32_t count = 1;
    std::chrono::nanoseconds period{std::chrono::seconds(1)};
    uint32_t burst = 1;
};

class RateGate {
public:
    // count, burst >= 1; period / count is rounded to the nearest nanosecond (at least 1 ns).
    explicit RateGate(const ConnectionRate& rate)
        : interval_(std::max<int64_t>(1, (rate.period.count() + rate.count / 2) / std::max<uint32_t>(rate.count, 1))),
          window_(interval_ * std::max<uint32_t>(rate.burst, 1))
    {
    }

    // Takes one token from the bucket whose state is `tat`, at time `now` (ns on a monotonic clock); false (and
    // `tat` unchanged) when the bucket is empty.
    [[nodiscard]] bool try_take(int64_t& tat, int64_t now) const noexcept
    {
        const int64_t next = std::max(tat, now) + interval_;
        if (next - now > window_) return false;
        tat = next;
        return true;
    }

    // A full bucket: the source has used nothing recently, so forgetting it loses nothing.
    [[nodiscard]] static bool is_full(int64_t tat, int64_t now) noexcept { return tat <= now; }

    [[nodiscard]] int64_t interval_ns() const noexcept { return interval_; }

private:
    int64_t interval_; // ns between two tokens
    int64_t window_;   // burst * interval: how far ahead of now tat may run
};

} // namespace ringd::limits
