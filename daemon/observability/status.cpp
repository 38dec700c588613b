// GET /status: the daemon, its configuration and its listeners as one JSON document (schema: docs/metrics.md;
// ringdctl reads it).
#include "observability/scrape.hpp"

#include <ctime>
#include <nlohmann/json.hpp>

namespace ringd::observability {

namespace {

std::string utc_timestamp(std::chrono::system_clock::time_point t)
{
    const std::time_t seconds = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    ::gmtime_r(&seconds, &tm);
    char buf[32];
    const std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return std::string(buf, n);
}

nlohmann::ordered_json listener_json(const ListenerView& l)
{
    const engine::ListenerTotals t = l.stats ? l.stats->totals() : engine::ListenerTotals{};
    return {
        {"name", l.name},
        {"address", l.address},
        {"transport", l.transport},
        {"plugin",
         {{"name", l.plugin_name}, {"version", l.plugin_version}, {"abi", l.plugin_abi}, {"file", l.plugin_file}}},
        {"active_connections", t.active()},
        {"accepted_total", t.accepted},
        {"refused_total", t.refused_total()},
        {"bytes_received_total", t.bytes_received},
        {"bytes_sent_total", t.bytes_sent},
        {"datagrams_received_total", t.datagrams_received},
        {"datagrams_sent_total", t.datagrams_sent},
    };
}

} // namespace

std::string render_status(const StatusInput& input)
{
    const DaemonSnapshot& snap = *input.snapshot;
    nlohmann::ordered_json last_reload = nullptr;
    if (snap.last_reload) {
        last_reload = {{"time", utc_timestamp(snap.last_reload->time)},
                       {"result", snap.last_reload->ok ? "ok" : "error"},
                       {"errors", snap.last_reload->errors}};
    }
    nlohmann::ordered_json listeners = nlohmann::ordered_json::array();
    for (const ListenerView& l : snap.listeners)
        listeners.push_back(listener_json(l));
    const nlohmann::ordered_json doc = {
        {"version", ringd_version()},
        {"abi", ringd_abi()},
        {"pid", input.pid},
        {"uptime_seconds", input.uptime_seconds},
        {"state", to_string(snap.state)},
        {"workers", snap.workers},
        {"config", {{"file", snap.config_file}, {"files", snap.config_files}, {"last_reload", last_reload}}},
        {"listeners", listeners},
    };
    // Invalid UTF-8 (a path in another encoding) is replaced, never a reason to fail the request.
    return doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

} // namespace ringd::observability
