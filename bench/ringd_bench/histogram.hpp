// LatencyHistogram: fixed-size log-linear histogram of nanosecond latencies, HdrHistogram-style.
// Recording is an array increment (no allocation per request); values below 128 ns are exact, above that
// each power of two is split into 64 buckets, so a reported percentile is within 0.8% of the true value.
#pragma once

#include <array>
#include <cstdint>

namespace ringd_bench {

class LatencyHistogram {
public:
    void record(uint64_t ns)
    {
        ++counts_[bucket_of(ns)];
        ++total_;
        if (ns > max_) max_ = ns;
    }

    // The value (ns) at quantile q in [0, 1]: the midpoint of the bucket holding the ceil(q * n)-th sample.
    [[nodiscard]] double quantile_ns(double q) const;

    [[nodiscard]] uint64_t count() const { return total_; }
    [[nodiscard]] uint64_t max_ns() const { return max_; }
    void merge(const LatencyHistogram& other);

private:
    static constexpr unsigned kHalfBits = 6;  // 64 sub-buckets per power of two
    static constexpr unsigned kMaxShift = 34; // values up to 2^41 ns (~36 min), clamped above
    static constexpr unsigned kBuckets = (kMaxShift + 2) << kHalfBits;

    [[nodiscard]] static unsigned bucket_of(uint64_t ns)
    {
        unsigned msb = ns ? 63u - static_cast<unsigned>(__builtin_clzll(ns)) : 0u;
        unsigned shift = msb > kHalfBits ? msb - kHalfBits : 0u;
        if (shift > kMaxShift) return kBuckets - 1;
        return (shift << kHalfBits) + static_cast<unsigned>(ns >> shift);
    }
    static void bucket_range(unsigned index, uint64_t& low, uint64_t& width);

    std::array<uint64_t, kBuckets> counts_{};
    uint64_t total_ = 0;
    uint64_t max_ = 0;
};

} // namespace ringd_bench
