// The per-listener command gate; see concurrency_gate.hpp.
#include "concurrency_gate.hpp"

#include <algorithm>

namespace ringd::remote_cmd {

bool ConcurrencyGate::take_slot()
{
    uint32_t n = running_.load(std::memory_order_relaxed);
    while (n < max_running_) {
        if (running_.compare_exchange_weak(n, n + 1, std::memory_order_acq_rel)) return true;
    }
    return false;
}

bool ConcurrencyGate::try_acquire()
{
    if (waiting_.load(std::memory_order_acquire) != 0) return false;
    return take_slot();
}

std::optional<uint64_t> ConcurrencyGate::enqueue()
{
    std::lock_guard lock(mutex_);
    if (queue_.size() >= max_waiting_) return std::nullopt;
    const uint64_t ticket = next_ticket_++;
    queue_.push_back(ticket);
    waiting_.store(static_cast<uint32_t>(queue_.size()), std::memory_order_release);
    return ticket;
}

bool ConcurrencyGate::try_acquire_queued(uint64_t ticket)
{
    std::lock_guard lock(mutex_);
    const auto it = std::find(queue_.begin(), queue_.end(), ticket);
    if (it == queue_.end()) return false;
    const uint32_t running = running_.load(std::memory_order_acquire);
    const uint32_t free_slots = running < max_running_ ? max_running_ - running : 0;
    if (static_cast<uint64_t>(it - queue_.begin()) >= free_slots) return false;
    if (!take_slot()) return false;
    queue_.erase(it);
    waiting_.store(static_cast<uint32_t>(queue_.size()), std::memory_order_release);
    return true;
}

void ConcurrencyGate::leave_queue(uint64_t ticket)
{
    std::lock_guard lock(mutex_);
    const auto it = std::find(queue_.begin(), queue_.end(), ticket);
    if (it == queue_.end()) return;
    queue_.erase(it);
    waiting_.store(static_cast<uint32_t>(queue_.size()), std::memory_order_release);
}

void ConcurrencyGate::release()
{
    running_.fetch_sub(1, std::memory_order_acq_rel);
}

} // namespace ringd::remote_cmd
