// ringd: command line, logging setup, and hand-off to the Supervisor. Runs in the foreground, always.
#include "plugin_host/fatal_signals.hpp"
#include "service/logging.hpp"
#include "supervisor/supervisor.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <fmt/format.h>
#include <iostream>
#include <ringd/plugin.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char** argv)
{
    CLI::App app{"ringd: io_uring socket server daemon; listeners and their handler plugins come from YAML.\n"
                 "Runs in the foreground. SIGHUP reloads the configuration, SIGTERM/SIGINT stop gracefully.",
                 "ringd"};
    ringd::supervisor::Options options;
    std::string config_file = "/etc/ringd/ringd.yaml";
    std::string plugin_dir;
    std::string log_level;
    bool check = false;
    app.add_option("-c,--config", config_file, "configuration file")->capture_default_str();
#ifndef RINGD_DEFAULT_PLUGIN_DIR
#define RINGD_DEFAULT_PLUGIN_DIR "/usr/lib/ringd/plugins"
#endif
    app.add_option("--plugin-dir", plugin_dir,
                   "directory of plugin .so files (overrides plugin_dir:, whose default is " RINGD_DEFAULT_PLUGIN_DIR
                   ")");
    app.add_option("--log-level", log_level, "trace, debug, info, warn or error (overrides log.level)")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
    bool strict = false;
    CLI::Option* check_flag =
        app.add_flag("-t,--check-config", check,
                     "validate the configuration and every plugin's config, print a line per listener and every "
                     "warning (file:line:col: warning: ...), exit: 0 if valid, even with warnings");
    app.add_flag("--strict", strict, "with --check-config: exit 1 on any warning too")->needs(check_flag);
    // The plugin ABI this ringd speaks: it loads plugins built for ABI 1.0 up to this minor version, and newer
    // 1.x plugins that check RINGD_HOST_HAS before using what this host lacks.
    app.set_version_flag("-V,--version", fmt::format("ringd {}, plugin ABI {}.{}", RINGD_VERSION,
                                                     RINGD_PLUGIN_ABI_VERSION, RINGD_PLUGIN_ABI_MINOR));
    CLI11_PARSE(app, argc, argv);

    options.config_file = config_file;
    if (!plugin_dir.empty()) options.plugin_dir = plugin_dir;
    if (!log_level.empty()) options.log_level = log_level;
    // A test knob, not a setting: how many access log records may wait for the writer (docs/access-log.md).
    if (const char* capacity = std::getenv("RINGD_TEST_ACCESS_LOG_CAPACITY"); capacity != nullptr) {
        const unsigned long value = std::strtoul(capacity, nullptr, 10);
        if (value > 0) options.access_log_capacity = value;
    }

    // Ambient capabilities (CAP_NET_BIND_SERVICE from the unit) would pass on to every command remote-cmd runs;
    // ringd itself keeps them in its permitted/effective sets, which is all bind() needs.
    ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);

    // A crash in a plugin (or in ringd) leaves one line naming the plugin and callback before the process dies.
    ringd::plugin_host::install_fatal_signal_reporter(ringd::service::stderr_is_journal());
    const ringd::plugin_host::AltSignalStack signal_stack;

    try {
        ringd::service::setup_logging(log_level.empty() ? "info" : log_level);
        if (check) return ringd::supervisor::check_config(options, strict);
        ringd::supervisor::Supervisor supervisor(options);
        const int status = supervisor.run();
        if (supervisor.must_skip_exit_handlers()) {
            // A plugin's file was rewritten in place (cp) under its loaded code: exit() would have the dynamic
            // linker run that object's destructors, through pointers the rewrite changed, and crash.
            spdlog::shutdown();
            std::cout.flush();
            ::_exit(status);
        }
        return status;
    } catch (const std::exception& e) {
        std::cerr << "ringd: " << e.what() << '\n';
        return 1;
    }
}
