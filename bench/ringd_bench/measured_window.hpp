// The measured window every load mode shares: wall time, the server's CPU (when --server-pid is probed) and
// this process's own CPU, taken around the mode's run so all modes report them the same way.
#pragma once

#include "clock.hpp"
#include "report.hpp"
#include "server_probe.hpp"

namespace ringd_bench {

// Runs `body()` as the measured window and records its length and the server's CPU in `result`. Returns
// this process's CPU microseconds spent in the window (for client_cpu_us_per_req).
template <class Body> double measure_window(const ServerProbe& probe, Result& result, Body&& body)
{
    const auto server_before = probe.cpu_us();
    const double self_before = self_cpu_us();
    const uint64_t start = now_ns();
    body();
    result.elapsed_s = static_cast<double>(now_ns() - start) / 1e9;
    const double self_used = self_cpu_us() - self_before;
    const auto server_after = probe.cpu_us();
    if (server_before && server_after) result.server_cpu_us = *server_after - *server_before;
    return self_used;
}

// Adds client_cpu_us_per_req once the window's requests are known.
inline void add_client_cpu(Result& result, double self_cpu_us)
{
    if (result.requests > 0) result.add("client_cpu_us_per_req", self_cpu_us / static_cast<double>(result.requests));
}

} // namespace ringd_bench
