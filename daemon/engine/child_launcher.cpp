// Starting commands off the worker thread: pipes, posix_spawn (fork for run_as), pidfd.
#include "engine/child_launcher.hpp"

#include <cerrno>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ringd::engine {

namespace {

int pidfd_open(pid_t pid)
{
    return int(::syscall(SYS_pidfd_open, pid, 0));
}

int pidfd_send_signal(int pidfd, int sig)
{
    return int(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}

// dup2 for fork_as's child. When `fd` already is `target` (ringd started with that descriptor closed), dup2 would
// leave it close-on-exec; clear the flag instead, as posix_spawn_file_actions_adddup2 does.
bool move_fd(int fd, int target)
{
    if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
    return ::dup2(fd, target) >= 0;
}

// What fork_as's child sends back through its error pipe when a step before execve fails.
struct SetupFailure {
    int step; // a ringd_spawn_step
    int error;
};

// In fork_as's child: report the failed step to the parent, then exit without running anything.
[[noreturn]] void fail_setup(int report_fd, ringd_spawn_step step)
{
    const SetupFailure failure{step, errno};
    // A write of fewer than PIPE_BUF bytes to a pipe is atomic; if even this fails, the parent sees EOF after
    // _exit and the command's exit status 127.
    [[maybe_unused]] const ssize_t n = ::write(report_fd, &failure, sizeof failure);
    ::_exit(127);
}

// Only when the child must run as another user: posix_spawn cannot change credentials. Between fork and
// exec only async-signal-safe calls are made. Returns the pid once the child has called execve, or -1 with
// `err` and `step` set (the child has then been reaped): like posix_spawn, which also waits for the exec.
pid_t fork_as(const char* program, char* const* argv, char* const* envp, const char* cwd, int out_fd, int err_fd,
              int64_t uid, int64_t gid, int& err, ringd_spawn_step& step)
{
    // The child writes a SetupFailure here if a step fails; a successful execve closes it (O_CLOEXEC), so EOF
    // means the command is running.
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
        err = errno;
        step = RINGD_SPAWN_STEP_HOST;
        return -1;
    }
    UniqueFd report_r(report[0]), report_w(report[1]);
    const pid_t pid = ::fork();
    if (pid < 0) {
        err = errno;
        step = RINGD_SPAWN_STEP_HOST;
        return -1;
    }
    if (pid == 0) {
        // Nothing of ringd's may run here: no signal handler until the dispositions are reset.
        sigset_t all;
        sigfillset(&all);
        ::sigprocmask(SIG_SETMASK, &all, nullptr);
        ::setpgid(0, 0);
        // Close-on-exec, like every other descriptor of ringd's: the command gets 0, 1 and 2 and nothing else.
        const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (devnull < 0 || !move_fd(devnull, 0) || !move_fd(out_fd, 1) || !move_fd(err_fd, 2)) {
            fail_setup(report_w.get(), RINGD_SPAWN_STEP_STDIO);
        }
        if (gid >= 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_t(gid)) != 0)) {
            fail_setup(report_w.get(), RINGD_SPAWN_STEP_CREDENTIALS);
        }
        if (uid >= 0 && ::setuid(uid_t(uid)) != 0) fail_setup(report_w.get(), RINGD_SPAWN_STEP_CREDENTIALS);
        if (::chdir(cwd) != 0) fail_setup(report_w.get(), RINGD_SPAWN_STEP_CWD);
        // The same signal state as spawn_plain gives (POSIX_SPAWN_SETSIGDEF for every signal, an empty mask):
        // execve resets caught signals but keeps ignored ones, and ringd ignores SIGPIPE, so without this a
        // command run as another user would get EPIPE instead of dying when its reader goes away: in
        // `yes | head`, yes complains "Broken pipe"; a program that ignores write errors would run on.
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        sigemptyset(&dfl.sa_mask);
        for (int sig = 1; sig < NSIG; ++sig)
            ::sigaction(sig, &dfl, nullptr); // EINVAL for SIGKILL, SIGSTOP and libc's internal ones: fine
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::execve(program, argv, envp);
        fail_setup(report_w.get(), RINGD_SPAWN_STEP_EXEC);
    }
    // The child does setpgid(0, 0) too, but only when it gets to run: until then its group does not exist, and a
    // kill(-pid) by a worker that adopted the pid at once (its connection had closed) would fail with ESRCH and
    // leave the command running. Setting it from here as well means the group exists before the pid is
    // returned. EACCES (the child has already exec'd, having set it itself) is harmless.
    ::setpgid(pid, pid);
    report_w.reset();
    SetupFailure failure{};
    ssize_t n;
    do {
        n = ::read(report_r.get(), &failure, sizeof failure);
    } while (n < 0 && errno == EINTR);
    if (n == 0) return pid;
    if (n == ssize_t(sizeof failure)) {
        err = failure.error;
        step = ringd_spawn_step(failure.step);
    } else {
        // Cannot happen with a pipe of our own; don't leave a child whose state is unknown.
        err = n < 0 ? errno : EIO;
        step = RINGD_SPAWN_STEP_HOST;
        ::kill(pid, SIGKILL);
    }
    ::waitpid(pid, nullptr, 0);
    return -1;
}

pid_t spawn_plain(const char* program, char* const* argv, char* const* envp, const char* cwd, int out_fd, int err_fd,
                  int& err)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
    posix_spawn_file_actions_addchdir_np(&fa, cwd);
    // Own process group, so a timeout can signal the command and everything it started; and an empty signal
    // mask, since ringd's threads block the signals it reads through signalfd.
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    sigset_t all;
    sigfillset(&all);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    err = posix_spawn(&pid, program, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return err == 0 ? pid : -1;
}

std::vector<char*> c_array(const std::vector<std::string>& strings)
{
    std::vector<char*> out;
    out.reserve(strings.size() + 1);
    for (const auto& s : strings)
        out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
}

} // namespace

ChildLauncher::Launch::~Launch()
{
    if (pid <= 0) return;
    kill_child_group(pid, pidfd.get(), SIGKILL);
    ::waitpid(pid, nullptr, 0);
}

void kill_child_group(pid_t pid, int pidfd, int sig)
{
    const bool group_missed = ::kill(-pid, sig) != 0;
    // The leader through its pidfd as well, in case the group kill missed it: a pidfd names this process and no
    // other, so unlike a pid it cannot hit an unrelated process that reused the number. SIGKILL twice is
    // harmless; other signals only when the group kill failed, so a command that handles SIGTERM sees it once.
    if (pidfd >= 0 && (sig == SIGKILL || group_missed)) pidfd_send_signal(pidfd, sig);
}

std::shared_ptr<ChildLauncher::Launch> launch_child(const ChildLauncher::Job& job)
{
    auto launch = std::make_shared<ChildLauncher::Launch>();
    launch->slot = job.slot;
    launch->generation = job.generation;
    int out_pipe[2];
    int err_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
        launch->error = errno;
        launch->step = RINGD_SPAWN_STEP_HOST;
        return launch;
    }
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        launch->error = errno;
        launch->step = RINGD_SPAWN_STEP_HOST;
        return launch;
    }
    UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

    const std::vector<char*> argv = c_array(job.argv);
    const std::vector<char*> envp = c_array(job.envp);
    pid_t pid;
    int err = 0;
    ringd_spawn_step step = RINGD_SPAWN_STEP_EXEC;
    if (job.run_as_uid >= 0 || job.run_as_gid >= 0) {
        pid = fork_as(job.program.c_str(), argv.data(), envp.data(), job.cwd.c_str(), out_w.get(), err_w.get(),
                      job.run_as_uid, job.run_as_gid, err, step);
    } else {
        pid =
            spawn_plain(job.program.c_str(), argv.data(), envp.data(), job.cwd.c_str(), out_w.get(), err_w.get(), err);
    }
    if (pid < 0) {
        launch->error = err;
        launch->step = step;
        return launch;
    }
    launch->pid = pid; // from here on the Launch owns the process: any early return kills and reaps it
    launch->pidfd = UniqueFd(pidfd_open(pid));
    if (!launch->pidfd) {
        // Without a pidfd the worker cannot watch it through the ring; don't leave it running unobserved.
        launch->error = errno;
        launch->step = RINGD_SPAWN_STEP_HOST;
        return launch;
    }
    launch->stdout_read = std::move(out_r);
    launch->stderr_read = std::move(err_r);
    return launch;
}

ChildLauncher::ChildLauncher(Deliver deliver, std::string thread_name)
    : deliver_(std::move(deliver)), thread_name_(std::move(thread_name)), thread_([this] { run(); })
{
}

ChildLauncher::~ChildLauncher()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wakeup_.notify_one();
    thread_.join();
}

void ChildLauncher::submit(Job job)
{
    {
        std::lock_guard lock(mutex_);
        jobs_.push_back(std::move(job));
    }
    wakeup_.notify_one();
}

void ChildLauncher::run()
{
    pthread_setname_np(pthread_self(), thread_name_.c_str());
    std::unique_lock lock(mutex_);
    while (true) {
        wakeup_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (stopping_) return;
        Job job = std::move(jobs_.front());
        jobs_.pop_front();
        lock.unlock();
        deliver_(launch_child(job));
        lock.lock();
    }
}

} // namespace ringd::engine
