// A connection's output in the host: what the plugin queued and the simulated kernel has not taken yet.
#include "kit_state.hpp"

#include <algorithm>

namespace ringd::testkit::detail {

void OutputQueue::append_copy(const void* data, std::size_t len)
{
    if (len == 0) return;
    // Consecutive small sends share a chunk, as ringd's segments do; what matters here is only their order.
    if (!chunks_.empty() && chunks_.back().owned == nullptr) {
        chunks_.back().copy.append(static_cast<const char*>(data), len);
    } else {
        Chunk chunk;
        chunk.copy.assign(static_cast<const char*>(data), len);
        chunks_.push_back(std::move(chunk));
    }
    bytes_ += len;
}

void OutputQueue::append_owned(void* data, std::size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    Chunk chunk;
    chunk.owned = data;
    chunk.owned_len = len;
    chunk.free_fn = free_fn;
    chunk.free_ctx = ctx;
    chunks_.push_back(std::move(chunk));
    bytes_ += len;
}

std::size_t OutputQueue::take(std::size_t n, std::string& to)
{
    std::size_t moved = 0;
    while (!chunks_.empty()) {
        Chunk& front = chunks_.front();
        const std::size_t part = std::min(n - moved, front.size() - front.taken);
        to.append(front.data() + front.taken, part);
        front.taken += part;
        moved += part;
        if (front.taken < front.size()) break;
        release(front);
        chunks_.pop_front();
    }
    bytes_ -= moved;
    return moved;
}

void OutputQueue::clear()
{
    // One by one from the front, so a free function that somehow re-enters sees a consistent queue.
    while (!chunks_.empty()) {
        Chunk chunk = std::move(chunks_.front());
        chunks_.pop_front();
        bytes_ -= chunk.size() - chunk.taken;
        release(chunk);
    }
    bytes_ = 0;
}

void OutputQueue::release(Chunk& chunk) noexcept
{
    if (chunk.owned == nullptr || chunk.free_fn == nullptr) return;
    void (*free_fn)(void*, void*) = chunk.free_fn;
    chunk.free_fn = nullptr;
    try {
        free_fn(chunk.owned, chunk.free_ctx);
    } catch (...) {
        // A free function that throws is the plugin's bug; the buffer is the plugin's either way.
    }
}

} // namespace ringd::testkit::detail
