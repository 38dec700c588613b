// InstanceMetrics: registration checks, per-worker cells, sums.
#include "plugin_host/metrics.hpp"

#include <cerrno>
#include <cstring>
#include <ringd/plugin.h>

namespace ringd::plugin_host {

namespace {

bool valid_name(std::string_view name)
{
    if (name.empty() || name.size() > InstanceMetrics::max_name_length) return false;
    if (!(name[0] == '_' || (name[0] >= 'a' && name[0] <= 'z'))) return false;
    for (char c : name) {
        if (!(c == '_' || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
}

} // namespace

InstanceMetrics::InstanceMetrics(uint32_t worker_count) : worker_count_(worker_count) {}

InstanceMetrics::~InstanceMetrics() = default;

int InstanceMetrics::add_metric(const char* name, uint32_t kind, const char* help)
{
    if (name == nullptr || !valid_name(name)) return -EINVAL;
    if (kind != RINGD_METRIC_COUNTER && kind != RINGD_METRIC_GAUGE) return -EINVAL;
    const std::string_view help_text = help != nullptr ? help : "";
    if (help_text.find_first_of("\r\n") != std::string_view::npos) return -EINVAL;
    const unsigned n = count_.load(std::memory_order_relaxed);
    for (unsigned i = 0; i < n; ++i) {
        if (definitions_[i].name == name) return -EEXIST;
    }
    if (n == max_metrics) return -ENOSPC;
    if (!worker_cells_) {
        worker_cells_ = std::make_unique<WorkerCells[]>(worker_count_);
        published_cells_.store(worker_cells_.get(), std::memory_order_release);
    }
    definitions_[n] = Definition{name, std::string(help_text), kind};
    count_.store(n + 1, std::memory_order_release);
    return int(n);
}

void InstanceMetrics::add(int id, int64_t delta, std::optional<uint32_t> worker) noexcept
{
    if (id < 0 || unsigned(id) >= count_.load(std::memory_order_acquire)) return;
    if (delta < 0 && definitions_[id].kind == RINGD_METRIC_COUNTER) return;
    if (worker && *worker < worker_count_) {
        // Only this worker writes its cell: a plain load and store, no locked instruction.
        std::atomic<int64_t>& cell = published_cells_.load(std::memory_order_relaxed)[*worker].cells[id];
        cell.store(cell.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
        return;
    }
    shared_cells_[id].fetch_add(delta, std::memory_order_relaxed);
}

int InstanceMetrics::read(int id, int64_t* value) const noexcept
{
    if (id < 0 || unsigned(id) >= count_.load(std::memory_order_acquire) || value == nullptr) return -EINVAL;
    int64_t sum = shared_cells_[id].load(std::memory_order_relaxed);
    const WorkerCells* cells = published_cells_.load(std::memory_order_acquire);
    for (uint32_t w = 0; w < worker_count_; ++w)
        sum += cells[w].cells[id].load(std::memory_order_relaxed);
    *value = sum;
    return 0;
}

std::vector<InstanceMetrics::Value> InstanceMetrics::values() const
{
    std::vector<Value> out;
    const unsigned n = count();
    out.reserve(n);
    for (unsigned i = 0; i < n; ++i) {
        int64_t v = 0;
        (void)read(int(i), &v);
        out.push_back(Value{definitions_[i].name, definitions_[i].kind, definitions_[i].help, v});
    }
    return out;
}

} // namespace ringd::plugin_host
