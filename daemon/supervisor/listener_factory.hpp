// ListenerFactory: turns validated ListenerConfigs into running-ready Listeners — plugin loaded, instance
// created from its config, sockets bound (or reused from a predecessor, or adopted from systemd).
// Errors come back as config Diagnostics naming file:line:col, so --check-config, start and reload all
// report plugin problems exactly like YAML problems.
#pragma once

#include "config/config.hpp"
#include "engine/listener.hpp"
#include "plugin_host/plugin.hpp"
#include "service/socket_activation.hpp"

#include <map>
#include <memory>
#include <vector>

namespace ringd::supervisor {

class ListenerFactory {
public:
    ListenerFactory(unsigned workers, const ringd_host* host) : workers_(workers), host_(host) {}

    // Loads each listener's plugin and creates its instance. Throws config::ConfigErrors with every failure.
    [[nodiscard]] std::vector<std::shared_ptr<plugin_host::PluginInstance>>
    create_instances(const config::Config& config);

    // Binds a fresh socket set for `listener`, or adopts the systemd socket named like it. Throws
    // config::ConfigErrors.
    [[nodiscard]] std::shared_ptr<engine::ListenerSockets> open_sockets(const config::ListenerConfig& listener,
                                                                        service::InheritedSockets& inherited);

private:
    std::shared_ptr<plugin_host::PluginLibrary> library(const std::filesystem::path& path);

    unsigned workers_;
    const ringd_host* host_;
    std::map<std::filesystem::path, std::weak_ptr<plugin_host::PluginLibrary>> libraries_;
};

// True when two configs of one address would serve exactly alike (so a reload keeps the running listener).
[[nodiscard]] bool same_service(const config::ListenerConfig& a, const config::ListenerConfig& b);

} // namespace ringd::supervisor
