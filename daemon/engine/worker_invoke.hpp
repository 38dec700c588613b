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
    try {
        callback();
    } catch (const std::exception& e) {
        spdlog::error("[{}] plugin {} threw: {}", conn.listener->name(), what, e.what());
        conn.listener->counters.plugin_failures.fetch_add(1, std::memory_order_relaxed);
        conn.abort_requested = true;
    } catch (...) {
        spdlog::error("[{}] plugin {} threw a non-standard exception", conn.listener->name(), what);
        conn.listener->counters.plugin_failures.fetch_add(1, std::memory_order_relaxed);
        conn.abort_requested = true;
    }
    settle(conn);
}

} // namespace ringd::engine
