// ChildLauncher: a started child is owned by its Launch until adopted; failures come back as errno and step; the
// thread delivers every job it was given. With or without run_as (both through vfork now) the launch gives the
// child its process group before the launch returns, and the same signal state and descriptors. The run_as cases need
// root; without it they say so and pass.
#include "engine/child_launcher.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <grp.h>
#include <mutex>
#include <optional>
#include <poll.h>
#include <pwd.h>
#include <set>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using ringd::engine::ChildLauncher;
using ringd::engine::launch_child;

namespace {

ChildLauncher::Job job_for(std::string program, std::vector<std::string> argv)
{
    ChildLauncher::Job job;
    job.program = std::move(program);
    job.argv = std::move(argv);
    job.envp = {"PATH=/usr/bin:/bin"};
    job.cwd = "/";
    return job;
}

std::string read_all(int fd)
{
    std::string out;
    char buf[256];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0)
        out.append(buf, std::size_t(n));
    return out;
}

// The same job, run as nobody; nullopt when this process cannot switch users.
std::optional<ChildLauncher::Job> as_nobody(ChildLauncher::Job job)
{
    const passwd* pw = ::getpwnam("nobody");
    if (::geteuid() != 0 || pw == nullptr) return std::nullopt;
    job.run_as_uid = pw->pw_uid;
    job.run_as_gid = pw->pw_gid;
    return job;
}

bool can_run_as_nobody()
{
    if (as_nobody(ChildLauncher::Job{})) return true;
    WARN("not root (or no user nobody): the run_as part of this test is skipped");
    return false;
}

// Adopts the launch's child as the worker does, and waits (at most 10 s) for its exit status.
std::optional<int> wait_exit(ChildLauncher::Launch& launch)
{
    const pid_t pid = std::exchange(launch.pid, -1);
    pollfd p{launch.pidfd.get(), POLLIN, 0};
    if (::poll(&p, 1, 10'000) != 1) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return std::nullopt;
    }
    int status = 0;
    if (::waitpid(pid, &status, 0) != pid) return std::nullopt;
    return status;
}

// A mask line of /proc/self/status ("SigIgn", "SigBlk": one bit per signal, bit n-1 for signal n) in `job`'s child.
uint64_t child_signal_mask(ChildLauncher::Job job, const std::string& key)
{
    job.program = "/bin/grep";
    job.argv = {"grep", "^" + key + ":", "/proc/self/status"};
    auto launch = launch_child(job);
    REQUIRE(launch->error == 0);
    const std::string line = read_all(launch->stdout_read.get());
    CHECK(wait_exit(*launch) == std::optional<int>(0));
    REQUIRE(line.size() > key.size() + 2);
    return std::stoull(line.substr(key.size() + 1), nullptr, 16);
}

constexpr uint64_t signal_bit(int sig)
{
    return uint64_t(1) << (sig - 1);
}

std::multiset<std::string> thread_names()
{
    std::multiset<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        std::getline(comm, name);
        names.insert(name);
    }
    return names;
}

} // namespace

TEST_CASE("a launched child writes to the pipes and is observable through its pidfd")
{
    auto launch = launch_child(job_for("/bin/sh", {"sh", "-c", "echo out; echo err >&2; exit 3"}));
    REQUIRE(launch->error == 0);
    REQUIRE(launch->pid > 0);
    REQUIRE(launch->pidfd.valid());
    CHECK(read_all(launch->stdout_read.get()) == "out\n");
    CHECK(read_all(launch->stderr_read.get()) == "err\n");
    const pid_t pid = std::exchange(launch->pid, -1); // adopt it, as the worker does
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 3);
}

TEST_CASE("the child runs in a process group of its own")
{
    auto launch = launch_child(job_for("/bin/sleep", {"sleep", "30"}));
    REQUIRE(launch->error == 0);
    CHECK(::getpgid(launch->pid) == launch->pid);
}

TEST_CASE("a launch nobody adopts kills and reaps its child")
{
    pid_t pid;
    {
        auto launch = launch_child(job_for("/bin/sleep", {"sleep", "30"}));
        REQUIRE(launch->error == 0);
        pid = launch->pid;
        REQUIRE(::kill(pid, 0) == 0);
    }
    // Reaped, not just killed: a zombie would still answer kill(pid, 0).
    CHECK(::kill(pid, 0) == -1);
    CHECK(errno == ESRCH);
}

TEST_CASE("exec failures come back as an errno and leave nothing running")
{
    auto missing = launch_child(job_for("/nonexistent/ringd-test-program", {"x"}));
    CHECK(missing->error == ENOENT);
    CHECK(missing->pid == -1);
    CHECK_FALSE(missing->pidfd.valid());

    auto bad_cwd = job_for("/bin/true", {"true"});
    bad_cwd.cwd = "/nonexistent-ringd-dir";
    CHECK(launch_child(bad_cwd)->error == ENOENT);
}

TEST_CASE("the launcher thread delivers every job, in order, with its slot and reuse tag")
{
    std::mutex mutex;
    std::condition_variable done;
    std::vector<std::shared_ptr<ChildLauncher::Launch>> delivered;
    {
        ChildLauncher launcher(
            [&](std::shared_ptr<ChildLauncher::Launch> launch) {
                std::lock_guard lock(mutex);
                delivered.push_back(std::move(launch));
                done.notify_one();
            },
            "test-launcher");
        for (uint32_t i = 0; i < 5; ++i) {
            auto job = job_for("/bin/true", {"true"});
            job.slot = i;
            job.reuse_tag = 100 + i;
            launcher.submit(std::move(job));
        }
        std::unique_lock lock(mutex);
        REQUIRE(done.wait_for(lock, std::chrono::seconds(10), [&] { return delivered.size() == 5; }));
        CHECK(thread_names().count("test-launcher") == 1); // operators can tell it apart in ps -L
    }
    for (uint32_t i = 0; i < 5; ++i) {
        CHECK(delivered[i]->slot == i);
        CHECK(delivered[i]->reuse_tag == 100 + i);
        CHECK(delivered[i]->error == 0);
    }
}

TEST_CASE("a run_as child whose setup fails reports the step and errno instead of an exit status")
{
    if (!can_run_as_nobody()) return;
    auto bad_cwd = *as_nobody(job_for("/bin/true", {"true"}));
    bad_cwd.cwd = "/nonexistent-ringd-dir";
    auto launch = launch_child(bad_cwd);
    CHECK(launch->error == ENOENT);
    CHECK(launch->step == RINGD_SPAWN_STEP_CWD);
    CHECK(launch->pid == -1); // and reaped: nothing left for anyone to adopt
    CHECK_FALSE(launch->pidfd.valid());

    // execve's own failure is a spawn error, not the command's exit status 127.
    launch = launch_child(*as_nobody(job_for("/nonexistent/ringd-test-program", {"x"})));
    CHECK(launch->error == ENOENT);
    CHECK(launch->step == RINGD_SPAWN_STEP_EXEC);
    CHECK(launch->pid == -1);
}

TEST_CASE("a run_as child that cannot switch user reports EPERM at the credentials step")
{
    // Without CAP_SETGID even dropping the supplementary groups fails, so "run as yourself" is enough: done
    // in a helper process that first gives up root, if it has it (as a daemon in a user namespace would).
    int report[2];
    REQUIRE(::pipe(report) == 0);
    const pid_t helper = ::fork();
    REQUIRE(helper >= 0);
    if (helper == 0) {
        ::close(report[0]);
        const passwd* pw = ::getpwnam("nobody");
        if (::geteuid() == 0 &&
            (pw == nullptr || ::setgroups(0, nullptr) != 0 || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0)) {
            ::_exit(2);
        }
        auto job = job_for("/bin/true", {"true"});
        job.run_as_uid = ::geteuid();
        job.run_as_gid = ::getegid();
        auto launch = launch_child(job);
        const int result[3] = {launch->error, launch->step, launch->pid};
        ::_exit(::write(report[1], result, sizeof result) == ssize_t(sizeof result) ? 0 : 3);
    }
    ::close(report[1]);
    int result[3] = {-1, -1, -1};
    const ssize_t n = ::read(report[0], result, sizeof result);
    ::close(report[0]);
    int status = 0;
    REQUIRE(::waitpid(helper, &status, 0) == helper);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    REQUIRE(n == ssize_t(sizeof result));
    CHECK(result[0] == EPERM);
    CHECK(result[1] == RINGD_SPAWN_STEP_CREDENTIALS);
    CHECK(result[2] == -1);
}

TEST_CASE("the child's process group exists as soon as the launch returns, so killing it right away never misses")
{
    // A worker whose connection closed while the command was being started kills the group the moment it
    // adopts the pid. fork_as used to return before the child had run setpgid(0, 0): that kill failed (ESRCH)
    // and the command ran on. Bounded: at most 200 launches or 20 s.
    std::vector<ChildLauncher::Job> jobs = {job_for("/bin/sleep", {"sleep", "30"})};
    if (can_run_as_nobody()) jobs.push_back(*as_nobody(jobs.front()));
    for (const auto& job : jobs) {
        INFO("run_as uid " << job.run_as_uid);
        int launched = 0;
        int missed = 0;
        int survivors = 0;
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (int i = 0; i < 200 && std::chrono::steady_clock::now() < give_up; ++i) {
            auto launch = launch_child(job);
            REQUIRE(launch->error == 0);
            ++launched;
            const pid_t pid = std::exchange(launch->pid, -1);
            if (::kill(-pid, SIGKILL) != 0) ++missed;
            pollfd p{launch->pidfd.get(), POLLIN, 0};
            if (::poll(&p, 1, 5'000) != 1) {
                ++survivors;
                ::kill(pid, SIGKILL); // don't leave it behind for 30 s
            }
            ::waitpid(pid, nullptr, 0);
        }
        CHECK(launched > 20);
        CHECK(missed == 0);
        CHECK(survivors == 0);
    }
}

TEST_CASE("kill_child_group reaches the leader through its pidfd even when it left its group")
{
    // The leader moves itself into ringd's own process group: kill(-pid) finds nobody (ESRCH), the pidfd
    // still names it.
    std::vector<ChildLauncher::Job> jobs = {job_for("/usr/bin/perl", {"perl"})};
    if (can_run_as_nobody()) jobs.push_back(*as_nobody(jobs.front()));
    for (auto job : jobs) {
        INFO("run_as uid " << job.run_as_uid);
        job.argv = {"perl", "-e",
                    "setpgrp(0, " + std::to_string(::getpgrp()) + ") or die $!; $| = 1; print qq(moved\n); sleep 30"};
        auto launch = launch_child(job);
        REQUIRE(launch->error == 0);
        char buf[6] = {};
        REQUIRE(::read(launch->stdout_read.get(), buf, sizeof buf) == 6); // it has moved
        REQUIRE(::kill(-launch->pid, 0) == -1);
        ringd::engine::kill_child_group(launch->pid, launch->pidfd.get(), SIGKILL);
        const auto status = wait_exit(*launch);
        REQUIRE(status.has_value());
        CHECK(WIFSIGNALED(*status));
        CHECK(WTERMSIG(*status) == SIGKILL);
    }
}

TEST_CASE("the child starts with default signal dispositions and an empty mask, however it was started")
{
    // As in ringd: SIGPIPE ignored, the signals read through signalfd blocked. The child must get neither: a
    // command that ignores SIGPIPE gets EPIPE instead of dying when the reader of its output goes away.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    struct sigaction old_pipe {};
    REQUIRE(::sigaction(SIGPIPE, &ignore, &old_pipe) == 0);
    sigset_t blocked, old_mask;
    sigemptyset(&blocked);
    sigaddset(&blocked, SIGTERM);
    sigaddset(&blocked, SIGHUP);
    REQUIRE(::pthread_sigmask(SIG_BLOCK, &blocked, &old_mask) == 0);

    // glibc's two internal signals (32 and 33, which glibc programs cannot even name) may stay ignored in the
    // child (glibc's sigaction refuses them); every signal a command can use is at its default in both cases.
    const uint64_t glibc_internal = signal_bit(32) | signal_bit(33);
    std::vector<ChildLauncher::Job> jobs = {job_for("", {})};
    if (can_run_as_nobody()) jobs.push_back(*as_nobody(jobs.front()));
    for (const auto& job : jobs) {
        INFO("run_as uid " << job.run_as_uid);
        const uint64_t ignored = child_signal_mask(job, "SigIgn");
        CHECK((ignored & signal_bit(SIGPIPE)) == 0);
        CHECK((ignored & ~glibc_internal) == 0);
        CHECK(child_signal_mask(job, "SigBlk") == 0);
    }

    ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
    ::sigaction(SIGPIPE, &old_pipe, nullptr);
}

TEST_CASE("the child gets the same descriptors however it was started")
{
    auto list_fds = [](ChildLauncher::Job job) {
        job.program = "/bin/ls";
        job.argv = {"ls", "/proc/self/fd"};
        auto launch = launch_child(job);
        REQUIRE(launch->error == 0);
        std::string out = read_all(launch->stdout_read.get());
        CHECK(wait_exit(*launch) == std::optional<int>(0));
        return out;
    };
    // ringd's own descriptors are all close-on-exec; this test's caller may have left others open, which both
    // paths pass on alike. So: the same list both ways (0, 1, 2, ls's own directory handle, and those).
    const std::string plain = list_fds(job_for("", {}));
    // fork_as used to leave the /dev/null it had opened for stdin open in the command as well.
    if (can_run_as_nobody()) CHECK(list_fds(*as_nobody(job_for("", {}))) == plain);
}

TEST_CASE("run_as_uid alone runs with the user's primary group and supplementary groups, not ringd's")
{
    if (::geteuid() != 0) {
        WARN("not root: skipped");
        return;
    }
    // A user with a supplementary group if the system has one (postgres is in ssl-cert on Debian), else nobody.
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) pw = ::getpwnam("nobody");
    REQUIRE(pw != nullptr);
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;
    int count = 64;
    std::vector<gid_t> groups(64);
    REQUIRE(::getgrouplist(pw->pw_name, gid, groups.data(), &count) >= 0);
    groups.resize(std::size_t(count));
    std::set<std::string> expected_groups;
    for (gid_t g : groups)
        expected_groups.insert(std::to_string(g));

    auto id_of = [](ChildLauncher::Job job, const char* flag) {
        job.program = "/usr/bin/id";
        job.argv = {"id", flag};
        auto launch = launch_child(job);
        REQUIRE(launch->error == 0);
        std::string out = read_all(launch->stdout_read.get());
        CHECK(wait_exit(*launch) == std::optional<int>(0));
        std::set<std::string> words;
        std::size_t start = 0;
        while (start < out.size()) {
            const std::size_t end = out.find_first_of(" \n", start);
            if (end > start) words.insert(out.substr(start, end - start));
            start = end == std::string::npos ? out.size() : end + 1;
        }
        return words;
    };
    auto job = job_for("", {});
    job.run_as_uid = uid;
    CHECK(id_of(job, "-u") == std::set<std::string>{std::to_string(uid)});
    CHECK(id_of(job, "-g") == std::set<std::string>{std::to_string(gid)}); // was ringd's gid (0)
    CHECK(id_of(job, "-G") == expected_groups);                            // was ringd's groups

    // Both given: exactly those, no supplementary groups.
    job.run_as_gid = gid;
    CHECK(id_of(job, "-G") == std::set<std::string>{std::to_string(gid)});
}

TEST_CASE("run_as_uid alone for a uid without a passwd entry is refused at the credentials step")
{
    auto job = job_for("/bin/true", {"true"});
    job.run_as_uid = 3999999; // no such user
    auto launch = launch_child(job);
    CHECK(launch->error == ENOENT);
    CHECK(launch->step == RINGD_SPAWN_STEP_CREDENTIALS);
    CHECK(launch->pid == -1);
}

TEST_CASE("a command is a child subreaper, so its descendants cannot leave its subtree while it runs")
{
    auto launch = launch_child(job_for("/bin/grep", {"grep", "^NSpid\\|^PPid", "/proc/self/status"}));
    REQUIRE(launch->error == 0);
    (void)read_all(launch->stdout_read.get());
    CHECK(wait_exit(*launch) == std::optional<int>(0));
    // The attribute itself, read from a child of the command: its orphan would come back to it.
    // $PPID would be the parent when the orphan's shell started, which may still be the subshell: read the parent
    // from /proc after the subshell is gone.
    auto sh = launch_child(job_for(
        "/bin/sh",
        {"sh", "-c",
         "(sh -c 'sleep 0.2; read -r pid comm state ppid rest < /proc/$$/stat; echo $ppid' &) ; sleep 0.5; echo $$"}));
    REQUIRE(sh->error == 0);
    const std::string out = read_all(sh->stdout_read.get());
    CHECK(wait_exit(*sh) == std::optional<int>(0));
    // First line: the orphan's parent after its own parent exited; second: the command. The same pid.
    const auto nl = out.find('\n');
    REQUIRE(nl != std::string::npos);
    CHECK(out.substr(0, nl) + "\n" == out.substr(nl + 1));
}
