// Result: what one run measured, and its report. The LAST line printed is machine-parseable:
//   mode=echo requests_per_s=N errors=E p50_us=X p99_us=Y p999_us=Z [server_cpu_us_per_req=C] [extras...]
// or, with --json, the same keys as one JSON object. A "request" is one verified echo (echo, udp, idle),
// one connection read to EOF (churn) or one command execution (cmd).
#pragma once

#include "histogram.hpp"
#include "options.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace ringd_bench {

using ReportValue = std::variant<int64_t, double, std::string>;

struct Result {
    Mode mode = Mode::echo;
    double elapsed_s = 0;  // the measured window
    uint64_t requests = 0; // completed and verified
    uint64_t errors = 0;   // verification, protocol and connection errors
    LatencyHistogram latency;
    std::optional<double> server_cpu_us;                     // server CPU over the measured window
    std::vector<std::pair<std::string, ReportValue>> extras; // mode-specific keys, printed after the common ones

    void add(std::string key, ReportValue value) { extras.emplace_back(std::move(key), std::move(value)); }
    [[nodiscard]] double requests_per_s() const
    {
        return elapsed_s > 0 ? static_cast<double>(requests) / elapsed_s : 0.0;
    }
};

// The one-line report (no trailing newline).
[[nodiscard]] std::string format_text(const Result& result);
[[nodiscard]] std::string format_json(const Result& result);

} // namespace ringd_bench
