// ProcessStats: the process_* metrics every Prometheus exporter has, read from /proc/self and getrlimit at the
// time of a scrape.
#pragma once

#include <cstdint>
#include <optional>

namespace ringd::observability {

struct ProcessStats {
    std::optional<double> cpu_seconds;        // user + system time of every thread
    std::optional<double> start_time_seconds; // since the Unix epoch
    std::optional<uint64_t> resident_bytes;
    std::optional<uint64_t> virtual_bytes;
    std::optional<uint64_t> open_fds;
    std::optional<uint64_t> max_fds; // the soft RLIMIT_NOFILE
};

// What could be read (a value that could not be read is left empty and not exported).
[[nodiscard]] ProcessStats read_process_stats();

} // namespace ringd::observability
