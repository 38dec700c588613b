// The real remote-cmd.so in the plugin test kit (ringd/testkit.hpp), with the few helpers its tests share:
// connections from TCP or unix peers, spawns the test completes (or makes spawn() refuse), the connection's
// next timer fired in virtual time, and run_for_real() to execute a recorded command with fork/exec for an
// end-to-end check without the daemon.
#pragma once

#include <catch2/catch.hpp>
#include <deque>
#include <fcntl.h>
#include <poll.h>
#include <ringd/testkit.hpp>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#ifndef REMOTE_CMD_PLUGIN
#error "REMOTE_CMD_PLUGIN must name the built remote-cmd.so"
#endif

using ringd::testkit::Connection;
using ringd::testkit::SpawnCall;
using ringd::testkit::SpawnResult;

// One remote-cmd listener (one worker) created from `yaml`. Throws ringd::testkit::ConfigError if refused.
class RemoteCmd {
public:
    // `with_peer_credentials` false plays a host that predates host->peer_credentials.
    explicit RemoteCmd(const std::string& yaml, bool with_peer_credentials = true)
        : kit(plugin(), yaml,
              {.listener_name = "cmd",
               .host_struct_size = with_peer_credentials ? uint32_t(sizeof(ringd_host))
                                                         : uint32_t(offsetof(ringd_host, peer_credentials))})
    {
        kit.on_spawn([this](const SpawnCall&) {
            if (refusals_.empty()) return ringd::testkit::SpawnReply::later();
            const int error = refusals_.front();
            refusals_.pop_front();
            return ringd::testkit::SpawnReply::refuse(error);
        });
    }
    RemoteCmd(const RemoteCmd&) = delete;
    RemoteCmd& operator=(const RemoteCmd&) = delete;

    static const ringd::testkit::Plugin& plugin()
    {
        static const ringd::testkit::Plugin p = ringd::testkit::Plugin::load(REMOTE_CMD_PLUGIN);
        return p;
    }

    // A new connection from a TCP peer, or from a unix peer with the given credentials.
    Connection open(bool unix_peer = false, uint32_t uid = 1000, uint32_t gid = 1000)
    {
        return kit.open({.peer = unix_peer ? "unix:" : "127.0.0.1:40000", .credentials = {4242, uid, gid}});
    }

    // The next spawn() fails at once with -error (the daemon reports e.g. a vanished binary that way).
    void refuse_next_spawn(int error) { refusals_.push_back(error); }

    // Completes the oldest pending spawn of `c` as an exit with this output.
    static void complete_ok(Connection& c, std::string out = "", std::string err = "", int exit_code = 0)
    {
        SpawnResult r = SpawnResult::exited(exit_code, std::move(out), std::move(err));
        r.duration_us = 2500;
        c.complete_spawn(r);
    }

    // Advances virtual time to `c`'s soonest timer, firing it (and whatever else is due by then); nothing if it
    // has none.
    void fire_timer(const Connection& c)
    {
        const auto timers = c.timers();
        if (!timers.empty()) kit.advance(timers.front().due_ms - kit.now());
    }

    [[nodiscard]] bool logged(const std::string& needle) const { return kit.logged(needle); }

    ringd::testkit::Kit kit;

private:
    std::deque<int> refusals_;
};

// The key create() refused `yaml` at, or "(accepted)".
inline std::string config_error_key(const std::string& yaml, bool with_peer_credentials = true)
{
    try {
        RemoteCmd p(yaml, with_peer_credentials);
        return "(accepted)";
    } catch (const ringd::testkit::ConfigError& e) {
        return e.key();
    }
}

// Runs a recorded spawn for real (fork/exec, stdin /dev/null, default env) and returns what it produced.
struct RealRun {
    std::string out, err;
    int status = 0;
};
inline RealRun run_for_real(const SpawnCall& call)
{
    int out_pipe[2];
    int err_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    REQUIRE(::pipe(err_pipe) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<char*> argv;
    for (const auto& a : call.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    char path_env[] = "PATH=/usr/local/bin:/usr/bin:/bin";
    char* envp[] = {path_env, nullptr};
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    RealRun run;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        REQUIRE(::poll(fds, 2, 10'000) > 0);
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buffer[4096];
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? run.out : run.err).append(buffer, static_cast<std::size_t>(n));
            }
        }
    }
    REQUIRE(::waitpid(pid, &run.status, 0) == pid);
    return run;
}
