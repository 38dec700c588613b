// TimerQueue: one-shot timers of one worker, ordered by deadline. The worker sleeps in io_uring until the
// earliest deadline (the wait's own timeout), so timers cost no SQE and no extra syscall.
// Cancellation is lazy: a cancelled id is dropped from the live map and skipped when it reaches the top.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

namespace ringd::plugin_host {
class PluginInstance;
}

namespace ringd::engine {

using Clock = std::chrono::steady_clock;

// A connection's timer (timer_start), or a worker timer (worker_timer_start, ABI 1.1) when `instance` is set.
struct TimerTarget {
    uint32_t conn_index = 0;
    uint32_t conn_reuse_tag = 0;
    void* arg = nullptr;
    const plugin_host::PluginInstance* instance = nullptr; // worker timer: the instance it belongs to
};

// `delay_ms` after `now`, at most a year: a plugin's timer_start(UINT64_MAX) overflowed the nanosecond clock
// and fired at once. A timer a year out is as good as never.
[[nodiscard]] Clock::time_point deadline_after(Clock::time_point now, uint64_t delay_ms);

class TimerQueue {
public:
    [[nodiscard]] int64_t start(Clock::time_point deadline, TimerTarget target);
    bool cancel(int64_t id);
    [[nodiscard]] std::optional<Clock::time_point> next_deadline();
    // Removes and returns the earliest timer due at `now`, if any.
    [[nodiscard]] std::optional<std::pair<int64_t, TimerTarget>> pop_due(Clock::time_point now);
    [[nodiscard]] std::size_t size() const { return live_.size(); }

private:
    struct Entry {
        Clock::time_point deadline;
        int64_t id;
        bool operator>(const Entry& o) const { return deadline > o.deadline || (deadline == o.deadline && id > o.id); }
    };
    void skip_cancelled();

    std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
    std::unordered_map<int64_t, TimerTarget> live_;
    int64_t next_id_ = 1;
};

} // namespace ringd::engine
