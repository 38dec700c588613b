// Reading /proc/PID/stat and /proc/PID/status (see server_probe.hpp).
#include "server_probe.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>

namespace ringd_bench {

bool ServerProbe::alive() const
{
    if (!enabled()) return false;
    return ::access(("/proc/" + std::to_string(pid_) + "/stat").c_str(), R_OK) == 0;
}

std::optional<double> ServerProbe::cpu_us() const
{
    return read_cpu(false);
}
std::optional<double> ServerProbe::children_cpu_us() const
{
    return read_cpu(true);
}

std::optional<double> ServerProbe::read_cpu(bool children) const
{
    if (!enabled()) return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after the last ')'.
    auto paren = line.rfind(')');
    if (paren == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(paren + 1));
    std::string skip;
    for (int field = 3; field <= 13; ++field)
        fields >> skip; // state .. cmajflt
    unsigned long long utime = 0, stime = 0, cutime = 0, cstime = 0;
    if (!(fields >> utime >> stime >> cutime >> cstime)) return std::nullopt;
    if (children) {
        utime = cutime;
        stime = cstime;
    }
    static const long ticks = ::sysconf(_SC_CLK_TCK);
    return static_cast<double>(utime + stime) * 1e6 / static_cast<double>(ticks > 0 ? ticks : 100);
}

std::optional<long> ServerProbe::rss_kib() const
{
    if (!enabled()) return std::nullopt;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    }
    return std::nullopt;
}

double self_cpu_us()
{
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    auto us = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) * 1e6 + static_cast<double>(tv.tv_usec); };
    return us(ru.ru_utime) + us(ru.ru_stime);
}

} // namespace ringd_bench
