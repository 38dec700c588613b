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

// Only when the child must run as another user: posix_spawn cannot change credentials. Between fork and
// exec only async-signal-safe calls are made.
pid_t fork_as(const char* program, char* const* argv, char* const* envp, const char* cwd, int out_fd, int err_fd,
              int64_t uid, int64_t gid)
{
    const pid_t pid = ::fork();
    if (pid > 0) {
        // The child does setpgid(0, 0) too, but only when it gets to run: until then its group does not exist,
        // and a kill(-pid) by a worker that adopted the pid at once (its connection had closed) would fail with
        // ESRCH and leave the command running. Setting it from here as well means the group exists before the
        // pid is returned. EACCES (the child has already exec'd, having set it itself) is harmless.
        ::setpgid(pid, pid);
    }
    if (pid != 0) return pid;
    ::setpgid(0, 0);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) ::_exit(126);
    if (gid >= 0 && (::setgroups(0, nullptr) != 0 || ::setgid(gid_t(gid)) != 0)) ::_exit(126);
    if (uid >= 0 && ::setuid(uid_t(uid)) != 0) ::_exit(126);
    if (::chdir(cwd) != 0) ::_exit(126);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program, argv, envp);
    ::_exit(127);
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
        return launch;
    }
    UniqueFd out_r(out_pipe[0]), out_w(out_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
        launch->error = errno;
        return launch;
    }
    UniqueFd err_r(err_pipe[0]), err_w(err_pipe[1]);

    const std::vector<char*> argv = c_array(job.argv);
    const std::vector<char*> envp = c_array(job.envp);
    pid_t pid;
    int err = 0;
    if (job.run_as_uid >= 0 || job.run_as_gid >= 0) {
        pid = fork_as(job.program.c_str(), argv.data(), envp.data(), job.cwd.c_str(), out_w.get(), err_w.get(),
                      job.run_as_uid, job.run_as_gid);
        if (pid < 0) err = errno;
    } else {
        pid =
            spawn_plain(job.program.c_str(), argv.data(), envp.data(), job.cwd.c_str(), out_w.get(), err_w.get(), err);
    }
    if (pid < 0) {
        launch->error = err;
        return launch;
    }
    launch->pid = pid; // from here on the Launch owns the process: any early return kills and reaps it
    launch->pidfd = UniqueFd(pidfd_open(pid));
    if (!launch->pidfd) {
        // Without a pidfd the worker cannot watch it through the ring; don't leave it running unobserved.
        launch->error = errno;
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
