// ChildLauncher: a started child is owned by its Launch until adopted; failures come back as errno; the
// thread delivers every job it was given.
#include "engine/child_launcher.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <signal.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

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

TEST_CASE("the launcher thread delivers every job, in order, with its slot and generation")
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
            job.generation = 100 + i;
            launcher.submit(std::move(job));
        }
        std::unique_lock lock(mutex);
        REQUIRE(done.wait_for(lock, std::chrono::seconds(10), [&] { return delivered.size() == 5; }));
        CHECK(thread_names().count("test-launcher") == 1); // operators can tell it apart in ps -L
    }
    for (uint32_t i = 0; i < 5; ++i) {
        CHECK(delivered[i]->slot == i);
        CHECK(delivered[i]->generation == 100 + i);
        CHECK(delivered[i]->error == 0);
    }
}
