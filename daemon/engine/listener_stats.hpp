// ListenerStats: what the metrics say about one listener name, counted by the workers in cells of their own and
// summed when read (docs/metrics.md lists the metrics made of it).
//
// Counting costs the data path no shared cache line and no locked instruction: each worker writes only its own
// ListenerCells (a cache-line aligned block; CounterCell says how), and the scrape sums them. Rare events count
// the same way, since they all happen on a worker too; the one exception is plugin failures, which the plugin
// boundary already counts per instance (PluginInstance::failures(), on whatever thread the call failed), and
// which are summed here over the instances of this name.
//
// Keyed by listener name (ListenerStatsRegistry): the Listener a reload makes for a name continues the counters
// of the one it replaces, and connections the old generation still serves count on the same cells. The cells
// live as long as any Listener of the name does.
#pragma once

#include "engine/counter_cell.hpp"

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace ringd::plugin_host {
class PluginInstance;
}

namespace ringd::engine {

// Why a connection was refused before the plugin saw it (label `reason` of ringd_connections_refused_total).
enum class Refusal : uint8_t {
    max_connections,            // the listener's max_connections are open
    acl,                        // the peer is not admitted by allow/deny
    worker_slots,               // the worker has no connection slot left (its fixed cap of connections)
    max_connections_per_source, // the client's source has max_connections_per_source open
    connection_rate_per_source, // the client's source has used up its connection_rate_per_source bucket
    source_table_full,          // a new source, and the listener's per-source table is full of sources in use
};
inline constexpr std::size_t refusal_count = 6;
[[nodiscard]] const char* to_string(Refusal reason);

// Why a connection to a listener with `proxy_protocol` was closed before its PROXY header was complete (label
// `reason` of ringd_proxy_protocol_rejected_total). What the header says about the client is then checked as any
// peer is, and refused by Refusal.
enum class ProxyRejection : uint8_t {
    untrusted,  // the socket peer is not in proxy_trusted: its header is not read
    timeout,    // no complete header within proxy_timeout
    malformed,  // bytes that can never become a header this listener accepts (docs/proxy-protocol.md)
    incomplete, // the peer closed or reset before its header was complete
};
inline constexpr std::size_t proxy_rejection_count = 4;
[[nodiscard]] const char* to_string(ProxyRejection reason);

// Why a datagram went nowhere (label `reason` of ringd_datagrams_dropped_total).
enum class DatagramDrop : uint8_t {
    acl,             // received from a peer allow/deny does not admit: not given to the plugin
    truncated,       // received but malformed or cut short (MSG_TRUNC): not given to the plugin
    stopping,        // received while the listener was being removed or ringd stopping: not given to the plugin
    send_queue_full, // a reply the worker's datagram send queue had no room for (the plugin got -ENOBUFS)
    send_failed,     // a reply the kernel refused to send (its completion carried an error)
    proxy_untrusted, // proxy_protocol: from a sender not in proxy_trusted
    proxy_malformed, // proxy_protocol: not starting with a valid v2 header with DGRAM transport (or none)
};
inline constexpr std::size_t datagram_drop_count = 7;
[[nodiscard]] const char* to_string(DatagramDrop reason);

// Why an outbound connection (host->connect) never came to be (label `reason` of
// ringd_outbound_connections_failed_total).
enum class OutboundFailure : uint8_t {
    limit,     // max_outbound_connections were open: connect() returned -EAGAIN, nothing was tried
    refused,   // the peer refused it (ECONNREFUSED)
    timeout,   // the connect timeout, or the idle timeout while connecting, expired
    cancelled, // the plugin closed it, or ringd stopped, before the outcome
    error,     // any other error of the connect
};
inline constexpr std::size_t outbound_failure_count = 5;
[[nodiscard]] const char* to_string(OutboundFailure reason);

// The buckets of ringd_connection_duration_seconds: fixed, so every worker's cells line up.
struct DurationBuckets {
    static constexpr std::size_t count = 13; // upper bounds; one more cell counts what lies above the last
    static constexpr std::array<double, count> upper_seconds{0.001, 0.005, 0.025, 0.1, 0.5,  1,   2.5,
                                                             10,    30,    60,    300, 1800, 3600};
    // The cell for a duration: the first bucket whose bound is not below it, or `count` (+Inf).
    [[nodiscard]] static std::size_t index_of(std::chrono::nanoseconds duration);
};

inline constexpr std::size_t close_reason_count = 5; // ringd_close_reason: peer, local, idle, error, shutdown

// One worker's counters of one listener name. Written only by that worker.
struct alignas(64) ListenerCells {
    CounterCell accepted;                                          // admitted and handed to the plugin (on_open)
    std::array<CounterCell, close_reason_count> closed;            // accepted connections closed, by ringd_close_reason
    std::array<CounterCell, refusal_count> refused;                // by Refusal
    std::array<CounterCell, proxy_rejection_count> proxy_rejected; // by ProxyRejection
    CounterCell bytes_received;                                    // stream bytes read, datagram payload bytes received
    CounterCell bytes_sent;         // stream bytes the kernel took, datagram payload sent
    CounterCell datagrams_received; // every datagram read, dropped ones included
    CounterCell datagrams_sent;     // replies the kernel sent
    std::array<CounterCell, datagram_drop_count> datagrams_dropped;  // by DatagramDrop
    CounterCell recvmsg_errors;                                      // failed recvmsg completions (not ENOBUFS)
    CounterCell outbound_started;                                    // connect() calls that made a connection
    CounterCell outbound_opened;                                     // of those: established (on_connect with 0)
    std::array<CounterCell, outbound_failure_count> outbound_failed; // by OutboundFailure
    CounterCell outbound_closed;                                     // outbound connections torn down (any outcome)
    std::array<CounterCell, DurationBuckets::count + 1> duration_buckets; // accepted connections, at close
    CounterCell duration_sum_ns;

    void count_close(uint8_t reason, std::chrono::nanoseconds lived);
};

// The sum of every worker's cells, as plain numbers (what the exposition renders).
struct ListenerTotals {
    uint64_t accepted = 0;
    std::array<uint64_t, close_reason_count> closed{};
    std::array<uint64_t, refusal_count> refused{};
    std::array<uint64_t, proxy_rejection_count> proxy_rejected{};
    uint64_t bytes_received = 0;
    uint64_t bytes_sent = 0;
    uint64_t datagrams_received = 0;
    uint64_t datagrams_sent = 0;
    std::array<uint64_t, datagram_drop_count> datagrams_dropped{};
    uint64_t recvmsg_errors = 0;
    uint64_t outbound_started = 0;
    uint64_t outbound_opened = 0;
    std::array<uint64_t, outbound_failure_count> outbound_failed{};
    uint64_t outbound_closed = 0;
    std::array<uint64_t, DurationBuckets::count + 1> duration_buckets{}; // per bucket, not cumulative
    uint64_t duration_sum_ns = 0;
    uint64_t plugin_errors = 0;

    [[nodiscard]] uint64_t closed_total() const;
    [[nodiscard]] uint64_t refused_total() const;
    // Accepted connections not closed yet. Read while workers count, the closes are summed before the accepts,
    // so a connection is never seen closed without having been seen accepted.
    [[nodiscard]] uint64_t active() const { return accepted > closed_total() ? accepted - closed_total() : 0; }
    [[nodiscard]] uint64_t outbound_active() const
    {
        return outbound_started > outbound_closed ? outbound_started - outbound_closed : 0;
    }
};

class ListenerStats {
public:
    ListenerStats(std::string name, unsigned workers);
    ListenerStats(const ListenerStats&) = delete;
    ListenerStats& operator=(const ListenerStats&) = delete;

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] unsigned workers() const { return workers_; }
    // Worker `worker`'s cells: that worker's thread writes them, nobody else.
    [[nodiscard]] ListenerCells& cells(unsigned worker) { return cells_[worker]; }
    // Any thread.
    [[nodiscard]] ListenerTotals totals() const;

    // Plugin failures of the instances serving this name: a Listener attaches its instance while it exists;
    // when it detaches, what the instance counted so far stays in the total. Any thread.
    void attach(const plugin_host::PluginInstance* instance);
    void detach(const plugin_host::PluginInstance* instance);
    [[nodiscard]] uint64_t plugin_errors() const;

private:
    std::string name_;
    unsigned workers_;
    std::unique_ptr<ListenerCells[]> cells_;
    mutable std::mutex instances_mutex_;
    std::vector<const plugin_host::PluginInstance*> instances_;
    uint64_t detached_failures_ = 0;
};

// The ListenerStats of every listener name that has a Listener. Main thread.
class ListenerStatsRegistry {
public:
    explicit ListenerStatsRegistry(unsigned workers) : workers_(workers) {}
    // The stats of `name`: the ones its running Listeners share, or fresh ones when it has none.
    [[nodiscard]] std::shared_ptr<ListenerStats> for_listener(const std::string& name);

private:
    unsigned workers_;
    std::map<std::string, std::weak_ptr<ListenerStats>> by_name_;
};

} // namespace ringd::engine
