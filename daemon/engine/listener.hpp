// Listener: one configured `listeners:` entry as the engine runs it. Built on the main thread (sockets bound,
// plugin instance created), then shared read-only with every worker; only the counters (its ListenerStats, shared
// by every generation of its name) change.
//
// ListenerSockets are the bound sockets of one address. They live apart from the Listener so that a reload
// which changes a listener's plugin config can hand the very same sockets to its successor: the address
// never stops accepting.
#pragma once

#include "config/config.hpp"
#include "engine/listener_stats.hpp"
#include "limits/source_table.hpp"
#include "plugin_host/plugin.hpp"
#include "util/unique_fd.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ringd::engine {

// A socket call for a listener failed; what() names the address and the cause.
class BindError : public std::runtime_error {
public:
    BindError(int err, const std::string& what) : std::runtime_error(what), err_(err) {}
    [[nodiscard]] int error() const { return err_; } // errno
private:
    int err_;
};

class ListenerSockets {
public:
    // Binds `endpoint`: with SO_REUSEPORT one socket per worker for TCP/UDP (the kernel spreads connections
    // and datagrams across workers), one shared socket for Unix stream sockets. Throws BindError (or
    // std::runtime_error when a path is in the way) with a message naming the address and the cause.
    [[nodiscard]] static std::shared_ptr<ListenerSockets> bind(const config::Endpoint& endpoint, unsigned workers);
    // Wraps a socket inherited from systemd (socket activation); it is shared by all workers.
    [[nodiscard]] static std::shared_ptr<ListenerSockets> adopt(const config::Endpoint& endpoint, UniqueFd fd);
    ~ListenerSockets();
    ListenerSockets(const ListenerSockets&) = delete;
    ListenerSockets& operator=(const ListenerSockets&) = delete;

    [[nodiscard]] int fd_for_worker(unsigned worker) const
    {
        return fds_.size() == 1 ? fds_[0].get() : fds_[worker % fds_.size()].get();
    }
    [[nodiscard]] const config::Endpoint& endpoint() const { return endpoint_; }
    // Stops listening at once (queued connections are refused): for a listener removed from the config while
    // its last connections drain. Never for sockets a successor listener shares.
    void stop_listening();
    // Sets the permission bits of the socket file ringd created (`mode:`; by chmod, since umask only narrows
    // them). No-op for sockets without a file of ours: ports, abstract names, sockets systemd passed in (their
    // mode is the .socket unit's SocketMode=). Throws std::runtime_error naming the path and the cause.
    void apply_unix_mode(uint32_t mode) const;

    // Open connections at this address, across workers and across the listener generations that share it,
    // so a reload cannot reset the count that max_connections is checked against.
    std::atomic<uint32_t> open_connections{0};
    // Outbound connections (host->connect) open for this address's plugin instances, counted the same way
    // against max_outbound_connections.
    std::atomic<uint32_t> open_outbound{0};

private:
    ListenerSockets(config::Endpoint endpoint, std::vector<UniqueFd> fds, bool owns_path);
    config::Endpoint endpoint_;
    std::vector<UniqueFd> fds_;
    bool owns_unix_path_; // we created the socket file, so we remove it
    // The file bind() created. A reload can remove a unix listener and add it back while the old one still
    // drains: the new bind replaces the file, and the old sockets must then leave the new file alone.
    dev_t unix_file_dev_ = 0;
    ino_t unix_file_ino_ = 0;
};

class Listener {
public:
    // `stats`: the counters of the listener's name, shared with its other generations (ListenerStatsRegistry).
    // `sources`: its per-source table (SourceTableRegistry), null when the config sets no per-source limit.
    Listener(config::ListenerConfig config, std::shared_ptr<ListenerSockets> sockets,
             std::shared_ptr<plugin_host::PluginInstance> plugin, std::shared_ptr<ListenerStats> stats,
             std::shared_ptr<limits::SourceTable> sources = nullptr);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    [[nodiscard]] const config::ListenerConfig& config() const { return config_; }
    [[nodiscard]] const std::string& name() const { return config_.name; }
    [[nodiscard]] const std::shared_ptr<ListenerSockets>& sockets() const { return sockets_; }
    [[nodiscard]] const std::shared_ptr<plugin_host::PluginInstance>& plugin() const { return plugin_; }
    // Every call into this listener's plugin instance goes through plugin_host::plugin_call_failed() with
    // this target: it names the listener and plugin and counts failures in the instance (plugin_failures()).
    [[nodiscard]] const plugin_host::PluginCallTarget& call_target() const { return plugin_->call_target(); }
    [[nodiscard]] uint64_t plugin_failures() const { return plugin_->failures(); }

    // The listener this one succeeds across a reload (same name, plugin of the same name), whose instance hands
    // its state over (on_handover) on each worker where both are present. Set by the supervisor before the
    // listener is handed to the engine, never changed after; weak, so it keeps nothing alive.
    void set_handover_from(std::weak_ptr<Listener> predecessor) { handover_from_ = std::move(predecessor); }
    [[nodiscard]] const std::weak_ptr<Listener>& handover_from() const { return handover_from_; }
    [[nodiscard]] bool is_datagram() const { return config_.endpoint.transport == config::Transport::udp; }
    [[nodiscard]] bool has_acl() const { return !config_.allow.empty() || !config_.deny.empty(); }
    // deny wins over allow; an empty allow list allows everyone not denied.
    [[nodiscard]] bool admits(const sockaddr* peer) const;

    // Counts a new connection against max_connections; false (and nothing counted) when full.
    [[nodiscard]] bool try_add_connection();
    void remove_connection() { sockets_->open_connections.fetch_sub(1, std::memory_order_relaxed); }
    [[nodiscard]] uint32_t open_connections() const
    {
        return sockets_->open_connections.load(std::memory_order_relaxed);
    }
    // Per-source limits (max_connections_per_source, connection_rate_per_source), any worker thread.
    [[nodiscard]] bool limits_sources() const { return sources_ != nullptr; }
    // The source `client` counts as (its address masked to source_prefix_v4/v6); nullopt when it has no IP
    // address (a unix peer, AF_UNSPEC) or the listener limits no source.
    [[nodiscard]] std::optional<limits::SourceKey> source_of(const sockaddr* client) const;
    // Reads the clock itself, right before the table does: a stale time would count against the bucket
    // (SourceTable::admit). An admitted source is release_source()d once when its connection closes.
    [[nodiscard]] limits::Admission admit_source(const limits::SourceKey& source) const;
    void release_source(const limits::SourceKey& source) const { sources_->release(source); }
    [[nodiscard]] const std::shared_ptr<limits::SourceTable>& source_table() const { return sources_; }

    // PROXY protocol: on for this listener; a socket peer allowed to send a header (`proxy_trusted`; on a unix
    // listener every peer is).
    [[nodiscard]] bool expects_proxy_header() const { return config_.proxy_protocol != config::ProxyProtocol::off; }
    [[nodiscard]] bool trusts_proxy(const sockaddr* peer) const;

    // The same for outbound connections, against max_outbound_connections.
    [[nodiscard]] bool try_add_outbound();
    void remove_outbound() { sockets_->open_outbound.fetch_sub(1, std::memory_order_relaxed); }

    // The counters of this listener's name (docs/metrics.md); a worker counts only in cells(its index).
    [[nodiscard]] const std::shared_ptr<ListenerStats>& stats() const { return stats_; }
    [[nodiscard]] ListenerCells& cells(unsigned worker) const { return stats_->cells(worker); }

private:
    config::ListenerConfig config_;
    std::shared_ptr<ListenerSockets> sockets_;
    std::shared_ptr<plugin_host::PluginInstance> plugin_;
    std::shared_ptr<ListenerStats> stats_;
    std::shared_ptr<limits::SourceTable> sources_;
    limits::SourcePolicy source_policy_; // this generation's limits, applied through the table of its name
    std::weak_ptr<Listener> handover_from_;
};

// The per-source table of every listener name with per-source limits. A Listener that a reload makes for a name
// gets the table its predecessor uses, so the connections open from each source still count; only a change of
// max_tracked_sources or of a source prefix (which change what a source is) starts a fresh table. Main thread.
class SourceTableRegistry {
public:
    // Null when `listener` sets no per-source limit.
    [[nodiscard]] std::shared_ptr<limits::SourceTable> for_listener(const config::ListenerConfig& listener);

private:
    struct Entry {
        std::weak_ptr<limits::SourceTable> table;
        uint32_t max_tracked_sources = 0;
        unsigned prefix_v4 = 0;
        unsigned prefix_v6 = 0;
    };
    std::map<std::string, Entry> by_name_;
};

} // namespace ringd::engine
