// Finding and killing what ended commands left running: see leftovers.hpp.
#include "engine/leftovers.hpp"

#include "util/unique_fd.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace ringd::engine {

namespace {

// The pids in /proc/self/task/<main thread>/children (which needs CONFIG_PROC_CHILDREN, as on every distribution
// kernel; without it nothing is found and leftovers live on, as before).
std::vector<pid_t> main_thread_children()
{
    std::vector<pid_t> pids;
    const std::string path = "/proc/self/task/" + std::to_string(::getpid()) + "/children";
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return pids;
    std::string text;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd.get(), buf, sizeof buf)) > 0)
        text.append(buf, std::size_t(n));
    const char* p = text.c_str();
    char* end = nullptr;
    for (long pid = std::strtol(p, &end, 10); end != p; pid = std::strtol(p, &end, 10)) {
        pids.push_back(pid_t(pid));
        p = end;
    }
    return pids;
}

} // namespace

bool become_subreaper()
{
    return ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0;
}

std::size_t kill_leftovers()
{
    const std::vector<pid_t> listed = main_thread_children();
    if (listed.empty()) return 0;
    // Another worker may reap one of these between the listing and pidfd_open, and its number be reused. So: open
    // pidfds first, then list again; a pid still listed is still our child (only a reaped process frees its
    // number), so its pidfd names the leftover, and signals through it can reach nothing else.
    std::vector<std::pair<pid_t, UniqueFd>> opened;
    for (pid_t pid : listed) {
        UniqueFd pidfd(int(::syscall(SYS_pidfd_open, pid, 0)));
        if (pidfd) opened.emplace_back(pid, std::move(pidfd));
    }
    const std::vector<pid_t> still = main_thread_children();
    for (auto& [pid, pidfd] : opened) {
        if (std::find(still.begin(), still.end(), pid) == still.end()) continue;
        ::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0);
        siginfo_t info{};
        // Not waiting: a SIGKILLed process may take a moment to die. What is not reaped now is found again by
        // the next call.
        ::waitid(idtype_t(P_PIDFD), id_t(pidfd.get()), &info, WEXITED | WNOHANG);
    }
    return listed.size();
}

} // namespace ringd::engine
