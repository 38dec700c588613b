// The admin listener's documents: GET /metrics (Prometheus text 0.0.4) and GET /status (JSON), both made from
// the published DaemonSnapshot plus what is read live at the time of the request. docs/metrics.md lists every
// metric and field; a name here is an interface.
#pragma once

#include "engine/worker_stats.hpp"
#include "observability/process_stats.hpp"
#include "observability/snapshot.hpp"

#include <chrono>
#include <span>
#include <string>
#include <sys/types.h>

namespace ringd::observability {

// Everything a scrape reports, gathered first so that rendering is pure (and unit-tested on made-up values).
// The access log's writer (service::AccessLog): records it wrote, and records it dropped (a full queue, a
// refusal by the journal, or left at stop).
struct AccessLogReading {
    uint64_t written = 0;
    uint64_t dropped = 0;
};

struct ScrapeInput {
    const DaemonSnapshot* snapshot = nullptr;
    std::span<const engine::WorkerReading> workers;
    ProcessStats process;
    AccessLogReading access_log;
};

[[nodiscard]] std::string render_metrics(const ScrapeInput& input);

struct StatusInput {
    const DaemonSnapshot* snapshot = nullptr;
    pid_t pid = 0;
    double uptime_seconds = 0;
};

// The /status document (schema in docs/metrics.md), serialized, ending with a newline.
[[nodiscard]] std::string render_status(const StatusInput& input);

} // namespace ringd::observability
