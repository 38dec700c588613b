// Caps the commands one remote-cmd listener runs at once (max_concurrent), with a bounded FIFO of waiters
// (max_queued). One gate is shared by every worker thread serving the listener.
//
// Why waiters poll instead of being woken: a request may wait on worker A while the slot is freed on worker
// B, and the host only lets B touch B's connections. So a waiter re-checks from its own connection's timer
// (every few ms) and takes a slot only when it is among the first `free slots` waiters: FIFO among the
// waiters, without cross-thread calls. New requests do not overtake waiters: while anyone waits, the fast
// path (try_acquire) is closed and newcomers join the queue behind them.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>

namespace ringd::remote_cmd {

class ConcurrencyGate {
public:
    ConcurrencyGate(uint32_t max_running, uint32_t max_waiting) : max_running_(max_running), max_waiting_(max_waiting)
    {
    }

    // A slot right now, if one is free and nobody is waiting for one. Pair with release().
    [[nodiscard]] bool try_acquire();

    // A place in the wait queue (a ticket), or nullopt if max_waiting requests already wait.
    [[nodiscard]] std::optional<uint64_t> enqueue();

    // The slot for `ticket` if the ticket is close enough to the head; on success it has left the queue.
    [[nodiscard]] bool try_acquire_queued(uint64_t ticket);

    // Gives up a place in the queue (timed out, or the connection went away).
    void leave_queue(uint64_t ticket);

    void release();

    [[nodiscard]] uint32_t running() const { return running_.load(std::memory_order_relaxed); }
    [[nodiscard]] uint32_t waiting() const { return waiting_.load(std::memory_order_relaxed); }

private:
    bool take_slot();

    const uint32_t max_running_;
    const uint32_t max_waiting_;
    std::atomic<uint32_t> running_{0};
    std::atomic<uint32_t> waiting_{0}; // == queue_.size(), readable without the lock
    std::mutex mutex_;
    std::deque<uint64_t> queue_; // tickets in arrival order
    uint64_t next_ticket_ = 1;
};

} // namespace ringd::remote_cmd
