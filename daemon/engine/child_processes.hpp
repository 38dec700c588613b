// ChildProcesses: commands spawned for plugins (ringd_host.spawn), run without ever blocking the worker.
//
// spawn() checks the program and takes a child slot; the ChildLauncher thread starts the process and
// on_launched() adopts it (or reports the errno and the failed step as spawn_error and spawn_step). Each child gets
// stdin from /dev/null, stdout and stderr pipes read through the ring, its own process group, and a pidfd polled
// through the ring to observe its exit. A timeout sends SIGTERM to the whole group, then SIGKILL a second later. The
// result goes back to the connection once the child has exited and both pipes are at EOF (or the group was killed). If
// the connection closes first, the group is killed and the child reaped; the plugin's callback is not called. Those
// kills also reach the command itself through its pidfd (kill_child_group). When the command itself exits (or is
// killed), whatever is left in its process group is killed, and so is every descendant that left the group (setsid,
// double fork): the command is a child subreaper, so they were still in its subtree, and came to ringd as it exited
// (leftovers.hpp). No command leaves processes behind.
#pragma once

#include "engine/child_launcher.hpp"
#include "engine/ring.hpp"
#include "engine/timer_queue.hpp"
#include "util/unique_fd.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <ringd/plugin.h>
#include <string>
#include <sys/types.h>
#include <vector>

namespace ringd::engine {

class Worker;

class ChildProcesses {
public:
    explicit ChildProcesses(Worker& worker);
    ~ChildProcesses();
    ChildProcesses(const ChildProcesses&) = delete;
    ChildProcesses& operator=(const ChildProcesses&) = delete;

    // Returns 0 or a negative errno.
    int spawn(uint32_t conn_index, uint32_t conn_reuse_tag, const ringd_spawn_request& request,
              ringd_spawn_done_fn done, void* ctx, Clock::time_point now);
    // A launch from the ChildLauncher, on the worker thread (through Worker::post).
    void on_launched(ChildLauncher::Launch& launch, Clock::time_point now);
    // Whether a completion with this slot index and reuse tag belongs to a child this worker still tracks.
    [[nodiscard]] bool owns(uint32_t index, uint32_t reuse_tag) const;
    void on_pidfd(uint32_t index, int res, Clock::time_point now);
    void on_output(uint32_t index, bool is_stderr, int res, Clock::time_point now);
    // Kills the groups of every child spawned for this connection; their results are discarded.
    void forget_connection(uint32_t conn_index, uint32_t conn_reuse_tag);
    // Sends signals whose time has come; returns the next deadline, if any.
    std::optional<Clock::time_point> run_deadlines(Clock::time_point now);
    void kill_all();
    // Joins the launcher thread; before the worker's command queue goes away, since the thread posts to it.
    void stop_launcher() { launcher_.reset(); }
    [[nodiscard]] std::size_t running() const { return running_; }

private:
    struct Child;
    void arm_read(Child& child, bool is_stderr);
    void maybe_finish(Child& child, Clock::time_point now);
    void give_up_on_pipes(Child& child);
    void append_output(Child& child, bool is_stderr, int res);
    void release(uint32_t index);
    void sweep_leftovers(Clock::time_point now);

    static constexpr auto first_sweep_interval = std::chrono::milliseconds(10);
    static constexpr auto max_sweep_interval = std::chrono::milliseconds(1000);

    Worker& worker_;
    std::vector<std::unique_ptr<Child>> children_;
    std::vector<uint32_t> free_;
    std::size_t running_ = 0;
    std::unique_ptr<ChildLauncher> launcher_;   // created by the first spawn()
    std::optional<Clock::time_point> sweep_at_; // leftovers were found: look again then
    std::chrono::milliseconds sweep_interval_ = first_sweep_interval;
};

} // namespace ringd::engine
