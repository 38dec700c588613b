// Mailbox: the lock-free stack, its byte budget, and message allocation.
#include "engine/mailbox.hpp"

#include "plugin_host/plugin.hpp"

#include <new>

namespace ringd::engine {

MessagePtr Message::make(MessageKind kind, std::size_t payload_len)
{
    void* memory = ::operator new(sizeof(Message) + payload_len);
    auto* m = new (memory) Message();
    m->kind = kind;
    m->len = payload_len;
    m->charge = sizeof(Message) + payload_len;
    return MessagePtr(m);
}

void MessageDeleter::operator()(Message* m) const noexcept
{
    m->~Message();
    ::operator delete(m);
}

MessageBatch& MessageBatch::operator=(MessageBatch&& o) noexcept
{
    if (this != &o) {
        MessageBatch dropped(head_);
        head_ = o.head_;
        o.head_ = nullptr;
    }
    return *this;
}

MessageBatch::~MessageBatch()
{
    while (!empty())
        (void)pop();
}

MessagePtr MessageBatch::pop()
{
    Message* m = head_;
    head_ = static_cast<Message*>(m->next);
    m->next = nullptr;
    return MessagePtr(m);
}

Mailbox::~Mailbox()
{
    MailNode* node = head_.load(std::memory_order_acquire);
    if (node == &closed_marker_) return;
    MessageBatch dropped = take(nullptr);
}

Mailbox::Push Mailbox::push(MessagePtr& message) noexcept
{
    const std::size_t charge = message->charge;
    // Charged first, so concurrent pushes cannot all slip under the cap; a refused one gives it back.
    if (queued_bytes_.fetch_add(charge, std::memory_order_relaxed) + charge > capacity_) {
        queued_bytes_.fetch_sub(charge, std::memory_order_relaxed);
        return Push::full;
    }
    MailNode* node = message.get();
    MailNode* head = head_.load(std::memory_order_relaxed);
    do {
        if (head == &closed_marker_) {
            queued_bytes_.fetch_sub(charge, std::memory_order_relaxed);
            return Push::closed;
        }
        node->next = head;
    } while (!head_.compare_exchange_weak(head, node, std::memory_order_seq_cst, std::memory_order_relaxed));
    (void)message.release();
    return Push::ok;
}

bool Mailbox::looks_empty() const noexcept
{
    MailNode* head = head_.load(std::memory_order_seq_cst);
    return head == nullptr || head == &closed_marker_;
}

MessageBatch Mailbox::take_all() noexcept
{
    if (head_.load(std::memory_order_relaxed) == &closed_marker_) return {};
    return take(nullptr);
}

MessageBatch Mailbox::close() noexcept
{
    if (head_.load(std::memory_order_relaxed) == &closed_marker_) return {};
    return take(&closed_marker_);
}

MessageBatch Mailbox::take(MailNode* replacement) noexcept
{
    MailNode* node = head_.exchange(replacement, std::memory_order_seq_cst);
    // The stack is newest first: reverse it so the batch is oldest first.
    MailNode* reversed = nullptr;
    std::size_t charged = 0;
    while (node != nullptr) {
        MailNode* next = node->next;
        node->next = reversed;
        reversed = node;
        charged += node->charge;
        node = next;
    }
    if (charged != 0) queued_bytes_.fetch_sub(charged, std::memory_order_relaxed);
    return MessageBatch(static_cast<Message*>(reversed));
}

} // namespace ringd::engine
