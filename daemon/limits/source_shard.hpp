// SourceShard: one lock's worth of the per-source table (SourceTable holds several, picked by hash), with a
// fixed capacity.
//
// Layout: `entries_` holds the sources (grown by doubling up to the capacity, never shrunk); `slots_` is an
// open-addressing index into it with linear probing, kept at most half full, so a lookup touches a couple of
// cache lines. Removing a key shifts the following slots back (no tombstones), so probe chains stay short.
//
// Eviction: the sources with no open connection are also on an intrusive list in the order they were last
// touched (released, or refused by the rate). When a new source finds the shard full, the least recently used
// of them is reused if it is idle — no open connection and a full bucket, so forgetting it changes no decision
// — looking at up to `eviction_scan` of them from the old end. When none is idle the new source is refused
// (Admission::refused_table_full): entries pinned by open connections or by recent use are never dropped, so a
// flood of new addresses cannot reset the limits of the sources already tracked.
//
// Every call takes the shard's mutex for a few dozen instructions; nothing is allocated under it except while
// the shard grows towards its capacity (warm-up).
#pragma once

#include "limits/admission.hpp"
#include "limits/rate_gate.hpp"
#include "limits/source_key.hpp"

#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace ringd::limits {

// What a shard checks a connection against (SourceTable::Settings, resolved).
struct SourcePolicy {
    std::optional<uint32_t> max_connections_per_source;
    std::optional<RateGate> rate;
};

struct ShardCounts {
    uint64_t tracked = 0;          // sources in the table
    uint64_t open_connections = 0; // admitted and not yet released, all sources together
    uint64_t evictions = 0;        // idle sources forgotten to make room for new ones
};

class alignas(64) SourceShard { // its own cache line: shards are locked by different threads at once
public:
    static constexpr unsigned eviction_scan = 4;

    explicit SourceShard(uint32_t capacity);
    SourceShard(const SourceShard&) = delete;
    SourceShard& operator=(const SourceShard&) = delete;

    // `hash` is hash_source_key(key, seed); `now` ns on a monotonic clock.
    [[nodiscard]] Admission admit(const SourceKey& key, uint64_t hash, int64_t now, const SourcePolicy& policy);
    // False when `key` has no open connection here (a release without an admit: a caller's bug).
    bool release(const SourceKey& key, uint64_t hash);

    [[nodiscard]] ShardCounts counts() const;
    // Open connections of `key` (0 when not tracked).
    [[nodiscard]] uint32_t open_connections(const SourceKey& key, uint64_t hash) const;
    [[nodiscard]] bool is_tracked(const SourceKey& key, uint64_t hash) const;

private:
    static constexpr uint32_t none = UINT32_MAX;

    struct Entry {
        SourceKey key;
        int64_t tat = 0;      // RateGate state: the bucket is full at and after this time
        uint32_t hash = 0;    // the low half of the key's hash: the slot it belongs in, and a cheap compare
        uint32_t open = 0;    // connections admitted and not released
        uint32_t prev = none; // inactive list (open == 0), oldest first
        uint32_t next = none;
    };

    [[nodiscard]] uint32_t find(const SourceKey& key, uint32_t hash) const;    // entry index, or none
    [[nodiscard]] uint32_t new_entry(int64_t now, const SourcePolicy& policy); // or none when full of busy ones
    [[nodiscard]] uint32_t evict_idle(int64_t now, const SourcePolicy& policy);
    void index_insert(uint32_t entry);
    void index_erase(uint32_t entry);
    void grow_index();
    void link_inactive(uint32_t entry); // at the new end
    void unlink_inactive(uint32_t entry);
    [[nodiscard]] size_t home_of(uint32_t hash) const { return hash & (slots_.size() - 1); }

    mutable std::mutex mutex_;
    uint32_t capacity_;
    std::vector<Entry> entries_;
    std::vector<uint32_t> slots_; // entry index or none; size a power of two >= 2 * entries_.size()
    uint32_t inactive_head_ = none;
    uint32_t inactive_tail_ = none;
    uint64_t evictions_ = 0;
};

} // namespace ringd::limits
