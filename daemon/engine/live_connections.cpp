// LiveConnections: per-slot entries published by the worker, read by anyone.
#include "engine/live_connections.hpp"

namespace ringd::engine {

namespace {

constexpr uint64_t low56 = (uint64_t(1) << 56) - 1;

} // namespace

LiveConnections::LiveConnections() : chunks_(std::make_unique<std::atomic<Chunk*>[]>(chunk_count)) {}

LiveConnections::~LiveConnections() = default;

void LiveConnections::publish(ringd_conn_id id, LiveState state)
{
    const uint32_t slot = conn_id_slot(id);
    std::atomic<Chunk*>& chunk_ptr = chunks_[slot >> chunk_bits];
    Chunk* chunk = chunk_ptr.load(std::memory_order_relaxed); // only this thread writes it
    if (chunk == nullptr) {
        if (state == LiveState::gone) return;
        owned_.push_back(std::make_unique<Chunk>());
        chunk = owned_.back().get();
        chunk_ptr.store(chunk, std::memory_order_release);
    }
    const uint64_t entry = state == LiveState::gone ? 0 : (id & low56) | (uint64_t(state) << 56);
    chunk->entries[slot & (chunk_size - 1)].store(entry, std::memory_order_release);
}

LiveState LiveConnections::state(ringd_conn_id id) const noexcept
{
    const uint32_t slot = conn_id_slot(id);
    const Chunk* chunk = chunks_[slot >> chunk_bits].load(std::memory_order_acquire);
    if (chunk == nullptr) return LiveState::gone;
    const uint64_t entry = chunk->entries[slot & (chunk_size - 1)].load(std::memory_order_acquire);
    if (entry == 0 || (entry & low56) != (id & low56)) return LiveState::gone;
    return LiveState(entry >> 56);
}

} // namespace ringd::engine
