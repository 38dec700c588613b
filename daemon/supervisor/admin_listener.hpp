// The admin listener and the snapshot it reports, as the supervisor builds them: the `admin:` section made into an
// ordinary ListenerConfig named `admin` (so start and reload bind, move and retire it like any listener) with a
// built-in plugin instance, and the DaemonSnapshot published for the admin handler after every change.
#pragma once

#include "config/config.hpp"
#include "engine/listener.hpp"
#include "observability/snapshot.hpp"
#include "plugin_host/plugin.hpp"

#include <memory>
#include <vector>

namespace ringd::supervisor {

// The listener the admin section describes: name `admin`, its address, access lists and mode, fixed limits.
[[nodiscard]] config::ListenerConfig admin_listener_config(const config::AdminConfig& admin);

// The admin handler's instance for `admin`, reading from `context`. Throws config::ConfigErrors.
[[nodiscard]] std::shared_ptr<plugin_host::PluginInstance>
create_admin_instance(const config::AdminConfig& admin, unsigned workers, const ringd_host* host,
                      std::shared_ptr<const observability::AdminContext> context);

// What /status and /metrics say about one running listener.
[[nodiscard]] observability::ListenerView view_of(const engine::Listener& listener);

} // namespace ringd::supervisor
