// Supervisor: the main thread. Loads the config, builds listeners, runs the engine, and then waits in its own
// small io_uring for signals (signalfd) and its periodic duties: SIGHUP reloads, SIGTERM/SIGINT shut down,
// the systemd watchdog is fed only while every worker loop is turning, STATUS= is kept current.
#pragma once

#include "config/config.hpp"
#include "engine/engine.hpp"
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

private:
    void start(config::Config config);
    void reload();
    void apply(config::Config next);
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
};

// `ringd --check-config`: validates the config and every plugin's view of it, prints one line per listener and
// every warning. Returns the exit code: 1 on any error, or with `strict` (--strict) on any warning; else 0.
int check_config(const Options& options, bool strict);

} // namespace ringd::supervisor
