// CounterCell: one counter that exactly one thread writes and any thread reads.
//
// The data path counts in cells like this one, one set per worker (ListenerStats, WorkerStats), and a reader
// sums the workers' cells. Adding is a relaxed load and a relaxed store, no locked read-modify-write: only the
// owning worker ever writes the cell, so nothing can be lost between the two, and another thread reading it
// sees some value the cell had, never a torn one.
//
// RINGD_COUNTERS=0 (CMake -DRINGD_COUNTERS=OFF) compiles every add() to nothing: the baseline the counting build
// is benchmarked against (docs/benchmarks.md). Counters then read 0.
#pragma once

#include <atomic>
#include <cstdint>

#ifndef RINGD_COUNTERS
#define RINGD_COUNTERS 1
#endif

namespace ringd::engine {

inline constexpr bool counting_enabled = RINGD_COUNTERS != 0;

class CounterCell {
public:
    // The owning thread only.
    void add(uint64_t n = 1) noexcept
    {
        if constexpr (counting_enabled)
            value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    }
    // Any thread.
    [[nodiscard]] uint64_t read() const noexcept { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<uint64_t> value_{0};
};

} // namespace ringd::engine
