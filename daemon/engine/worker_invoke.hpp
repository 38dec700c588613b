// Worker::invoke, shared by the worker's source files: every plugin callback for a connection goes through it.
#pragma once

#include "engine/worker.hpp"
#include "plugin_host/plugin_call.hpp"

#include <utility>

namespace ringd::engine {

using plugin_host::PluginCallback;

// Calls a plugin callback for `conn` through the plugin boundary (plugin_host/plugin_call.hpp): a failure
// (an exception a plugin let escape) is logged and counted there, and aborts this connection only.
// Afterwards, applies whatever the callback asked for.
template <class F> void Worker::invoke(Connection& conn, plugin_host::PluginCallback what, F&& callback)
{
    invoke(conn, conn.listener->call_target(), what, std::forward<F>(callback));
}

// The same for a call into another instance than the connection's own: a task another instance posted to
// this connection (ABI 1.1 post) is that instance's call, named and counted as such.
template <class F>
void Worker::invoke(Connection& conn, const plugin_host::PluginCallTarget& target, plugin_host::PluginCallback what,
                    F&& callback)
{
    Connection* const outer = in_callback_; // settle() may deliver held input: callbacks nest one level
    in_callback_ = &conn;
    if (plugin_host::plugin_call_failed(target, what, callback)) mark_aborting(conn, RINGD_CLOSE_ERROR);
    in_callback_ = outer;
    settle(conn);
}

} // namespace ringd::engine
