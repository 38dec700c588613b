// Upstream choice (round robin or least connections) over the upstreams that are not down.
#include "upstream_set.hpp"

namespace ringd::tcp_proxy {

UpstreamSet::UpstreamSet(std::size_t count, Balance balance, std::chrono::nanoseconds down_time)
    : count_(count), balance_(balance), down_time_ns_(down_time.count()), state_(std::make_unique<State[]>(count))
{
}

std::optional<std::size_t> UpstreamSet::Attempt::next(Time now)
{
    UpstreamSet& s = *set_;
    // Both policies walk the upstreams from a rotating start, so equal choices are spread evenly.
    const std::size_t start = std::size_t(s.cursor_.fetch_add(1, std::memory_order_relaxed) % s.count_);
    std::optional<std::size_t> best;
    uint64_t best_active = 0;
    for (std::size_t k = 0; k < s.count_; ++k) {
        const std::size_t i = (start + k) % s.count_;
        if ((tried_ >> i) & 1 || s.is_down(i, now)) continue;
        if (s.balance_ == Balance::round_robin) {
            best = i;
            break;
        }
        const uint64_t active = s.active(i);
        if (!best || active < best_active) {
            best = i;
            best_active = active;
        }
    }
    if (best) tried_ |= uint64_t(1) << *best;
    return best;
}

bool UpstreamSet::mark_down(std::size_t upstream, Time now)
{
    // now + down_time is never 0 (steady_clock starts at boot, down_time > 0), so 0 keeps meaning "up".
    return state_[upstream].down_until.exchange(now + down_time_ns_, std::memory_order_relaxed) == 0;
}

bool UpstreamSet::mark_up(std::size_t upstream)
{
    // A load first: the common case (an upstream that was up) then writes nothing to the shared line.
    std::atomic<Time>& down_until = state_[upstream].down_until;
    if (down_until.load(std::memory_order_relaxed) == 0) return false;
    return down_until.exchange(0, std::memory_order_relaxed) != 0;
}

bool UpstreamSet::is_down(std::size_t upstream, Time now) const
{
    return state_[upstream].down_until.load(std::memory_order_relaxed) > now;
}

void UpstreamSet::opened(std::size_t upstream)
{
    state_[upstream].active.fetch_add(1, std::memory_order_relaxed);
}

void UpstreamSet::closed(std::size_t upstream)
{
    state_[upstream].active.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t UpstreamSet::active(std::size_t upstream) const
{
    return state_[upstream].active.load(std::memory_order_relaxed);
}

} // namespace ringd::tcp_proxy
