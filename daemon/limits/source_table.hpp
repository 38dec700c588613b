// SourceTable: per-source connection limits of one listener, shared by all its workers
// (`max_connections_per_source`, `connection_rate_per_source`, `max_tracked_sources`; docs/configuration.md).
//
// Each source (a client address masked to a prefix: SourceKey) has a count of open connections and a token
// bucket (RateGate). A new connection is admit()ted or refused with a reason; an admitted one is release()d
// when it closes. Any worker thread may call either at any time.
//
// Concurrency: the table is split into shards (up to 64, a power of two), each with its own mutex and its own
// part of the capacity, and a key's hash picks its shard. A call locks one shard for a lookup and a few
// stores, so workers contend only when they hit the same shard at the same moment; there is no lock over
// the whole table.
//
// Bounded: at most `max_tracked_sources` sources in all, split evenly between the shards. A source's entry is
// kept while it has an open connection or tokens to regain; once idle it stays until its place is needed.
// When a new source's shard is full of sources in use, the new source is refused (refused_table_full), not
// admitted untracked: admitting it would let a client with enough addresses escape every per-source limit,
// while refusing only delays new sources until some tracked one goes idle (at most `burst` rate intervals
// after its last connection closed). Because the capacity is per shard, that can happen a little before the
// table as a whole is full.
//
// Memory: 40 bytes per tracked source plus 8 to 16 bytes of index, allocated as sources arrive (a shard
// grows by doubling, under its lock: the only allocation, and only until it reaches its capacity).
#pragma once

#include "limits/admission.hpp"
#include "limits/rate_gate.hpp"
#include "limits/source_key.hpp"
#include "limits/source_shard.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

namespace ringd::limits {

class SourceTable {
public:
    using Clock = std::chrono::steady_clock;

    struct Settings {
        std::optional<uint32_t> max_connections_per_source; // unset: no count limit (>= 1 when set)
        std::optional<ConnectionRate> rate;                 // unset: no rate limit
        uint32_t max_tracked_sources = 65536;
        std::optional<uint64_t> seed; // of the key hash; unset: a random one (set only by tests)
    };

    struct Counts {
        uint64_t tracked = 0;
        uint64_t open_connections = 0;
        uint64_t evictions = 0;
    };

    static constexpr unsigned max_shards = 64;
    static constexpr uint32_t min_per_shard = 64; // fewer shards rather than shards too small to hash well

    explicit SourceTable(const Settings& settings);

    // `now` should be read just before: the buckets are shared by all workers, so a time that lags the one other
    // workers passed by D (a loop's cached clock, a thread preempted after reading it) finds a source's bucket
    // D / interval tokens emptier than it is, which matters when D nears burst * interval.
    [[nodiscard]] Admission admit(const SourceKey& key, Clock::time_point now);
    // The same under `policy` instead of the table's own: a listener whose limits a reload changed keeps the
    // table (and so the counts of the connections already open) and checks new connections against the new limits.
    [[nodiscard]] Admission admit(const SourceKey& key, Clock::time_point now, const SourcePolicy& policy);
    // Once per admitted connection, when it closes. False (and nothing changes) when the key has no open
    // connection: a release without its admit.
    bool release(const SourceKey& key);

    // Sums over the shards, each read under its lock (for metrics and tests; not on the data path).
    [[nodiscard]] Counts counts() const;
    [[nodiscard]] uint32_t open_connections(const SourceKey& key) const;
    [[nodiscard]] bool is_tracked(const SourceKey& key) const;
    [[nodiscard]] unsigned shard_count() const { return shard_count_; }

private:
    [[nodiscard]] SourceShard& shard_of(uint64_t hash) const;

    SourcePolicy policy_;
    uint64_t seed_;
    unsigned shard_count_;
    unsigned shard_shift_; // hash >> shard_shift_ is the shard (the high bits; the shard uses the low ones)
    std::unique_ptr<std::unique_ptr<SourceShard>[]> shards_;
};

} // namespace ringd::limits
