// Worker::invoke, shared by the worker's source files: every plugin callback for a connection goes through it.
#pragma once

#include "engine/worker.hpp"
#include "plugin_host/plugin_call.hpp"

namespace ringd::engine {

using plugin_host::PluginCallback;

// Calls a plugin callback for `conn` through the plugin boundary (plugin_host/plugin_call.hpp): a failure
// (an exception a plugin let escape) is logged and counted there, and aborts this connection only.
// Afterwards, applies whatever the callback asked for.
template <class F> void Worker::invoke(Connection& conn, plugin_host::PluginCallback what, F&& callback)
{
    if (plugin_host::plugin_call_failed(conn.listener->call_target(), what, callback)) conn.abort_requested = true;
    settle(conn);
}

} // namespace ringd::engine
