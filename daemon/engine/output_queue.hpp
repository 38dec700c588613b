// OutputQueue: a connection's bytes waiting to be sent, in order.
//
// Like Redis's reply buffers, small writes are coalesced into pooled fixed-size blocks (no allocation per
// message in steady state), while ownership-passing sends (send_owned) are linked in without copying.
// An idle connection holds no block at all, which keeps per-connection memory to the Connection struct.
// Only the tail block is ever appended to; appending past the bytes of an in-flight send is safe because
// the kernel reads only the iovecs it was given.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/uio.h>
#include <vector>

namespace ringd::engine {

struct Segment;

// Per-worker cache of free blocks, so bursts of replies reuse memory instead of hitting malloc.
class SegmentPool {
public:
    static constexpr std::size_t block_size = 16 * 1024; // bytes of payload per pooled block
    explicit SegmentPool(std::size_t max_cached = 256) : max_cached_(max_cached) {}
    ~SegmentPool();
    SegmentPool(const SegmentPool&) = delete;
    SegmentPool& operator=(const SegmentPool&) = delete;

    [[nodiscard]] Segment* take();
    void give(Segment* s);
    [[nodiscard]] std::size_t cached() const { return free_.size(); }

private:
    std::vector<Segment*> free_;
    std::size_t max_cached_;
};

class OutputQueue {
public:
    OutputQueue() = default;
    OutputQueue(const OutputQueue&) = delete;
    OutputQueue& operator=(const OutputQueue&) = delete;
    ~OutputQueue(); // must be cleared (with its pool) before destruction; asserts in debug builds

    void append(std::span<const std::byte> bytes, SegmentPool& pool);
    // Links a caller-owned buffer; free_fn(data, ctx) runs once it is sent or the queue is cleared.
    void append_owned(std::byte* data, std::size_t len, void (*free_fn)(void*, void*), void* ctx);
    // Space for up to `len` bytes at the end; commit(used) makes `used` of them part of the queue.
    [[nodiscard]] std::byte* reserve(std::size_t len, SegmentPool& pool);
    void commit(std::size_t used);

    // Fills up to max iovecs from the front; returns how many.
    [[nodiscard]] unsigned gather(iovec* iov, unsigned max) const;
    // Drops `n` sent bytes from the front.
    void consume(std::size_t n, SegmentPool& pool);
    void clear(SegmentPool& pool);

    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    [[nodiscard]] bool empty() const { return bytes_ == 0; }

private:
    void push(Segment* s);
    [[nodiscard]] std::size_t tail_room() const;
    void release(Segment* s, SegmentPool& pool);

    Segment* head_ = nullptr;
    Segment* tail_ = nullptr;
    std::size_t bytes_ = 0;
    std::byte* reserved_ = nullptr; // set between reserve() and commit()
};

} // namespace ringd::engine
