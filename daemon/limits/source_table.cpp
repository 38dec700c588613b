// The sharded per-source table; see source_table.hpp.
#include "limits/source_table.hpp"

#include <bit>
#include <random>

namespace ringd::limits {
namespace {

unsigned shard_count_for(uint32_t max_tracked)
{
    const uint32_t by_size = std::max<uint32_t>(1, max_tracked / SourceTable::min_per_shard);
    return std::min<unsigned>(SourceTable::max_shards, std::bit_floor(by_size));
}

uint64_t random_seed()
{
    std::random_device device;
    return (uint64_t{device()} << 32) ^ device();
}

int64_t nanoseconds_of(SourceTable::Clock::time_point now)
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
}

} // namespace

SourceTable::SourceTable(const Settings& settings)
    : seed_(settings.seed.value_or(random_seed())), shard_count_(shard_count_for(settings.max_tracked_sources)),
      shard_shift_(64 - static_cast<unsigned>(std::countr_zero(shard_count_))),
      shards_(std::make_unique<std::unique_ptr<SourceShard>[]>(shard_count_))
{
    policy_.max_connections_per_source = settings.max_connections_per_source;
    if (settings.rate) policy_.rate.emplace(*settings.rate);
    const uint32_t total = std::max<uint32_t>(settings.max_tracked_sources, 1);
    for (unsigned i = 0; i < shard_count_; ++i) { // the remainder goes one each to the first shards
        const uint32_t capacity = total / shard_count_ + (i < total % shard_count_ ? 1 : 0);
        shards_[i] = std::make_unique<SourceShard>(capacity);
    }
}

SourceShard& SourceTable::shard_of(uint64_t hash) const
{
    // A shift by 64 (one shard) would be undefined.
    return *shards_[shard_count_ == 1 ? 0 : hash >> shard_shift_];
}

Admission SourceTable::admit(const SourceKey& key, Clock::time_point now)
{
    return admit(key, now, policy_);
}

Admission SourceTable::admit(const SourceKey& key, Clock::time_point now, const SourcePolicy& policy)
{
    const uint64_t hash = hash_source_key(key, seed_);
    return shard_of(hash).admit(key, hash, nanoseconds_of(now), policy);
}

bool SourceTable::release(const SourceKey& key)
{
    const uint64_t hash = hash_source_key(key, seed_);
    return shard_of(hash).release(key, hash);
}

SourceTable::Counts SourceTable::counts() const
{
    Counts total;
    for (unsigned i = 0; i < shard_count_; ++i) {
        const ShardCounts c = shards_[i]->counts();
        total.tracked += c.tracked;
        total.open_connections += c.open_connections;
        total.evictions += c.evictions;
    }
    return total;
}

uint32_t SourceTable::open_connections(const SourceKey& key) const
{
    const uint64_t hash = hash_source_key(key, seed_);
    return shard_of(hash).open_connections(key, hash);
}

bool SourceTable::is_tracked(const SourceKey& key) const
{
    const uint64_t hash = hash_source_key(key, seed_);
    return shard_of(hash).is_tracked(key, hash);
}

} // namespace ringd::limits
