// ringd-bench: ringd's own load generator. One single-threaded epoll loop per run, meant to be pinned to one
// core (taskset -c 1) opposite the server under test (taskset -c 0).
//
//   ringd-bench echo  --connect tcp://127.0.0.1:7000 --clients 50 --size 512 --expect upper --server-pid PID
//   ringd-bench udp   --connect udp://127.0.0.1:7001 --clients 10 --size 64
//   ringd-bench churn --connect tcp://127.0.0.1:7013 --clients 20 --contains 20
//   ringd-bench cmd   --connect tcp://127.0.0.1:7014 --clients 8 --argv true
//   ringd-bench idle  --connect tcp://127.0.0.1:7000 --clients 15000 --server-pid PID
//
// The last line of output is the result (key=value, or JSON with --json). Exit status: 0 clean, 1 when any
// error was counted (a reply failed verification, a connection failed or nothing completed), 2 on usage.
#include "cli.hpp"
#include "modes.hpp"

#include <csignal>
#include <iostream>
#include <sys/resource.h>

using namespace ringd_bench;

namespace {

// Every connection is a descriptor: take the whole hard limit.
void raise_fd_limit()
{
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &lim);
    }
}

bool enough_fds(unsigned connections)
{
    rlimit lim{};
    if (::getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur == RLIM_INFINITY) return true;
    return lim.rlim_cur >= static_cast<rlim_t>(connections) + 64;
}

Result run(const Options& o, const ServerProbe& probe)
{
    switch (o.mode) {
    case Mode::echo:
        return run_echo(o, probe);
    case Mode::udp:
        return run_udp(o, probe);
    case Mode::churn:
        return run_churn(o, probe);
    case Mode::cmd:
        return run_cmd(o, probe);
    case Mode::idle:
        return run_idle(o, probe);
    }
    return {};
}

} // namespace

int main(int argc, char** argv)
{
    int exit_code = 0;
    auto options = parse_command_line(argc, argv, exit_code);
    if (!options) return exit_code;
    const Options& o = *options;
    std::signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (!enough_fds(o.clients)) {
        std::cerr << "ringd-bench: the open-file limit is too low for " << o.clients << " connections\n";
        return 2;
    }
    ServerProbe probe(o.server_pid);
    if (probe.enabled() && !probe.alive()) {
        std::cerr << "ringd-bench: --server-pid " << o.server_pid << ": no such process\n";
        return 2;
    }
    std::cout << "ringd-bench " << mode_name(o.mode) << " " << o.connect << " clients " << o.clients;
    if (o.size) std::cout << " size " << o.size;
    std::cout << " duration " << o.duration_s << "s" << std::endl;

    Result result;
    try {
        result = run(o, probe);
    } catch (const std::exception& e) {
        std::cerr << "ringd-bench: " << e.what() << "\n";
        return 1;
    }
    if (probe.enabled() && !probe.alive()) {
        std::cerr << "ringd-bench: the server (pid " << o.server_pid << ") exited during the run\n";
        ++result.errors;
    }
    bool nothing = result.requests == 0;
    if (nothing) std::cerr << "ringd-bench: no request completed\n";
    std::cout << (o.json ? format_json(result) : format_text(result)) << std::endl;
    return result.errors > 0 || nothing ? 1 : 0;
}
