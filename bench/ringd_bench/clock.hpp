// Monotonic time in nanoseconds (a vDSO call, cheap enough to take twice per request) and deadline helpers.
#pragma once

#include <algorithm>
#include <cstdint>
#include <time.h>

namespace ringd_bench {

[[nodiscard]] inline uint64_t now_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

[[nodiscard]] inline uint64_t seconds_to_ns(double s)
{
    return static_cast<uint64_t>(s * 1e9);
}

// Milliseconds from `now` until `deadline`, rounded up and clamped to [0, cap_ms]: an epoll_wait timeout
// that never oversleeps a deadline by more than a millisecond.
[[nodiscard]] inline int wait_ms_until(uint64_t now, uint64_t deadline, int cap_ms = 100)
{
    if (deadline <= now) return 0;
    uint64_t ms = (deadline - now + 999'999) / 1'000'000;
    return static_cast<int>(std::min<uint64_t>(ms, static_cast<uint64_t>(cap_ms)));
}

} // namespace ringd_bench
