// What the admin listener reports, as the supervisor last published it.
//
// The supervisor (main thread) owns the running configuration and listeners; the admin handler answers on a
// worker thread. They meet here: after start, every reload and every change of state, the supervisor builds an
// immutable DaemonSnapshot and publishes it on the SnapshotBoard; a request copies the current pointer (under a
// mutex held for that copy only) and reads it without racing anything. The counters it points at
// (ListenerStats, plugin metrics, the workers' readings) are read live at the time of the request.
#pragma once

#include "engine/listener_stats.hpp"
#include "engine/worker_stats.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ringd::plugin_host {
class PluginInstance;
}

namespace ringd::observability {

// serving: normal; draining: SIGUSR2 received (listeners stop accepting after drain_grace); stopping: SIGTERM.
enum class DaemonState { serving, draining, stopping };
[[nodiscard]] const char* to_string(DaemonState state);

struct ReloadOutcome {
    std::chrono::system_clock::time_point time;
    bool ok = false;
    std::vector<std::string> errors; // "file:line:col: ..." lines of a failed reload
};

// One running listener (the admin listener included), as /status and /metrics show it.
struct ListenerView {
    std::string name;
    std::string address;   // as configured: tcp://127.0.0.1:8080
    std::string transport; // tcp, udp or unix
    std::string plugin_name;
    std::string plugin_version;
    std::string plugin_abi; // "1.0", "1.1": the ABI the plugin was built against
    std::string plugin_file;
    std::shared_ptr<const engine::ListenerStats> stats;
    std::shared_ptr<const plugin_host::PluginInstance> plugin; // its registered metrics; null in tests
};

struct DaemonSnapshot {
    DaemonState state = DaemonState::serving;
    unsigned workers = 1;
    std::string config_file;
    std::vector<std::string> config_files;
    std::optional<ReloadOutcome> last_reload; // none before the first reload
    uint64_t reloads_ok = 0;
    uint64_t reloads_failed = 0;
    std::chrono::system_clock::time_point last_config_success; // start, or the last reload that worked
    std::vector<ListenerView> listeners;
};

class SnapshotBoard {
public:
    void publish(std::shared_ptr<const DaemonSnapshot> snapshot);
    // Any thread; never null once the supervisor has started (an empty snapshot before).
    [[nodiscard]] std::shared_ptr<const DaemonSnapshot> current() const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const DaemonSnapshot> current_ = std::make_shared<DaemonSnapshot>();
};

// What the admin handler is built with: the board, and how to read what changes on its own.
struct AdminContext {
    SnapshotBoard board;
    // The workers' health counters, read at the time of a request (any thread). Empty: no workers to read.
    std::function<std::vector<engine::WorkerReading>()> read_workers;
    // The access log's counts, read at the time of a request (any thread). Empty: nothing logged yet.
    std::function<std::pair<uint64_t, uint64_t>()> read_access_log; // written, dropped
    std::chrono::system_clock::time_point started_at = std::chrono::system_clock::now();
    std::chrono::steady_clock::time_point started_steady = std::chrono::steady_clock::now();
};

// ringd's version ("0.1.0") and the plugin ABI it speaks ("1.1").
[[nodiscard]] const char* ringd_version();
[[nodiscard]] std::string ringd_abi();

} // namespace ringd::observability
