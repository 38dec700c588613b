// LiveConnections: which connection ids of one worker are live, readable by any thread without a lock.
//
// send_to, close_id and post (ABI 1.1) run on any thread and must fail fast (-ENOENT, -EPIPE) for a connection
// that is gone or closing, without touching the worker's own state. The worker publishes, per connection slot,
// the id of the slot's current user and whether it still takes output; other threads read it. Entries live in
// chunks of 4,096 that are never freed while the worker lives, reached through a fixed array of chunk
// pointers, so a reader never sees memory go away under it. What a reader learns may be out of date by the
// time it acts; the worker checks again when the message arrives (a message for a connection that went away
// meanwhile is dropped).
#pragma once

#include "engine/conn_id.hpp"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace ringd::engine {

enum class LiveState : uint8_t {
    gone,     // no such connection (any more)
    closing,  // still there, but takes no output: closing, or its write side is shut
    writable, // open for output
};

class LiveConnections {
public:
    LiveConnections();
    ~LiveConnections();
    LiveConnections(const LiveConnections&) = delete;
    LiveConnections& operator=(const LiveConnections&) = delete;

    // Worker thread: slot `id`'s user is now `id`, in `state` (gone clears the slot).
    void publish(ringd_conn_id id, LiveState state);
    // Any thread.
    [[nodiscard]] LiveState state(ringd_conn_id id) const noexcept;

private:
    static constexpr unsigned chunk_bits = 12;
    static constexpr uint32_t chunk_size = 1u << chunk_bits;
    static constexpr uint32_t chunk_count = conn_slot_limit / chunk_size;
    struct Chunk {
        std::array<std::atomic<uint64_t>, chunk_size> entries{}; // 0, or the id's low 56 bits | state << 56
    };

    std::unique_ptr<std::atomic<Chunk*>[]> chunks_; // chunk_count pointers, each set once
    std::vector<std::unique_ptr<Chunk>> owned_;     // worker thread only
};

} // namespace ringd::engine
