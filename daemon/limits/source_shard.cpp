// One shard of the per-source table; see source_shard.hpp for the layout and the eviction rule.
#include "limits/source_shard.hpp"

#include <algorithm>
#include <bit>

namespace ringd::limits {
namespace {

constexpr uint32_t initial_entries = 16;

} // namespace

SourceShard::SourceShard(uint32_t capacity) : capacity_(std::max<uint32_t>(capacity, 1))
{
    entries_.reserve(std::min(capacity_, initial_entries));
    slots_.assign(std::bit_ceil(2 * entries_.capacity()), none);
}

Admission SourceShard::admit(const SourceKey& key, uint64_t hash, int64_t now, const SourcePolicy& policy)
{
    const auto hash32 = static_cast<uint32_t>(hash);
    const std::lock_guard lock(mutex_);
    uint32_t index = find(key, hash32);
    if (index == none) {
        index = new_entry(now, policy);
        if (index == none) return Admission::refused_table_full;
        Entry& fresh = entries_[index];
        fresh.key = key;
        fresh.hash = hash32;
        fresh.tat = now; // a full bucket
        fresh.open = 0;
        index_insert(index);
        link_inactive(index);
    }
    Entry& entry = entries_[index];
    if (policy.max_connections_per_source && entry.open >= *policy.max_connections_per_source)
        return Admission::refused_per_source_limit; // open > 0: not on the inactive list, nothing to touch
    if (policy.rate && !policy.rate->try_take(entry.tat, now)) {
        if (entry.open == 0) { // touched: to the young end, evicted last
            unlink_inactive(index);
            link_inactive(index);
        }
        return Admission::refused_rate;
    }
    if (entry.open == 0) unlink_inactive(index);
    ++entry.open;
    return Admission::admitted;
}

bool SourceShard::release(const SourceKey& key, uint64_t hash)
{
    const std::lock_guard lock(mutex_);
    const uint32_t index = find(key, static_cast<uint32_t>(hash));
    if (index == none || entries_[index].open == 0) return false;
    if (--entries_[index].open == 0) link_inactive(index);
    return true;
}

ShardCounts SourceShard::counts() const
{
    const std::lock_guard lock(mutex_);
    ShardCounts counts{.tracked = entries_.size(), .evictions = evictions_};
    for (const Entry& e : entries_)
        counts.open_connections += e.open;
    return counts;
}

uint32_t SourceShard::open_connections(const SourceKey& key, uint64_t hash) const
{
    const std::lock_guard lock(mutex_);
    const uint32_t index = find(key, static_cast<uint32_t>(hash));
    return index == none ? 0 : entries_[index].open;
}

bool SourceShard::is_tracked(const SourceKey& key, uint64_t hash) const
{
    const std::lock_guard lock(mutex_);
    return find(key, static_cast<uint32_t>(hash)) != none;
}

uint32_t SourceShard::find(const SourceKey& key, uint32_t hash) const
{
    const size_t mask = slots_.size() - 1;
    for (size_t slot = home_of(hash);; slot = (slot + 1) & mask) {
        const uint32_t index = slots_[slot];
        if (index == none) return none; // the index is never full, so every probe ends
        if (entries_[index].hash == hash && entries_[index].key == key) return index;
    }
}

// An unused entry: a new one while the shard is below its capacity, else an idle one reused.
uint32_t SourceShard::new_entry(int64_t now, const SourcePolicy& policy)
{
    if (entries_.size() < capacity_) {
        if (entries_.size() == entries_.capacity())
            entries_.reserve(std::min<size_t>(capacity_, 2 * entries_.capacity()));
        if (2 * (entries_.size() + 1) > slots_.size()) grow_index();
        entries_.emplace_back();
        return static_cast<uint32_t>(entries_.size() - 1);
    }
    return evict_idle(now, policy);
}

uint32_t SourceShard::evict_idle(int64_t now, const SourcePolicy& policy)
{
    uint32_t index = inactive_head_;
    for (unsigned looked = 0; index != none && looked < eviction_scan; ++looked, index = entries_[index].next) {
        // Without a rate there is no bucket: a source with no open connection is idle.
        if (policy.rate && !RateGate::is_full(entries_[index].tat, now)) continue;
        unlink_inactive(index);
        index_erase(index);
        ++evictions_;
        return index;
    }
    return none;
}

void SourceShard::index_insert(uint32_t entry)
{
    const size_t mask = slots_.size() - 1;
    size_t slot = home_of(entries_[entry].hash);
    while (slots_[slot] != none)
        slot = (slot + 1) & mask;
    slots_[slot] = entry;
}

// Backward-shift deletion: each later entry of the probe run moves into the hole if its home slot does not lie
// cyclically between the hole and where it sits, so that every entry stays reachable from its home slot.
void SourceShard::index_erase(uint32_t entry)
{
    const size_t mask = slots_.size() - 1;
    size_t hole = home_of(entries_[entry].hash);
    while (slots_[hole] != entry)
        hole = (hole + 1) & mask;
    for (size_t slot = (hole + 1) & mask; slots_[slot] != none; slot = (slot + 1) & mask) {
        const size_t home = home_of(entries_[slots_[slot]].hash);
        const size_t home_to_slot = (slot - home) & mask;
        const size_t hole_to_slot = (slot - hole) & mask;
        if (home_to_slot >= hole_to_slot) { // the hole is on the way from its home to it: move it back
            slots_[hole] = slots_[slot];
            hole = slot;
        }
    }
    slots_[hole] = none;
}

void SourceShard::grow_index()
{
    slots_.assign(2 * slots_.size(), none);
    for (uint32_t i = 0; i < entries_.size(); ++i)
        index_insert(i);
}

void SourceShard::link_inactive(uint32_t entry)
{
    Entry& e = entries_[entry];
    e.prev = inactive_tail_;
    e.next = none;
    (inactive_tail_ == none ? inactive_head_ : entries_[inactive_tail_].next) = entry;
    inactive_tail_ = entry;
}

void SourceShard::unlink_inactive(uint32_t entry)
{
    Entry& e = entries_[entry];
    (e.prev == none ? inactive_head_ : entries_[e.prev].next) = e.next;
    (e.next == none ? inactive_tail_ : entries_[e.next].prev) = e.prev;
    e.prev = none;
    e.next = none;
}

} // namespace ringd::limits
