// ListenerFactory: turns validated ListenerConfigs into running-ready Listeners — plugin loaded, instance
// created from its config, sockets bound (or reused from a predecessor, or adopted from systemd).
// Errors come back as config Diagnostics naming file:line:col, so --check-config, start and reload all
// report plugin problems exactly like YAML problems.
#pragma once

#include "config/config.hpp"
#include "engine/listener.hpp"
#include "plugin_host/plugin.hpp"
#include "service/socket_activation.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <vector>

namespace ringd::supervisor {

class ListenerFactory {
public:
    // `build_log`: whether each plugin build loaded and unloaded is logged (the daemon's are; --check-config
    // prints its own lines).
    ListenerFactory(unsigned workers, const ringd_host* host,
                    plugin_host::BuildLog build_log = plugin_host::BuildLog::info)
        : workers_(workers), host_(host), load_options_{build_log, std::make_shared<std::atomic<unsigned>>(0)}
    {
    }

    // Loads each listener's plugin and creates its instance. A plugin file already loaded is shared while it
    // is the same version of the same file (device, inode, size, mtime); a file replaced since (install, mv, a
    // rebuild) or rewritten in place (cp) is loaded anew, beside the build older instances still run.
    // Throws config::ConfigErrors with every failure.
    [[nodiscard]] std::vector<std::shared_ptr<plugin_host::PluginInstance>>
    create_instances(const config::Config& config);

    // How many plugin builds were left in memory because their file was rewritten in place under them (see
    // PluginLibrary::overwritten()). If any, the process must end with _exit(): the dynamic linker's exit
    // handling would run those objects' destructors, through pointers the rewrite has changed.
    [[nodiscard]] unsigned abandoned_builds() const { return *load_options_.abandoned_builds; }

    // Binds a fresh socket set for `listener`, or adopts the systemd socket named like it. Throws
    // config::ConfigErrors. With `retry_in_use_until`, an address in use is tried again until then: the
    // sockets of a ringd that was just killed are closed by the kernel only after its rings are torn down,
    // which takes 6-60 ms after its exit (0-5,000 open connections, measured).
    [[nodiscard]] std::shared_ptr<engine::ListenerSockets>
    open_sockets(const config::ListenerConfig& listener, service::InheritedSockets& inherited,
                 std::optional<std::chrono::steady_clock::time_point> retry_in_use_until = std::nullopt);

private:
    std::shared_ptr<plugin_host::PluginLibrary> library(const std::filesystem::path& path);
    std::shared_ptr<engine::ListenerSockets>
    bind_retrying_while_in_use(const config::Endpoint& endpoint,
                               std::optional<std::chrono::steady_clock::time_point> until);

    unsigned workers_;
    const ringd_host* host_;
    plugin_host::LoadOptions load_options_;
    struct LoadedBuild {
        std::weak_ptr<plugin_host::PluginLibrary> library;
        bool overwrite_reported; // its file was found rewritten in place, and that was logged
    };
    std::vector<LoadedBuild> libraries_; // every build some instance still uses
};

// True when two configs of one address would serve exactly alike (so a reload keeps the running listener).
[[nodiscard]] bool same_service(const config::ListenerConfig& a, const config::ListenerConfig& b);

// Logs it when a reload hands `fresh` another build of the plugin than `old` runs: which build serves new
// connections, and which one the open connections finish on.
void log_build_change(const engine::Listener& old, const engine::Listener& fresh);

} // namespace ringd::supervisor
