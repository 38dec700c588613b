// ListenerStats: reason names, the duration histogram's buckets, sums over the workers' cells.
#include "engine/listener_stats.hpp"

#include "plugin_host/plugin.hpp"

#include <algorithm>
#include <numeric>

namespace ringd::engine {

const char* to_string(Refusal reason)
{
    switch (reason) {
    case Refusal::max_connections:
        return "max_connections";
    case Refusal::acl:
        return "acl";
    case Refusal::worker_slots:
        return "worker_slots";
    case Refusal::max_connections_per_source:
        return "max_connections_per_source";
    case Refusal::connection_rate_per_source:
        return "connection_rate_per_source";
    case Refusal::source_table_full:
        return "source_table_full";
    }
    return "?";
}

const char* to_string(ProxyRejection reason)
{
    switch (reason) {
    case ProxyRejection::untrusted:
        return "untrusted";
    case ProxyRejection::timeout:
        return "timeout";
    case ProxyRejection::malformed:
        return "malformed";
    case ProxyRejection::incomplete:
        return "incomplete";
    }
    return "?";
}

const char* to_string(DatagramDrop reason)
{
    switch (reason) {
    case DatagramDrop::acl:
        return "acl";
    case DatagramDrop::truncated:
        return "truncated";
    case DatagramDrop::stopping:
        return "stopping";
    case DatagramDrop::send_queue_full:
        return "send_queue_full";
    case DatagramDrop::send_failed:
        return "send_failed";
    case DatagramDrop::proxy_untrusted:
        return "proxy_untrusted";
    case DatagramDrop::proxy_malformed:
        return "proxy_malformed";
    }
    return "?";
}

const char* to_string(OutboundFailure reason)
{
    switch (reason) {
    case OutboundFailure::limit:
        return "limit";
    case OutboundFailure::refused:
        return "refused";
    case OutboundFailure::timeout:
        return "timeout";
    case OutboundFailure::cancelled:
        return "cancelled";
    case OutboundFailure::error:
        return "error";
    }
    return "?";
}

std::size_t DurationBuckets::index_of(std::chrono::nanoseconds duration)
{
    const double seconds = std::chrono::duration<double>(duration).count();
    std::size_t i = 0;
    while (i < count && seconds > upper_seconds[i])
        ++i;
    return i;
}

void ListenerCells::count_close(uint8_t reason, std::chrono::nanoseconds lived)
{
    if constexpr (!counting_enabled) return;
    if (reason < close_reason_count) closed[reason].add();
    duration_buckets[DurationBuckets::index_of(lived)].add();
    duration_sum_ns.add(uint64_t(std::max<int64_t>(lived.count(), 0)));
}

uint64_t ListenerTotals::closed_total() const
{
    return std::accumulate(closed.begin(), closed.end(), uint64_t(0));
}

uint64_t ListenerTotals::refused_total() const
{
    return std::accumulate(refused.begin(), refused.end(), uint64_t(0));
}

ListenerStats::ListenerStats(std::string name, unsigned workers)
    : name_(std::move(name)), workers_(workers), cells_(std::make_unique<ListenerCells[]>(workers))
{
}

namespace {

template <std::size_t N> void add_cells(std::array<uint64_t, N>& to, const std::array<CounterCell, N>& from)
{
    for (std::size_t i = 0; i < N; ++i)
        to[i] += from[i].read();
}

} // namespace

ListenerTotals ListenerStats::totals() const
{
    ListenerTotals t;
    // Ends before beginnings (see ListenerTotals::active): closes first, then everything else.
    for (unsigned w = 0; w < workers_; ++w) {
        add_cells(t.closed, cells_[w].closed);
        t.outbound_closed += cells_[w].outbound_closed.read();
    }
    for (unsigned w = 0; w < workers_; ++w) {
        const ListenerCells& c = cells_[w];
        t.accepted += c.accepted.read();
        add_cells(t.refused, c.refused);
        add_cells(t.proxy_rejected, c.proxy_rejected);
        t.bytes_received += c.bytes_received.read();
        t.bytes_sent += c.bytes_sent.read();
        t.datagrams_received += c.datagrams_received.read();
        t.datagrams_sent += c.datagrams_sent.read();
        add_cells(t.datagrams_dropped, c.datagrams_dropped);
        t.recvmsg_errors += c.recvmsg_errors.read();
        t.outbound_started += c.outbound_started.read();
        t.outbound_opened += c.outbound_opened.read();
        add_cells(t.outbound_failed, c.outbound_failed);
        add_cells(t.duration_buckets, c.duration_buckets);
        t.duration_sum_ns += c.duration_sum_ns.read();
    }
    t.plugin_errors = plugin_errors();
    return t;
}

void ListenerStats::attach(const plugin_host::PluginInstance* instance)
{
    std::lock_guard lock(instances_mutex_);
    instances_.push_back(instance);
}

void ListenerStats::detach(const plugin_host::PluginInstance* instance)
{
    std::lock_guard lock(instances_mutex_);
    const auto it = std::find(instances_.begin(), instances_.end(), instance);
    if (it == instances_.end()) return;
    detached_failures_ += instance->failures();
    instances_.erase(it);
}

uint64_t ListenerStats::plugin_errors() const
{
    std::lock_guard lock(instances_mutex_);
    uint64_t sum = detached_failures_;
    for (const plugin_host::PluginInstance* instance : instances_)
        sum += instance->failures();
    return sum;
}

std::shared_ptr<ListenerStats> ListenerStatsRegistry::for_listener(const std::string& name)
{
    std::erase_if(by_name_, [](const auto& entry) { return entry.second.expired(); });
    std::weak_ptr<ListenerStats>& slot = by_name_[name];
    if (auto stats = slot.lock()) return stats;
    auto stats = std::make_shared<ListenerStats>(name, workers_);
    slot = stats;
    return stats;
}

} // namespace ringd::engine
