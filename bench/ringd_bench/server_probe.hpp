// ServerProbe: what the server under test costs, read from /proc/PID: CPU time (utime + stime of all its
// threads, /proc/PID/stat) and resident memory (VmRSS, /proc/PID/status). Without --server-pid every
// reading is empty and the report leaves the server-side figures out.
#pragma once

#include <optional>

namespace ringd_bench {

class ServerProbe {
public:
    explicit ServerProbe(int pid) : pid_(pid) {}

    [[nodiscard]] bool enabled() const { return pid_ > 0; }
    [[nodiscard]] bool alive() const;
    // CPU time consumed so far, microseconds (clock-tick resolution, usually 10 ms).
    [[nodiscard]] std::optional<double> cpu_us() const;
    // CPU time of its children that it has waited for (cutime + cstime): the commands remote-cmd runs.
    [[nodiscard]] std::optional<double> children_cpu_us() const;
    [[nodiscard]] std::optional<long> rss_kib() const;

private:
    // utime + stime (children = false) or cutime + cstime (children = true), microseconds.
    [[nodiscard]] std::optional<double> read_cpu(bool children) const;
    int pid_;
};

// CPU time this process (the load generator) has used so far, microseconds (getrusage: microsecond
// resolution), to show the client is not the bottleneck.
[[nodiscard]] double self_cpu_us();

} // namespace ringd_bench
