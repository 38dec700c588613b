// Output queue segments: pooled blocks for copied data, linked external buffers for owned data.
#include "engine/output_queue.hpp"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <new>

namespace ringd::engine {

// One run of bytes to send: [begin, end) of data. A pooled block stores its payload right after this header.
struct Segment {
    Segment* next = nullptr;
    std::byte* data = nullptr;
    std::size_t begin = 0;
    std::size_t end = 0;
    std::size_t capacity = 0;
    void (*free_fn)(void*, void*) = nullptr; // owned external buffer
    void* free_ctx = nullptr;
    bool pooled = false; // payload follows the header and the block returns to the pool
    bool heap = false;   // payload follows the header but is oversized: deleted, never pooled
};

namespace {

Segment* new_inline_segment(std::size_t capacity, bool pooled)
{
    void* mem = ::operator new(sizeof(Segment) + capacity);
    auto* s = new (mem) Segment{};
    s->data = reinterpret_cast<std::byte*>(s + 1);
    s->capacity = capacity;
    s->pooled = pooled;
    s->heap = !pooled;
    return s;
}

void delete_inline_segment(Segment* s)
{
    s->~Segment();
    ::operator delete(static_cast<void*>(s));
}

} // namespace

SegmentPool::~SegmentPool()
{
    for (Segment* s : free_)
        delete_inline_segment(s);
}

Segment* SegmentPool::take()
{
    if (free_.empty()) return new_inline_segment(block_size, true);
    Segment* s = free_.back();
    free_.pop_back();
    s->next = nullptr;
    s->begin = s->end = 0;
    return s;
}

void SegmentPool::give(Segment* s)
{
    if (free_.size() < max_cached_) {
        free_.push_back(s);
    } else {
        delete_inline_segment(s);
    }
}

OutputQueue::~OutputQueue()
{
    assert(head_ == nullptr && "OutputQueue destroyed without clear()");
}

void OutputQueue::push(Segment* s)
{
    if (tail_ == nullptr) {
        head_ = tail_ = s;
    } else {
        tail_->next = s;
        tail_ = s;
    }
}

void OutputQueue::append(std::span<const std::byte> bytes, SegmentPool& pool)
{
    while (!bytes.empty()) {
        if (tail_room() == 0) push(pool.take());
        const std::size_t n = std::min(bytes.size(), tail_room());
        std::memcpy(tail_->data + tail_->end, bytes.data(), n);
        tail_->end += n;
        bytes_ += n;
        bytes = bytes.subspan(n);
    }
}

// Room left in the tail segment for copied bytes (0 when the tail is an owned external buffer).
std::size_t OutputQueue::tail_room() const
{
    if (tail_ == nullptr || tail_->free_fn != nullptr) return 0;
    return tail_->capacity - tail_->end;
}

void OutputQueue::append_owned(std::byte* data, std::size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    auto* s = new Segment{};
    s->data = data;
    s->end = s->capacity = len;
    s->free_fn = free_fn;
    s->free_ctx = ctx;
    push(s);
    bytes_ += len;
}

std::byte* OutputQueue::reserve(std::size_t len, SegmentPool& pool)
{
    if (tail_room() < len) push(len <= SegmentPool::block_size ? pool.take() : new_inline_segment(len, false));
    reserved_ = tail_->data + tail_->end;
    return reserved_;
}

void OutputQueue::commit(std::size_t used)
{
    // A plugin that commits without a reservation (reserve returned NULL, e.g. on a closing connection) or
    // claims more than it reserved must not corrupt the queue: ignore the first, clamp the second.
    if (reserved_ == nullptr) return;
    used = std::min(used, tail_->capacity - tail_->end);
    tail_->end += used;
    bytes_ += used;
    reserved_ = nullptr;
}

unsigned OutputQueue::gather(iovec* iov, unsigned max) const
{
    unsigned n = 0;
    for (Segment* s = head_; s != nullptr && n < max; s = s->next) {
        if (s->end == s->begin) continue;
        iov[n].iov_base = s->data + s->begin;
        iov[n].iov_len = s->end - s->begin;
        ++n;
    }
    return n;
}

void OutputQueue::consume(std::size_t n, SegmentPool& pool)
{
    assert(n <= bytes_);
    bytes_ -= n;
    while (head_ != nullptr) {
        const std::size_t avail = head_->end - head_->begin;
        if (n < avail) {
            head_->begin += n;
            return;
        }
        n -= avail;
        // A drained block goes back to the pool at once (even the tail): an idle connection holds none.
        Segment* done = head_;
        head_ = done->next;
        if (head_ == nullptr) tail_ = nullptr;
        release(done, pool);
    }
}

void OutputQueue::release(Segment* s, SegmentPool& pool)
{
    if (s->free_fn != nullptr) {
        s->free_fn(s->data, s->free_ctx);
        delete s;
    } else if (s->pooled) {
        pool.give(s);
    } else {
        delete_inline_segment(s);
    }
}

void OutputQueue::clear(SegmentPool& pool)
{
    while (head_ != nullptr) {
        Segment* s = head_;
        head_ = s->next;
        release(s, pool);
    }
    tail_ = nullptr;
    bytes_ = 0;
    reserved_ = nullptr;
}

} // namespace ringd::engine
