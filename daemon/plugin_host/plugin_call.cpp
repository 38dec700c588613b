// The plugin call boundary's failure report; see plugin_call.hpp.
#include "plugin_host/plugin_call.hpp"

#include <spdlog/spdlog.h>

namespace ringd::plugin_host {

const char* to_string(PluginCallback callback) noexcept
{
    switch (callback) {
    case PluginCallback::create:
        return "create";
    case PluginCallback::destroy:
        return "destroy";
    case PluginCallback::on_open:
        return "on_open";
    case PluginCallback::on_data:
        return "on_data";
    case PluginCallback::on_peer_shutdown:
        return "on_peer_shutdown";
    case PluginCallback::on_close:
        return "on_close";
    case PluginCallback::on_datagram:
        return "on_datagram";
    case PluginCallback::on_timer:
        return "on_timer";
    case PluginCallback::spawn_done:
        return "spawn_done";
    case PluginCallback::conn_task:
        return "conn_task";
    case PluginCallback::worker_task:
        return "worker_task";
    case PluginCallback::for_each_connection:
        return "for_each_connection";
    case PluginCallback::on_output_drained:
        return "on_output_drained";
    case PluginCallback::on_worker_start:
        return "on_worker_start";
    case PluginCallback::on_worker_stop:
        return "on_worker_stop";
    case PluginCallback::on_worker_timer:
        return "on_worker_timer";
    case PluginCallback::on_handover:
        return "on_handover";
    case PluginCallback::on_connect:
        return "on_connect";
    }
    return "?";
}

const char* consequence(PluginCallback callback) noexcept
{
    switch (callback) {
    case PluginCallback::on_open:
    case PluginCallback::on_data:
    case PluginCallback::on_peer_shutdown:
    case PluginCallback::on_timer:
    case PluginCallback::spawn_done:
    case PluginCallback::on_output_drained:
    case PluginCallback::for_each_connection:
    case PluginCallback::on_connect:
        return "connection aborted";
    case PluginCallback::conn_task:
        // With a connection the caller aborts it; with none (it was gone) there is nothing to abort.
        return "its connection (if still there) aborted";
    case PluginCallback::worker_task:
    case PluginCallback::on_worker_start:
    case PluginCallback::on_worker_stop:
    case PluginCallback::on_worker_timer:
    case PluginCallback::on_handover:
        return "the instance goes on";
    case PluginCallback::on_close:
        return "the connection was closing anyway";
    case PluginCallback::on_datagram:
        return "datagram dropped";
    case PluginCallback::create:
        return "the listener's configuration is refused";
    case PluginCallback::destroy:
        return "the instance is gone anyway";
    }
    return "?";
}

namespace detail {

constinit thread_local PluginCallRecord* bound_record = nullptr;

PluginCallRecord& unbound_record() noexcept
{
    // Trivially destructible and constant-initialized: no allocation, usable from a signal handler.
    static constinit thread_local PluginCallRecord record;
    return record;
}

void report_failure(const PluginCallTarget& target, PluginCallback callback, const char* what) noexcept
{
    if (target.failures != nullptr) target.failures->fetch_add(1, std::memory_order_relaxed);
    try {
        if (what != nullptr) {
            spdlog::error("[{}] plugin {} ({}) {} threw: {}; {}", target.listener, target.plugin_name,
                          target.plugin_path, to_string(callback), what, consequence(callback));
        } else {
            spdlog::error("[{}] plugin {} ({}) {} threw a non-standard exception; {}", target.listener,
                          target.plugin_name, target.plugin_path, to_string(callback), consequence(callback));
        }
    } catch (...) {
        // Logging itself failed (out of memory): the counter above still tells.
    }
}

} // namespace detail

} // namespace ringd::plugin_host
