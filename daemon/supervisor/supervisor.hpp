// Supervisor: the main thread. Loads the config, builds listeners, runs the engine, and then waits in its own
// small io_uring for signals (signalfd) and its periodic duties: SIGHUP reloads, SIGTERM/SIGINT shut down,
// SIGUSR2 drains (/healthz says 503 at once, listeners other than `admin` stop accepting after drain_grace),
// the systemd watchdog is fed only while every worker loop is turning, STATUS= is kept current, and the
// admin listener's snapshot (observability/snapshot.hpp) is published after every change.
#pragma once

#include "config/config.hpp"
#include "engine/engine.hpp"
#include "engine/listener_stats.hpp"
#include "observability/snapshot.hpp"
#include "service/notifier.hpp"
#include "service/socket_activation.hpp"
#include "supervisor/listener_factory.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

namespace ringd::supervisor {

struct Options {
    std::filesystem::path config_file;
    std::optional<std::filesystem::path> plugin_dir;
    std::optional<std::string> log_level; // --log-level wins over the config's log.level
    // Test only (env RINGD_TEST_ACCESS_LOG_CAPACITY, docs/access-log.md): a smaller access log queue, so a test
    // can fill it with a few hundred connections.
    std::optional<std::size_t> access_log_capacity;
};

class Supervisor {
public:
    explicit Supervisor(Options options);
    // Runs until SIGTERM/SIGINT; returns the process exit code.
    int run();
    // A plugin build was left in memory because its file was rewritten in place: end with _exit() (main).
    [[nodiscard]] bool must_skip_exit_handlers() const { return factory_ && factory_->abandoned_builds() > 0; }

private:
    // What runs for a config: its listeners and, with `admin:`, the admin listener, each with its instance.
    struct ServingSet {
        std::vector<config::ListenerConfig> configs;
        std::vector<std::shared_ptr<plugin_host::PluginInstance>> instances;
    };

    void start(config::Config config);
    void reload();
    void apply(config::Config next);
    [[nodiscard]] ServingSet serving_set(const config::Config& config, bool listeners_too);
    [[nodiscard]] std::shared_ptr<engine::Listener> make_listener(const config::ListenerConfig& config,
                                                                  std::shared_ptr<engine::ListenerSockets> sockets,
                                                                  std::shared_ptr<plugin_host::PluginInstance> plugin);
    void record_reload(bool ok, std::vector<std::string> errors);
    void begin_drain();
    void stop_accepting_for_drain();
    void publish_snapshot();
    [[nodiscard]] std::shared_ptr<engine::Listener> predecessor_of(const engine::Listener& fresh) const;
    void update_status();
    void feed_watchdog();
    [[nodiscard]] config::LoadOptions load_options() const;

    Options options_;
    config::Config config_;
    service::ServiceNotifier notifier_;
    service::InheritedSockets inherited_;
    std::unique_ptr<engine::Engine> engine_;
    std::unique_ptr<ListenerFactory> factory_;
    std::vector<std::shared_ptr<engine::Listener>> active_;
    std::string last_status_;
    std::unique_ptr<engine::ListenerStatsRegistry> stats_; // listener counters by name, across reloads
    engine::SourceTableRegistry source_tables_;            // per-source limits' tables by name, across reloads
    std::shared_ptr<observability::AdminContext> admin_context_ = std::make_shared<observability::AdminContext>();
    observability::DaemonState state_ = observability::DaemonState::serving;
    std::optional<std::chrono::steady_clock::time_point> drain_deadline_; // draining: listeners accept until then
    bool drained_ = false; // listeners other than `admin` stopped accepting; a reload keeps them stopped
    std::optional<observability::ReloadOutcome> last_reload_;
    uint64_t reloads_ok_ = 0;
    uint64_t reloads_failed_ = 0;
    std::chrono::system_clock::time_point last_config_success_{};
};

// `ringd --check-config`: validates the config and every plugin's view of it, prints one line per listener and
// every warning. Returns the exit code: 1 on any error, or with `strict` (--strict) on any warning; else 0.
int check_config(const Options& options, bool strict);

} // namespace ringd::supervisor
