// The admin listener's configuration and instance, and the listeners as the admin handler reports them.
#include "supervisor/admin_listener.hpp"

#include "observability/admin_handler.hpp"

namespace ringd::supervisor {

namespace {

// Enough for a scraper, ringdctl and a person with curl; each request is one short-lived connection.
constexpr uint32_t admin_max_connections = 64;

std::string admin_name()
{
    return std::string(config::admin_listener_name);
}

const char* transport_name(config::Transport transport)
{
    switch (transport) {
    case config::Transport::tcp:
        return "tcp";
    case config::Transport::udp:
        return "udp";
    case config::Transport::unix_stream:
        return "unix";
    }
    return "?";
}

} // namespace

config::ListenerConfig admin_listener_config(const config::AdminConfig& admin)
{
    config::ListenerConfig l;
    l.name = config::admin_listener_name;
    l.endpoint = admin.endpoint;
    l.plugin_path = "<built-in admin>";
    l.allow = admin.allow;
    l.deny = admin.deny;
    l.unix_mode = admin.unix_mode;
    l.limits.max_connections = admin_max_connections;
    // The handler's own setting, spelled like a plugin's config so that a reload that changes it is a change.
    l.plugin_config_yaml = "{request_timeout_ms: " + std::to_string(admin.request_timeout.count()) + "}";
    l.where = admin.where;
    l.plugin_where = admin.where;
    l.config_key_locations[""] = admin.where;
    return l;
}

std::shared_ptr<plugin_host::PluginInstance>
create_admin_instance(const config::AdminConfig& admin, unsigned workers, const ringd_host* host,
                      std::shared_ptr<const observability::AdminContext> context)
{
    const plugin_host::InstanceSpec spec{admin_name(), "{}", RINGD_KIND_STREAM, workers, host};
    try {
        return observability::create_admin_instance(spec, std::move(context),
                                                    observability::AdminSettings{admin.request_timeout});
    } catch (const std::runtime_error& e) {
        throw config::ConfigErrors({config::Diagnostic{admin.where, admin_name(), e.what()}});
    }
}

observability::ListenerView view_of(const engine::Listener& listener)
{
    const plugin_host::PluginInstance& plugin = *listener.plugin();
    observability::ListenerView v;
    v.name = listener.name();
    v.address = listener.config().endpoint.text;
    v.transport = transport_name(listener.config().endpoint.transport);
    v.plugin_name = plugin.d().name;
    v.plugin_version = plugin.d().version != nullptr ? plugin.d().version : "";
    v.plugin_abi = std::to_string(plugin.d().abi_version) + "." + std::to_string(plugin.library().abi_minor());
    v.plugin_file = plugin.library().path().string();
    v.stats = listener.stats();
    v.plugin = listener.plugin();
    return v;
}

} // namespace ringd::supervisor
