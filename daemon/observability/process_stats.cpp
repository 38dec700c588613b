// ProcessStats from /proc/self/stat, /proc/stat (boot time), /proc/self/fd and getrlimit.
#include "observability/process_stats.hpp"

#include <dirent.h>
#include <fstream>
#include <sstream>
#include <string>
#include <sys/resource.h>
#include <unistd.h>
#include <vector>

namespace ringd::observability {

namespace {

std::optional<double> boot_time_seconds()
{
    std::ifstream in("/proc/stat");
    std::string key;
    while (in >> key) {
        if (key == "btime") {
            double value = 0;
            if (in >> value) return value;
            return std::nullopt;
        }
        in.ignore(1 << 16, '\n');
    }
    return std::nullopt;
}

// /proc/self/stat: the fields after the command name (which may hold spaces and parentheses).
std::vector<std::string> stat_fields()
{
    std::ifstream in("/proc/self/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::size_t end_of_comm = text.rfind(')');
    if (end_of_comm == std::string::npos) return {};
    std::istringstream rest(text.substr(end_of_comm + 1));
    std::vector<std::string> fields;
    std::string field;
    while (rest >> field)
        fields.push_back(field);
    return fields;
}

std::optional<uint64_t> count_open_fds()
{
    DIR* dir = ::opendir("/proc/self/fd");
    if (dir == nullptr) return std::nullopt;
    uint64_t n = 0;
    while (const dirent* entry = ::readdir(dir)) {
        if (entry->d_name[0] != '.') ++n;
    }
    ::closedir(dir);
    return n > 0 ? n - 1 : 0; // the directory's own descriptor is not one of ours
}

} // namespace

ProcessStats read_process_stats()
{
    ProcessStats s;
    const double ticks = double(::sysconf(_SC_CLK_TCK));
    const long page = ::sysconf(_SC_PAGESIZE);
    // Fields after the command, 0-based: 0 state ... 11 utime, 12 stime, 19 starttime, 20 vsize, 21 rss.
    const std::vector<std::string> f = stat_fields();
    try {
        if (f.size() > 21 && ticks > 0) {
            s.cpu_seconds = double(std::stoull(f[11]) + std::stoull(f[12])) / ticks;
            if (const auto boot = boot_time_seconds())
                s.start_time_seconds = *boot + double(std::stoull(f[19])) / ticks;
            s.virtual_bytes = std::stoull(f[20]);
            s.resident_bytes = std::stoull(f[21]) * uint64_t(page);
        }
    } catch (const std::exception&) {
        // A /proc we cannot read as expected: those metrics are left out.
    }
    s.open_fds = count_open_fds();
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) s.max_fds = uint64_t(limit.rlim_cur);
    return s;
}

} // namespace ringd::observability
