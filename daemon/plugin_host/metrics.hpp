// InstanceMetrics: the counters and gauges one plugin instance registered (ringd_host.metric_register, ABI 1.1).
//
// Registration happens only while create() runs, on the main thread; after that the set is fixed and is read
// by the workers, the plugin's own threads and (later) the metrics exporter, all without locks. Each worker
// adds to cells of its own, with a relaxed load and store (no read-modify-write on the hot path: only that
// worker ever writes them); any other thread adds to one shared cell per metric with fetch_add. A read sums
// them all, so a value read while others add is some value the metric had recently, never a torn one.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::plugin_host {

class InstanceMetrics {
public:
    static constexpr unsigned max_metrics = 64;
    static constexpr std::size_t max_name_length = 64;

    struct Value {
        std::string name; // as registered; exported as ringd_plugin_<name>
        uint32_t kind;    // RINGD_METRIC_COUNTER or RINGD_METRIC_GAUGE
        std::string help;
        int64_t value;
    };

    explicit InstanceMetrics(uint32_t worker_count);
    ~InstanceMetrics();
    InstanceMetrics(const InstanceMetrics&) = delete;
    InstanceMetrics& operator=(const InstanceMetrics&) = delete;

    // Main thread, while the instance's create() runs (the caller checks that). Returns the id (>= 0), or
    // -EINVAL (name not [a-z_][a-z0-9_]* of at most 64 characters, unknown kind, help with a line break),
    // -EEXIST (name taken) or -ENOSPC (64 registered already).
    [[nodiscard]] int add_metric(const char* name, uint32_t kind, const char* help);

    // Any thread. `worker` is the calling worker's index when the caller is a worker thread (its own cells),
    // empty for any other thread. Unknown ids, and a negative delta for a counter, are ignored.
    void add(int id, int64_t delta, std::optional<uint32_t> worker) noexcept;

    // Any thread. 0 and the sum over every cell, or -EINVAL for an unknown id.
    [[nodiscard]] int read(int id, int64_t* value) const noexcept;

    // Every registered metric with its current value, in registration order. Any thread.
    [[nodiscard]] std::vector<Value> values() const;
    [[nodiscard]] unsigned count() const { return count_.load(std::memory_order_acquire); }

private:
    struct Definition {
        std::string name;
        std::string help;
        uint32_t kind = 0;
    };
    // One worker's cells, a cache line apart from the next worker's, so workers never share a line.
    struct alignas(64) WorkerCells {
        std::array<std::atomic<int64_t>, max_metrics> cells{};
    };

    uint32_t worker_count_;
    std::array<Definition, max_metrics> definitions_; // [0, count_) are set, and never change after
    std::atomic<unsigned> count_{0};
    // Allocated with the first registration and published before count_ grows, so whoever sees an id sees its
    // cells too.
    std::unique_ptr<WorkerCells[]> worker_cells_;
    std::atomic<WorkerCells*> published_cells_{nullptr};
    std::array<std::atomic<int64_t>, max_metrics> shared_cells_{}; // non-worker threads
};

} // namespace ringd::plugin_host
