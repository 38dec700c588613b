// Starting commands off the worker thread: credentials, pipes, fork and exec, pidfd.
#include "engine/child_launcher.hpp"

#include <cerrno>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
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

// dup2 for fork_command's child. When `fd` already is `target` (ringd started with that descriptor closed), dup2 would
// leave it close-on-exec; clear the flag instead, as posix_spawn_file_actions_adddup2 does.
bool move_fd(int fd, int target)
{
    if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
    return ::dup2(fd, target) >= 0;
}

// Who the command runs as, resolved before fork.
struct Credentials {
    int64_t uid = -1;           // -1: ringd's
    int64_t gid = -1;           // -1: ringd's
    bool change_groups = false; // set the supplementary groups to `groups` (empty: none)
    std::vector<gid_t> groups;
};

// What fork_command's child sends back through its error pipe when a step before execve fails.
struct SetupFailure {
    int step; // a ringd_spawn_step
    int error;
};

// In fork_command's child: report the failed step to the parent, then exit without running anything.
[[noreturn]] void fail_setup(int report_fd, ringd_spawn_step step)
{
    const SetupFailure failure{step, errno};
    // A write of fewer than PIPE_BUF bytes to a pipe is atomic; if even this fails, the parent sees EOF after
    // _exit and the command's exit status 127.
    [[maybe_unused]] const ssize_t n = ::write(report_fd, &failure, sizeof failure);
    ::_exit(127);
}

// Run on the launcher thread before fork: getpwuid_r and getgrouplist may allocate and take locks (NSS), which a
// forked child of a multithreaded process must not.
bool resolve_credentials(const ChildLauncher::Job& job, Credentials& creds, int& err)
{
    creds.uid = job.run_as_uid;
    creds.gid = job.run_as_gid;
    creds.change_groups = job.run_as_uid >= 0 || job.run_as_gid >= 0;
    if (job.run_as_uid < 0 || job.run_as_gid >= 0) return true; // both given, or only a group: no supplementary groups
    // Only a user: run as that user, as login(1) would: its primary group and its supplementary groups. Keeping
    // ringd's gid and groups (root's, typically) would hand the command privileges the user does not have.
    long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
    std::vector<char> buf(size > 0 ? std::size_t(size) : 16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc;
    while ((rc = ::getpwuid_r(uid_t(job.run_as_uid), &pw, buf.data(), buf.size(), &found)) == ERANGE &&
           buf.size() < (1u << 20))
        buf.resize(buf.size() * 2);
    if (rc != 0 || found == nullptr) {
        // No passwd entry: there is no primary group to take, and guessing one (ringd's) is the bug this avoids.
        err = rc != 0 ? rc : ENOENT;
        return false;
    }
    creds.gid = pw.pw_gid;
    int count = 32;
    creds.groups.resize(std::size_t(count));
    while (::getgrouplist(pw.pw_name, pw.pw_gid, creds.groups.data(), &count) < 0) {
        if (count > 65536) {
            err = E2BIG;
            return false;
        }
        creds.groups.resize(std::size_t(count) * 2);
        count = int(creds.groups.size());
    }
    creds.groups.resize(std::size_t(count));
    return true;
}

// The child of fork_command, between vfork and execve. It runs on the launcher thread's stack and in ringd's memory
// (vfork copies no page tables: a fork of ringd costs several times what all the rest of starting a command does,
// see docs/architecture.md). So, like glibc's posix_spawn, it only makes system calls, writes nothing but its own
// frame, and changes credentials by raw syscalls: glibc's setuid/setgid/setgroups would make every thread of
// ringd change credentials too (they share its thread list). Never returns.
[[noreturn]] void run_child(const char* program, char* const* argv, char* const* envp, const char* cwd, int out_fd,
                            int err_fd, const Credentials& creds, pid_t parent, int report_fd)
{
    ::setpgid(0, 0);
    // The command adopts what its descendants orphan, so nothing it starts leaves its subtree while it runs
    // (setsid or not); what is left when it exits comes to ringd, itself a subreaper, which kills it.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    // Close-on-exec, like every other descriptor of ringd's: the command gets 0, 1 and 2 and nothing else.
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0 || !move_fd(devnull, 0) || !move_fd(out_fd, 1) || !move_fd(err_fd, 2)) {
        fail_setup(report_fd, RINGD_SPAWN_STEP_STDIO);
    }
    if (creds.change_groups) {
        const auto n = creds.groups.size();
        if (::syscall(SYS_setgroups, n, n > 0 ? creds.groups.data() : nullptr) != 0) {
            fail_setup(report_fd, RINGD_SPAWN_STEP_CREDENTIALS);
        }
    }
    if (creds.gid >= 0 && ::syscall(SYS_setgid, gid_t(creds.gid)) != 0)
        fail_setup(report_fd, RINGD_SPAWN_STEP_CREDENTIALS);
    if (creds.uid >= 0 && ::syscall(SYS_setuid, uid_t(creds.uid)) != 0)
        fail_setup(report_fd, RINGD_SPAWN_STEP_CREDENTIALS);
    // Dies with ringd, even by SIGKILL (after setuid, which clears it). The "parent" is the launcher thread,
    // which lives as long as its worker. If ringd died before this call, we have been reparented already.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (::getppid() != parent) ::_exit(127);
    if (::chdir(cwd) != 0) fail_setup(report_fd, RINGD_SPAWN_STEP_CWD);
    // Every signal at its default, an empty mask: execve resets caught signals but keeps ignored ones, and
    // ringd ignores SIGPIPE, so without this a command would get EPIPE instead of dying when its reader goes
    // away: in `yes | head`, yes complains "Broken pipe"; a program that ignores write errors would run on.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig)
        ::sigaction(sig, &dfl, nullptr); // EINVAL for SIGKILL, SIGSTOP and libc's internal ones: fine
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(program, argv, envp);
    fail_setup(report_fd, RINGD_SPAWN_STEP_EXEC);
}

// Every command is started by vfork and run_child, not posix_spawn, which can neither make the command a subreaper
// (leftovers.hpp) nor change credentials. Returns the pid once the child has called execve (vfork suspends us
// until then), or -1 with `err` and `step` set (the child has then been reaped).
pid_t fork_command(const char* program, char* const* argv, char* const* envp, const char* cwd, int out_fd, int err_fd,
                   const Credentials& creds, int& err, ringd_spawn_step& step)
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
    // Nothing of ringd's may run in the child, which shares ringd's memory until it execs: no signal handler
    // until it has reset the dispositions. It inherits this mask; ours is restored once it has exec'd.
    sigset_t all, old_mask;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old_mask);
    const pid_t parent = ::getpid();
    const pid_t pid = ::vfork();
    if (pid == 0) run_child(program, argv, envp, cwd, out_fd, err_fd, creds, parent, report_w.get());
    const int vfork_errno = errno;
    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    if (pid < 0) {
        err = vfork_errno;
        step = RINGD_SPAWN_STEP_HOST;
        return -1;
    }
    // The child's first step was setpgid(0, 0), so its group exists before the pid leaves the launcher: a worker
    // that kills it at once (its connection closed meanwhile) cannot miss. The child's failure report, if any,
    // is in the pipe already; EOF means it exec'd.
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
    launch->reuse_tag = job.reuse_tag;
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
    int err = 0;
    ringd_spawn_step step = RINGD_SPAWN_STEP_EXEC;
    Credentials creds;
    if (!resolve_credentials(job, creds, err)) {
        launch->error = err;
        launch->step = RINGD_SPAWN_STEP_CREDENTIALS;
        return launch;
    }
    const pid_t pid = fork_command(job.program.c_str(), argv.data(), envp.data(), job.cwd.c_str(), out_w.get(),
                                   err_w.get(), creds, err, step);
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
