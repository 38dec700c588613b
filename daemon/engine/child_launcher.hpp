// ChildLauncher: starts the commands of one worker on a thread of its own.
//
// Starting a command (vfork) suspends its caller until the child has called execve: on this VM about 0.4 ms
// per command, so a burst of 50 requests froze a worker that
// spawned them itself for 16–36 ms, and every connection on it with it. The worker instead hands a Job to
// this thread and goes on serving; the Launch comes back through Worker::post and the worker adopts it.
//
// ChildProcesses creates it with the first spawn, so daemons that never spawn have no such thread. The queue needs no
// cap of its own: every job holds one of the worker's child slots, and plugins bound those (remote-cmd's
// max_concurrent). A Launch that is never adopted (the worker went away first) kills what it started.
#pragma once

#include "util/unique_fd.hpp"

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <ringd/plugin.h>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

namespace ringd::engine {

class ChildLauncher {
public:
    // Everything needed to start one command, owned (the plugin's request is only valid during spawn()).
    struct Job {
        uint32_t slot = 0;
        uint32_t reuse_tag = 0;
        std::string program; // resolved path
        std::vector<std::string> argv;
        std::vector<std::string> envp;
        std::string cwd;
        int64_t run_as_uid = -1;
        int64_t run_as_gid = -1;
    };

    // The started child (error == 0) or why it could not be started (a positive errno and the step that failed;
    // nothing runs then).
    struct Launch {
        Launch() = default;
        Launch(const Launch&) = delete;
        Launch& operator=(const Launch&) = delete;
        ~Launch(); // kills and reaps the group if nobody took `pid`

        uint32_t slot = 0;
        uint32_t reuse_tag = 0;
        int error = 0;
        ringd_spawn_step step = RINGD_SPAWN_STEP_EXEC;
        pid_t pid = -1; // the adopter sets it to -1 once it owns the process
        UniqueFd pidfd;
        UniqueFd stdout_read;
        UniqueFd stderr_read;
    };

    // Called on the launcher thread with each finished job; must hand the Launch to the worker.
    using Deliver = std::function<void(std::shared_ptr<Launch>)>;

    // `thread_name` shows in ps -L and /proc (at most 15 characters).
    ChildLauncher(Deliver deliver, std::string thread_name);
    ~ChildLauncher(); // stops the thread; jobs not yet started are dropped
    ChildLauncher(const ChildLauncher&) = delete;
    ChildLauncher& operator=(const ChildLauncher&) = delete;

    void submit(Job job);

private:
    void run();

    Deliver deliver_;
    std::string thread_name_;
    std::mutex mutex_;
    std::condition_variable wakeup_;
    std::deque<Job> jobs_;
    bool stopping_ = false;
    std::thread thread_; // last: starts after everything it uses exists
};

// Starts `job` on the calling thread (exposed for the launcher thread and for tests). Once it returns a pid, the
// child is in its own process group (pgid == pid): a kill(-pid) cannot miss it.
std::shared_ptr<ChildLauncher::Launch> launch_child(const ChildLauncher::Job& job);

// Sends `sig` to a child's process group and, through `pidfd` (if >= 0), to the child itself.
void kill_child_group(pid_t pid, int pidfd, int sig);

} // namespace ringd::engine
