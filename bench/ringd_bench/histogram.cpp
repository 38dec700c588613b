// LatencyHistogram's read side: bucket geometry and quantiles (see histogram.hpp for the layout).
#include "histogram.hpp"

#include <cmath>

namespace ringd_bench {

// Bucket i < 128 holds exactly the value i. Above, i = (shift << 6) + (v >> shift) with v >> shift in
// [64, 128), so shift = i / 64 - 1 and the bucket spans [mantissa << shift, (mantissa + 1) << shift).
void LatencyHistogram::bucket_range(unsigned index, uint64_t& low, uint64_t& width)
{
    if (index < (2u << kHalfBits)) {
        low = index;
        width = 1;
        return;
    }
    unsigned shift = (index >> kHalfBits) - 1;
    uint64_t mantissa = index - (shift << kHalfBits);
    low = mantissa << shift;
    width = uint64_t{1} << shift;
}

double LatencyHistogram::quantile_ns(double q) const
{
    if (total_ == 0) return 0.0;
    if (q < 0) q = 0;
    if (q > 1) q = 1;
    auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(total_)));
    if (rank == 0) rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            uint64_t low = 0, width = 0;
            bucket_range(i, low, width);
            double mid = static_cast<double>(low) + static_cast<double>(width - 1) / 2.0;
            return mid > static_cast<double>(max_) ? static_cast<double>(max_) : mid;
        }
    }
    return static_cast<double>(max_);
}

void LatencyHistogram::merge(const LatencyHistogram& other)
{
    for (unsigned i = 0; i < kBuckets; ++i)
        counts_[i] += other.counts_[i];
    total_ += other.total_;
    if (other.max_ > max_) max_ = other.max_;
}

} // namespace ringd_bench
