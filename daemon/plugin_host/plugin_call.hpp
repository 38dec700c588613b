// The one boundary every call into a plugin goes through: plugin_call_failed().
//
// A plugin is foreign code behind a C ABI. Whatever it does with an exception, ringd's answer is the same
// everywhere: the boundary catches everything (std::exception or not), logs one line naming the listener, the
// plugin (name and .so) and the callback, counts it in the target's `failures` counter when it has one, and
// tells the caller that the call failed. The caller then applies the one policy for that callback:
//
//   on_open, on_data, on_peer_shutdown, on_timer, spawn_done  the connection is aborted (reset), nothing else
//   on_connect, on_output_drained, conn_task (with a
//   connection), for_each_connection (the function it was
//   given)                                                    the same: that connection is aborted
//   on_close                                                  logged and counted; the connection is going anyway
//   on_datagram                                               that datagram is dropped; the listener goes on
//   create                                                    a configuration error: start or reload fails
//   destroy                                                   logged; the instance is gone anyway
//   conn_task (connection gone), worker_task, on_worker_start,
//   on_worker_stop, on_worker_timer, on_handover              logged and counted; the instance goes on
//
// The policy is spelled in the log line too (consequence()), so the log says what ringd did about it.
//
// The boundary also records, in the calling thread's PluginCallRecord, which call is running. That record is
// what the stall detector (engine/stall_detector.hpp) reads from outside a worker to notice a callback that
// blocks its worker, and what the fatal-signal reporter (fatal_signals.hpp) reads to name the plugin a crash
// happened in. Recording costs a few plain stores per call (see PluginCallRecord) and no clock reading.
//
// Designed so plugins can later run out of process: callers only ever see "the call failed", never how.
#pragma once

#include <atomic>
#include <cstdint>
#include <exception>
#include <optional>

namespace ringd::plugin_host {

// Every entry point of ringd_plugin_descriptor, plus the functions a plugin passes to the host to be called back
// (spawn completions, tasks, for_each_connection's function).
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
    // ABI 1.1
    conn_task,           // a task from host->post
    worker_task,         // a task from host->post_worker
    for_each_connection, // the function a plugin gave host->for_each_connection
    on_output_drained,
    on_worker_start,
    on_worker_stop,
    on_worker_timer,
    on_handover,
    on_connect, // an outbound connection's outcome
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
    std::atomic<uint64_t>* failures = nullptr; // counted here when set (the instance's failures())
};

// Which plugin call a thread is running, readable from any thread (the stall detector) and from a signal
// handler on the same thread. Written only by its own thread. A seqlock: `seq_` is odd while a call runs,
// and changes whenever target or callback do, so a reader that sees the same odd value before and after
// reading them has a consistent pair. Calls nest (a callback calls host->close, which calls on_close): the
// inner call's end restores the outer one under a new sequence number.
class PluginCallRecord {
public:
    struct Running {
        uint64_t seq; // identifies this call (and a nested call's restore) among all of this record's calls
        const PluginCallTarget* target;
        PluginCallback callback;
    };
    struct Outer {
        const PluginCallTarget* target = nullptr;
        PluginCallback callback{};
        bool running = false;
    };

    Outer begin(const PluginCallTarget& target, PluginCallback callback) noexcept
    {
        Outer outer;
        if (seq_.load(std::memory_order_relaxed) & 1) {
            outer = {target_.load(std::memory_order_relaxed), callback_.load(std::memory_order_relaxed), true};
            set_idle();
        }
        publish(&target, callback);
        return outer;
    }
    void end(const Outer& outer) noexcept
    {
        set_idle();
        if (outer.running) publish(outer.target, outer.callback);
    }

    // The call running now, if any. Any thread. Empty also when a call changed while it was being read.
    [[nodiscard]] std::optional<Running> running() const noexcept
    {
        const uint64_t seq = seq_.load(std::memory_order_acquire);
        if ((seq & 1) == 0) return std::nullopt;
        Running r{seq, target_.load(std::memory_order_relaxed), callback_.load(std::memory_order_relaxed)};
        std::atomic_thread_fence(std::memory_order_acquire);
        if (seq_.load(std::memory_order_relaxed) != seq) return std::nullopt;
        return r;
    }
    // True while the call that running() returned as `seq` is still the one running. Any thread.
    [[nodiscard]] bool still_running(uint64_t seq) const noexcept
    {
        std::atomic_thread_fence(std::memory_order_acquire);
        return seq_.load(std::memory_order_relaxed) == seq;
    }

private:
    void set_idle() noexcept { seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
    void publish(const PluginCallTarget* target, PluginCallback callback) noexcept
    {
        // Readers must never pair the new fields with the old (even) sequence number's successor.
        std::atomic_thread_fence(std::memory_order_release);
        target_.store(target, std::memory_order_relaxed);
        callback_.store(callback, std::memory_order_relaxed);
        seq_.store(seq_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    }

    std::atomic<uint64_t> seq_{0};
    std::atomic<const PluginCallTarget*> target_{nullptr};
    std::atomic<PluginCallback> callback_{};
};

namespace detail {
// Logs and counts one failure; what == nullptr for an exception not derived from std::exception.
void report_failure(const PluginCallTarget& target, PluginCallback callback, const char* what) noexcept;
// The record a worker bound to its thread (BindCallRecord), else null. constinit: no TLS init wrapper, so
// reading it costs one thread-pointer-relative load, and is safe in a signal handler.
extern constinit thread_local PluginCallRecord* bound_record;
// Every other thread's own record (the main thread's create and destroy calls).
[[nodiscard]] PluginCallRecord& unbound_record() noexcept;
} // namespace detail

// The calling thread's record.
[[nodiscard]] inline PluginCallRecord& this_thread_record() noexcept
{
    PluginCallRecord* r = detail::bound_record;
    return r != nullptr ? *r : detail::unbound_record();
}

// Makes `record` (owned by a worker, so the stall detector can read it) the calling thread's record while
// this object lives.
class BindCallRecord {
public:
    explicit BindCallRecord(PluginCallRecord& record) noexcept : previous_(detail::bound_record)
    {
        detail::bound_record = &record;
    }
    ~BindCallRecord() { detail::bound_record = previous_; }
    BindCallRecord(const BindCallRecord&) = delete;
    BindCallRecord& operator=(const BindCallRecord&) = delete;

private:
    PluginCallRecord* previous_;
};

// Runs `call` (which calls exactly one plugin entry point) and returns true if it failed, i.e. let an exception
// escape; the failure is already logged and counted then. Never throws.
template <class F>
[[nodiscard]] bool plugin_call_failed(const PluginCallTarget& target, PluginCallback callback, F&& call) noexcept
{
    PluginCallRecord& record = this_thread_record();
    const PluginCallRecord::Outer outer = record.begin(target, callback);
    bool failed = false;
    try {
        call();
    } catch (const std::exception& e) {
        failed = true;
        detail::report_failure(target, callback, e.what());
    } catch (...) {
        failed = true;
        detail::report_failure(target, callback, nullptr);
    }
    record.end(outer);
    return failed;
}

} // namespace ringd::plugin_host
