// ListenerFactory: turns validated ListenerConfigs into running-ready Listeners — plugin loaded, instance
// created from its config, sockets bound (or reused from a predecessor, or adopted from systemd).
// Errors come back as config Diagnostics naming file:line:col, so --check-config, start and reload all
// report plugin problems exactly like YAML problems.
#pragma once

#include "config/config.hpp"
#include "engine/listener.hpp"
#include "plugin_host/plugin.hpp"
#include "service/socket_activation.hpp"

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace ringd::supervisor {

class ListenerFactory {
public:
    ListenerFactory(unsigned workers, const ringd_host* host) : workers_(workers), host_(host) {}

    // Loads each listener's plugin and creates its instance. Throws config::ConfigErrors with every failure.
    [[nodiscard]] std::vector<std::shared_ptr<plugin_host::PluginInstance>>
    create_instances(const config::Config& config);

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
    std::map<std::filesystem::path, std::weak_ptr<plugin_host::PluginLibrary>> libraries_;
};

// True when two configs of one address would serve exactly alike (so a reload keeps the running listener).
[[nodiscard]] bool same_service(const config::ListenerConfig& a, const config::ListenerConfig& b);

} // namespace ringd::supervisor
