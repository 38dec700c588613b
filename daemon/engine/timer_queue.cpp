// TimerQueue: min-heap of deadlines plus a map of live timers.
#include "engine/timer_queue.hpp"

#include <algorithm>

namespace ringd::engine {

Clock::time_point deadline_after(Clock::time_point now, uint64_t delay_ms)
{
    constexpr uint64_t max_delay_ms = uint64_t(365) * 24 * 3600 * 1000;
    return now + std::chrono::milliseconds(std::min(delay_ms, max_delay_ms));
}

int64_t TimerQueue::start(Clock::time_point deadline, TimerTarget target)
{
    const int64_t id = next_id_++;
    heap_.push(Entry{deadline, id});
    live_.emplace(id, target);
    return id;
}

bool TimerQueue::cancel(int64_t id)
{
    if (live_.erase(id) == 0) return false;
    // Lazy deletion must not let cancelled far-future timers pile up: rebuild when they dominate the heap.
    if (heap_.size() > 1024 && heap_.size() > 2 * live_.size()) {
        std::vector<Entry> kept;
        kept.reserve(live_.size());
        while (!heap_.empty()) {
            if (live_.contains(heap_.top().id)) kept.push_back(heap_.top());
            heap_.pop();
        }
        heap_ = decltype(heap_)(std::greater<>(), std::move(kept));
    }
    return true;
}

void TimerQueue::skip_cancelled()
{
    while (!heap_.empty() && !live_.contains(heap_.top().id))
        heap_.pop();
}

std::optional<Clock::time_point> TimerQueue::next_deadline()
{
    skip_cancelled();
    if (heap_.empty()) return std::nullopt;
    return heap_.top().deadline;
}

std::optional<std::pair<int64_t, TimerTarget>> TimerQueue::pop_due(Clock::time_point now)
{
    skip_cancelled();
    if (heap_.empty() || heap_.top().deadline > now) return std::nullopt;
    const int64_t id = heap_.top().id;
    heap_.pop();
    auto it = live_.find(id);
    TimerTarget target = it->second;
    live_.erase(it);
    return std::pair{id, target};
}

} // namespace ringd::engine
