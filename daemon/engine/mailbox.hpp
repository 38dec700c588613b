// Mailbox: how any thread hands work to a worker (ABI 1.1's send_to, close_id, post, post_worker) without
// touching the worker's state and without a lock.
//
// Many producers, one consumer (the worker). Producers push onto a lock-free stack (one compare-and-swap);
// the worker takes the whole stack with one exchange and reverses it, so messages come out in the order they
// were pushed: what one thread sends to one worker is applied in order.
//
// Bounded: every message is charged its size (payload plus header) against the mailbox's capacity, and a push
// that would exceed it is refused (the host call returns -ENOBUFS). The charge is returned when the worker
// takes the message. Closable: once the worker's loop has ended, close() takes what is left and every later
// push is refused, so no message is stranded in a mailbox nobody reads.
//
// Waking the worker is the caller's business; the mailbox only deduplicates it: claim_wake() is true for the
// one producer that must wake the worker until the worker calls clear_wake(), which it does before it looks
// at the stack, so a push after that look always wakes it again.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <ringd/plugin.h>

namespace ringd::plugin_host {
class PluginInstance;
}

namespace ringd::engine {

enum class MessageKind : uint8_t {
    send,        // bytes for a connection (send_to)
    close,       // close_id
    conn_task,   // post
    worker_task, // post_worker
};

struct MailNode {
    MailNode* next = nullptr;
    std::size_t charge = 0; // bytes counted against the mailbox's capacity
};

struct Message;
struct MessageDeleter {
    void operator()(Message* m) const noexcept;
};
using MessagePtr = std::unique_ptr<Message, MessageDeleter>;

// One message, with a send's payload in the same allocation.
struct Message : MailNode {
    MessageKind kind = MessageKind::send;
    uint32_t close_flags = 0;
    ringd_conn_id target = 0;                              // send, close, conn_task
    std::shared_ptr<plugin_host::PluginInstance> instance; // tasks: the posting instance, alive until run
    ringd_conn_task_fn conn_task = nullptr;
    ringd_worker_task_fn worker_task = nullptr;
    void* arg = nullptr;
    std::size_t len = 0; // send: payload bytes, stored right after this struct

    // Throws std::bad_alloc.
    [[nodiscard]] static MessagePtr make(MessageKind kind, std::size_t payload_len = 0);
    [[nodiscard]] std::byte* payload() { return reinterpret_cast<std::byte*>(this + 1); }
};

// A batch taken from the mailbox, oldest first. Owns its messages until they are popped.
class MessageBatch {
public:
    MessageBatch() = default;
    explicit MessageBatch(Message* head) : head_(head) {}
    MessageBatch(MessageBatch&& o) noexcept : head_(o.head_) { o.head_ = nullptr; }
    MessageBatch& operator=(MessageBatch&& o) noexcept;
    ~MessageBatch();
    [[nodiscard]] bool empty() const { return head_ == nullptr; }
    [[nodiscard]] MessagePtr pop();

private:
    Message* head_ = nullptr;
};

class Mailbox {
public:
    enum class Push : uint8_t { ok, full, closed };

    explicit Mailbox(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}
    ~Mailbox(); // frees whatever is still queued
    Mailbox(const Mailbox&) = delete;
    Mailbox& operator=(const Mailbox&) = delete;

    // Any thread. On ok the mailbox owns the message; otherwise it is handed back untouched in `message`.
    [[nodiscard]] Push push(MessagePtr& message) noexcept;
    // Any thread, after a successful push: true if this caller must wake the consumer.
    [[nodiscard]] bool claim_wake() noexcept { return !wake_pending_.exchange(true, std::memory_order_seq_cst); }

    // Consumer only.
    void clear_wake() noexcept { wake_pending_.store(false, std::memory_order_seq_cst); }
    [[nodiscard]] bool looks_empty() const noexcept;
    [[nodiscard]] MessageBatch take_all() noexcept;
    // Takes what is left and refuses every later push (Push::closed).
    [[nodiscard]] MessageBatch close() noexcept;

    [[nodiscard]] std::size_t queued_bytes() const { return queued_bytes_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t capacity() const { return capacity_; }

private:
    [[nodiscard]] MessageBatch take(MailNode* replacement) noexcept;

    const std::size_t capacity_;
    std::atomic<MailNode*> head_{nullptr};
    std::atomic<std::size_t> queued_bytes_{0};
    std::atomic<bool> wake_pending_{false};
    MailNode closed_marker_; // head_ points here once closed
};

} // namespace ringd::engine
