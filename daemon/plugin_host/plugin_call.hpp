// The one boundary every call into a plugin goes through: plugin_call_failed().
//
// A plugin is foreign code behind a C ABI. Whatever it does with an exception, ringd's answer is the same
// everywhere: the boundary catches everything (std::exception or not), logs one line naming the listener, the
// plugin (name and .so) and the callback, counts it in the target's `failures` counter when it has one, and
// tells the caller that the call failed. The caller then applies the one policy for that callback:
//
//   on_open, on_data, on_peer_shutdown, on_timer, spawn_done  the connection is aborted (reset), nothing else
//   on_close                                                  logged and counted; the connection is going anyway
//   on_datagram                                               that datagram is dropped; the listener goes on
//   create                                                    a configuration error: start or reload fails
//   destroy                                                   logged; the instance is gone anyway
//
// The policy is spelled in the log line too (consequence()), so the log says what ringd did about it.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>

namespace ringd::plugin_host {

// Every entry point of ringd_plugin_descriptor, plus the completion a plugin passes to host->spawn.
enum class PluginCallback : uint8_t {
    create,
    destroy,
    on_open,
    on_data,
    on_peer_shutdown,
    on_close,
    on_datagram,
    on_timer,
    spawn_done,
};

// The callback's name as plugin.h spells it ("on_data"); a string literal, safe in a signal handler.
[[nodiscard]] const char* to_string(PluginCallback callback) noexcept;
// What ringd does when this callback fails (the policy above), for the log line.
[[nodiscard]] const char* consequence(PluginCallback callback) noexcept;

// Whom a call goes to. The strings belong to the plugin instance (listener name) and its library (.so path,
// descriptor name) and live as long as the instance: every call into the instance happens while it is alive.
struct PluginCallTarget {
    const char* listener = "";
    const char* plugin_name = "";
    const char* plugin_path = "";
    std::atomic<uint64_t>* failures = nullptr; // counted here when set (the listener's plugin_failures)
};

namespace detail {
// Logs and counts one failure; what == nullptr for an exception not derived from std::exception.
void report_failure(const PluginCallTarget& target, PluginCallback callback, const char* what) noexcept;
} // namespace detail

// Runs `call` (which calls exactly one plugin entry point) and returns true if it failed, i.e. let an exception
// escape; the failure is already logged and counted then. Never throws.
template <class F>
[[nodiscard]] bool plugin_call_failed(const PluginCallTarget& target, PluginCallback callback, F&& call) noexcept
{
    try {
        call();
        return false;
    } catch (const std::exception& e) {
        detail::report_failure(target, callback, e.what());
    } catch (...) {
        detail::report_failure(target, callback, nullptr);
    }
    return true;
}

} // namespace ringd::plugin_host
