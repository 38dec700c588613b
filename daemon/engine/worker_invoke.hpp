// Worker::invoke, shared by the worker's source files: every plugin callback for a connection goes through it.
#pragma once

#include "engine/worker.hpp"

#include <exception>
#include <spdlog/spdlog.h>

namespace ringd::engine {

// Calls a plugin callback for `conn`, guarding the C ABI: an exception (from a plugin that lets one escape)
// aborts this connection only. Afterwards, applies whatever the callback asked for.
template <class F> void Worker::invoke(Connection& conn, const char* what, F&& callback)
{
    Connection* const outer = in_callback_; // settle() may deliver held input: callbacks nest one level
    in_callback_ = &conn;
    try {
        callback();
    } catch (const std::exception& e) {
        spdlog::error("[{}] plugin {} threw: {}", conn.listener->name(), what, e.what());
        conn.listener->counters.plugin_failures.fetch_add(1, std::memory_order_relaxed);
        mark_aborting(conn, RINGD_CLOSE_ERROR);
    } catch (...) {
        spdlog::error("[{}] plugin {} threw a non-standard exception", conn.listener->name(), what);
        conn.listener->counters.plugin_failures.fetch_add(1, std::memory_order_relaxed);
        mark_aborting(conn, RINGD_CLOSE_ERROR);
    }
    in_callback_ = outer;
    settle(conn);
}

} // namespace ringd::engine
