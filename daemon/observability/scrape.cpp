// GET /metrics: every family once, each listener's (or worker's) series inside it, in snapshot order.
#include "observability/scrape.hpp"

#include "observability/prometheus_text.hpp"
#include "plugin_host/plugin.hpp"

#include <array>
#include <functional>
#include <map>
#include <ringd/plugin.h>
#include <set>
#include <vector>

namespace ringd::observability {

namespace {

using engine::ListenerTotals;

struct Row {
    const ListenerView* view;
    ListenerTotals totals;
    bool datagram;
};

enum class Kind { any, stream, datagram };

bool wanted(const Row& row, Kind kind)
{
    return kind == Kind::any || (kind == Kind::datagram) == row.datagram;
}

double seconds(uint64_t ns)
{
    return double(ns) / 1e9;
}

class ListenerFamilies {
public:
    ListenerFamilies(PrometheusText& out, const std::vector<Row>& rows) : out_(out), rows_(rows) {}

    // One sample per listener of `kind`. Nothing at all when no listener is of that kind.
    void single(const char* name, MetricType type, const char* help, Kind kind,
                const std::function<uint64_t(const ListenerTotals&)>& value)
    {
        if (!any(kind)) return;
        out_.family(name, type, help);
        for (const Row& row : rows_) {
            if (!wanted(row, kind)) continue;
            const Label labels[] = {{"listener", row.view->name}};
            out_.sample(labels, value(row.totals));
        }
    }

    // One sample per listener of `kind` and reason, every reason always present (0 until it happens).
    template <std::size_t N, class Reason>
    void by_reason(const char* name, const char* help, Kind kind,
                   const std::function<const std::array<uint64_t, N>&(const ListenerTotals&)>& values,
                   const char* (*reason_name)(Reason))
    {
        if (!any(kind)) return;
        out_.family(name, MetricType::counter, help);
        for (const Row& row : rows_) {
            if (!wanted(row, kind)) continue;
            const std::array<uint64_t, N>& counts = values(row.totals);
            for (std::size_t i = 0; i < N; ++i) {
                const Label labels[] = {{"listener", row.view->name}, {"reason", reason_name(Reason(i))}};
                out_.sample(labels, counts[i]);
            }
        }
    }

    void durations()
    {
        if (!any(Kind::stream)) return;
        out_.family("ringd_connection_duration_seconds", MetricType::histogram,
                    "How long accepted connections were open, observed when they close.");
        for (const Row& row : rows_) {
            if (row.datagram) continue;
            const Label labels[] = {{"listener", row.view->name}};
            out_.histogram(labels, engine::DurationBuckets::upper_seconds, row.totals.duration_buckets,
                           seconds(row.totals.duration_sum_ns));
        }
    }

private:
    bool any(Kind kind) const
    {
        for (const Row& row : rows_) {
            if (wanted(row, kind)) return true;
        }
        return false;
    }

    PrometheusText& out_;
    const std::vector<Row>& rows_;
};

const char* close_reason_name(ringd_close_reason reason)
{
    static constexpr std::array<const char*, engine::close_reason_count> names{"peer", "local", "idle", "error",
                                                                               "shutdown"};
    return std::size_t(reason) < names.size() ? names[std::size_t(reason)] : "?";
}

void listener_metrics(PrometheusText& out, const std::vector<Row>& rows)
{
    ListenerFamilies f(out, rows);
    f.single("ringd_connections_accepted_total", MetricType::counter,
             "Connections accepted and handed to the listener's plugin.", Kind::stream,
             [](const ListenerTotals& t) { return t.accepted; });
    f.single("ringd_connections_active", MetricType::gauge, "Accepted connections open now.", Kind::stream,
             [](const ListenerTotals& t) { return t.active(); });
    f.by_reason<engine::refusal_count, engine::Refusal>(
        "ringd_connections_refused_total", "Connections closed at once, before the plugin saw them, by reason.",
        Kind::stream, [](const ListenerTotals& t) -> const auto& { return t.refused; }, &engine::to_string);
    f.by_reason<engine::proxy_rejection_count, engine::ProxyRejection>(
        "ringd_proxy_protocol_rejected_total",
        "Connections to a proxy_protocol listener closed before their PROXY header was complete, by reason.",
        Kind::stream, [](const ListenerTotals& t) -> const auto& { return t.proxy_rejected; }, &engine::to_string);
    f.by_reason<engine::close_reason_count, ringd_close_reason>(
        "ringd_connections_closed_total", "Accepted connections closed, by reason.", Kind::stream,
        [](const ListenerTotals& t) -> const auto& { return t.closed; }, &close_reason_name);
    f.durations();
    f.single("ringd_bytes_received_total", MetricType::counter,
             "Bytes received: stream bytes read (outbound connections included), datagram payload bytes.", Kind::any,
             [](const ListenerTotals& t) { return t.bytes_received; });
    f.single("ringd_bytes_sent_total", MetricType::counter,
             "Bytes sent: stream bytes the kernel took (outbound connections included), datagram payload bytes.",
             Kind::any, [](const ListenerTotals& t) { return t.bytes_sent; });
    f.single("ringd_datagrams_received_total", MetricType::counter, "Datagrams received, dropped ones included.",
             Kind::datagram, [](const ListenerTotals& t) { return t.datagrams_received; });
    f.single("ringd_datagrams_sent_total", MetricType::counter, "Datagrams the kernel sent.", Kind::datagram,
             [](const ListenerTotals& t) { return t.datagrams_sent; });
    f.by_reason<engine::datagram_drop_count, engine::DatagramDrop>(
        "ringd_datagrams_dropped_total", "Datagrams received but not handed to the plugin, or replies not sent.",
        Kind::datagram, [](const ListenerTotals& t) -> const auto& { return t.datagrams_dropped; }, &engine::to_string);
    f.single("ringd_datagram_receive_errors_total", MetricType::counter,
             "Failed receives on the listener's socket (each logged).", Kind::datagram,
             [](const ListenerTotals& t) { return t.recvmsg_errors; });
    f.single("ringd_plugin_errors_total", MetricType::counter,
             "Calls into the listener's plugin that failed at ringd's boundary (an exception escaped the C ABI).",
             Kind::any, [](const ListenerTotals& t) { return t.plugin_errors; });
    f.single("ringd_outbound_connections_opened_total", MetricType::counter,
             "Outbound connections (host->connect) that were established.", Kind::stream,
             [](const ListenerTotals& t) { return t.outbound_opened; });
    f.by_reason<engine::outbound_failure_count, engine::OutboundFailure>(
        "ringd_outbound_connections_failed_total", "Outbound connections asked for that were never established.",
        Kind::stream, [](const ListenerTotals& t) -> const auto& { return t.outbound_failed; }, &engine::to_string);
    f.single("ringd_outbound_connections_active", MetricType::gauge,
             "Outbound connections open now, connecting or established.", Kind::stream,
             [](const ListenerTotals& t) { return t.outbound_active(); });
}

void worker_counter(PrometheusText& out, std::span<const engine::WorkerReading> workers, const char* name,
                    const char* help, uint64_t engine::WorkerReading::*field)
{
    out.family(name, MetricType::counter, help);
    for (const engine::WorkerReading& w : workers) {
        const std::string index = std::to_string(w.index);
        const Label labels[] = {{"worker", index}};
        out.sample(labels, w.*field);
    }
}

// One family, two or three fields of each worker as values of one label.
void worker_split(PrometheusText& out, std::span<const engine::WorkerReading> workers, const char* name,
                  const char* help, const char* label,
                  std::initializer_list<std::pair<const char*, uint64_t engine::WorkerReading::*>> parts)
{
    out.family(name, MetricType::counter, help);
    for (const engine::WorkerReading& w : workers) {
        const std::string index = std::to_string(w.index);
        for (const auto& [value, field] : parts) {
            const Label labels[] = {{"worker", index}, {label, value}};
            out.sample(labels, w.*field);
        }
    }
}

void worker_metrics(PrometheusText& out, std::span<const engine::WorkerReading> workers)
{
    if (workers.empty()) return;
    using R = engine::WorkerReading;
    worker_counter(out, workers, "ringd_worker_submissions_total", "Submission queue entries handed to the kernel.",
                   &R::submissions);
    worker_counter(out, workers, "ringd_worker_completions_total", "Completion queue entries handled.",
                   &R::completions);
    worker_counter(out, workers, "ringd_worker_cq_overflows_total",
                   "Completions the kernel could not post because the completion queue was full (its overflow "
                   "counter).",
                   &R::cq_overflows);
    worker_split(out, workers, "ringd_worker_buffer_ring_exhausted_total",
                 "Multishot receives that ended with ENOBUFS: every provided buffer of the ring was in use.", "ring",
                 {{"stream", &R::stream_buffers_exhausted}, {"datagram", &R::datagram_buffers_exhausted}});
    worker_split(out, workers, "ringd_worker_multishot_rearms_total",
                 "Multishot operations the kernel ended and the worker armed again.", "op",
                 {{"accept", &R::accept_rearms}, {"recv", &R::recv_rearms}, {"recvmsg", &R::recvmsg_rearms}});
    out.family("ringd_worker_busy_seconds_total", MetricType::counter,
               "Time the worker's loop spent handling completions, timers and mail.");
    for (const R& w : workers) {
        const std::string index = std::to_string(w.index);
        const Label labels[] = {{"worker", index}};
        out.sample(labels, seconds(w.busy_ns));
    }
    out.family("ringd_worker_wait_seconds_total", MetricType::counter,
               "Time the worker's loop spent in io_uring_enter, submitting and waiting for completions.");
    for (const R& w : workers) {
        const std::string index = std::to_string(w.index);
        const Label labels[] = {{"worker", index}};
        out.sample(labels, seconds(w.wait_ns));
    }
    worker_counter(out, workers, "ringd_worker_loop_turns_total", "Turns of the worker's event loop.", &R::loop_turns);
    worker_counter(out, workers, "ringd_worker_plugin_stalls_total",
                   "Plugin callbacks that blocked the worker longer than the stall threshold (1 s).",
                   &R::plugin_stalls);
    worker_counter(out, workers, "ringd_worker_stale_completions_total",
                   "Completions for a slot that was gone or reused (a bug; each is logged).", &R::stale_completions);
    out.family("ringd_worker_connections", MetricType::gauge, "Connections the worker holds now, outbound included.");
    for (const R& w : workers) {
        const std::string index = std::to_string(w.index);
        const Label labels[] = {{"worker", index}};
        out.sample(labels, w.connections);
    }
}

void plugin_metrics(PrometheusText& out, const std::vector<Row>& rows)
{
    struct Series {
        std::string listener;
        int64_t value;
    };
    struct Family {
        uint32_t kind;
        std::string help;
        std::vector<Series> series;
    };
    std::map<std::string, Family> families; // by exported name, so each is written once
    for (const Row& row : rows) {
        if (!row.view->plugin) continue;
        for (const auto& m : row.view->plugin->metrics()) {
            const bool counter = m.kind == RINGD_METRIC_COUNTER;
            std::string name = "ringd_plugin_" + m.name;
            if (counter && !name.ends_with("_total")) name += "_total";
            // ringd's own families come first and win; so does the first kind a name was registered with.
            if (out.has_family(name)) continue;
            auto [it, fresh] = families.try_emplace(name, Family{m.kind, m.help, {}});
            if (!fresh && it->second.kind != m.kind) continue;
            it->second.series.push_back({row.view->name, m.value});
        }
    }
    for (const auto& [name, family] : families) {
        const bool counter = family.kind == RINGD_METRIC_COUNTER;
        out.family(name, counter ? MetricType::counter : MetricType::gauge,
                   family.help.empty() ? "A metric of the listener's plugin." : family.help);
        for (const Series& s : family.series) {
            const Label labels[] = {{"listener", s.listener}};
            out.sample(labels, double(s.value));
        }
    }
}

void daemon_metrics(PrometheusText& out, const DaemonSnapshot& snap)
{
    out.family("ringd_build_info", MetricType::gauge, "ringd's version and the plugin ABI it speaks; always 1.");
    const std::string abi = ringd_abi();
    const Label build[] = {{"version", ringd_version()}, {"abi", abi}};
    out.sample(build, uint64_t(1));
    out.family("ringd_state", MetricType::gauge,
               "1 for the daemon's state (serving, draining after SIGUSR2, stopping), 0 for the others.");
    for (DaemonState state : {DaemonState::serving, DaemonState::draining, DaemonState::stopping}) {
        const Label labels[] = {{"state", to_string(state)}};
        out.sample(labels, uint64_t(state == snap.state ? 1 : 0));
    }
    out.family("ringd_workers", MetricType::gauge, "Worker threads, each with its own io_uring.");
    out.sample({}, uint64_t(snap.workers));
    out.family("ringd_reloads_total", MetricType::counter, "Configuration reloads (SIGHUP), by result.");
    const Label ok[] = {{"result", "ok"}};
    const Label error[] = {{"result", "error"}};
    out.sample(ok, snap.reloads_ok);
    out.sample(error, snap.reloads_failed);
    out.family("ringd_config_last_reload_successful", MetricType::gauge,
               "1 if the last reload (or the start) applied its configuration, 0 if it failed.");
    out.sample({}, uint64_t(!snap.last_reload || snap.last_reload->ok ? 1 : 0));
    out.family("ringd_config_last_reload_success_timestamp_seconds", MetricType::gauge,
               "When the running configuration was applied (the start, or the last reload that worked).");
    out.sample({}, std::chrono::duration<double>(snap.last_config_success.time_since_epoch()).count());
}

void access_log_metrics(PrometheusText& out, const AccessLogReading& log)
{
    out.family("ringd_access_log_records_total", MetricType::counter,
               "Access log records written (to the journal, or to stderr).");
    out.sample({}, log.written);
    out.family(
        "ringd_access_log_dropped_total", MetricType::counter,
        "Access log records dropped: their queue was full, the journal refused them, or they were left at stop.");
    out.sample({}, log.dropped);
}

void process_metrics(PrometheusText& out, const ProcessStats& p)
{
    auto one = [&](const char* name, MetricType type, const char* help, auto value) {
        if (!value) return;
        out.family(name, type, help);
        out.sample({}, *value);
    };
    one("process_cpu_seconds_total", MetricType::counter, "Total user and system CPU time spent in seconds.",
        p.cpu_seconds);
    one("process_start_time_seconds", MetricType::gauge, "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds);
    one("process_resident_memory_bytes", MetricType::gauge, "Resident memory size in bytes.", p.resident_bytes);
    one("process_virtual_memory_bytes", MetricType::gauge, "Virtual memory size in bytes.", p.virtual_bytes);
    one("process_open_fds", MetricType::gauge, "Number of open file descriptors.", p.open_fds);
    one("process_max_fds", MetricType::gauge, "Maximum number of open file descriptors.", p.max_fds);
}

} // namespace

std::string render_metrics(const ScrapeInput& input)
{
    const DaemonSnapshot& snap = *input.snapshot;
    std::vector<Row> rows;
    rows.reserve(snap.listeners.size());
    for (const ListenerView& view : snap.listeners) {
        if (!view.stats) continue;
        rows.push_back(Row{&view, view.stats->totals(), view.transport == "udp"});
    }
    PrometheusText out;
    daemon_metrics(out, snap);
    listener_metrics(out, rows);
    worker_metrics(out, input.workers);
    plugin_metrics(out, rows);
    access_log_metrics(out, input.access_log);
    process_metrics(out, input.process);
    return out.take();
}

} // namespace ringd::observability
