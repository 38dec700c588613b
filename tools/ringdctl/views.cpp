// Turning the admin listener's documents into ringdctl's output; see views.hpp.
#include "views.hpp"

#include "http_response.hpp"
#include "table.hpp"

#include <algorithm>
#include <cinttypes>
#include <climits>
#include <cmath>
#include <cstdio>

namespace ringd::ctl {
namespace {

using nlohmann::json;
using Align = Table::Align;

const json& member(const json& object, const char* key)
{
    static const json absent;
    if (!object.is_object()) return absent;
    const auto it = object.find(key);
    return it == object.end() ? absent : *it;
}

std::string text_of(const json& value)
{
    return value.is_string() ? value.get<std::string>() : "-";
}

std::string count_of(const json& value)
{
    if (value.is_number_unsigned()) return std::to_string(value.get<uint64_t>());
    if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
    return "-";
}

std::string bytes_of(const json& value)
{
    return value.is_number_unsigned() ? format_bytes(value.get<uint64_t>()) : "-";
}

std::string plugin_of(const json& listener)
{
    const json& plugin = member(listener, "plugin");
    const std::string name = text_of(member(plugin, "name"));
    const json& version = member(plugin, "version");
    return version.is_string() ? name + " " + version.get<std::string>() : name;
}

bool is_udp(const json& listener)
{
    return text_of(member(listener, "transport")) == "udp";
}

// "ringd 0.1.0 (ABI 1.1), pid 1234, serving, up 5m12s, 2 workers"
std::string daemon_line(const json& status)
{
    std::string line = "ringd " + text_of(member(status, "version"));
    if (member(status, "abi").is_string()) line += " (ABI " + member(status, "abi").get<std::string>() + ")";
    line += ", pid " + count_of(member(status, "pid"));
    const std::string state = daemon_state(status);
    line += ", " + (state.empty() ? std::string("state unknown") : state);
    if (const json& uptime = member(status, "uptime_seconds"); uptime.is_number())
        line += ", up " + format_uptime(uptime.get<double>());
    if (const std::string workers = count_of(member(status, "workers")); workers != "-")
        line += ", " + workers + (workers == "1" ? " worker" : " workers");
    return line + '\n';
}

// "config /etc/ringd/ringd.yaml (+2 included files); last reload 2026-12-08T00:00:00Z: ok", and under a failed
// reload its errors, indented.
std::string config_lines(const json& status)
{
    const json& config = member(status, "config");
    const std::string file = text_of(member(config, "file"));
    std::string line = "config " + file;
    std::size_t included = 0;
    for (const json& f : member(config, "files").is_array() ? member(config, "files") : json::array())
        included += f.is_string() && f.get<std::string>() != file ? 1 : 0;
    if (included > 0)
        line += " (+" + std::to_string(included) + (included == 1 ? " included file)" : " included files)");
    const json& reload = member(config, "last_reload");
    if (!reload.is_object()) return line + "; not reloaded since start\n";
    const std::string when = text_of(member(reload, "time"));
    const std::string result = text_of(member(reload, "result"));
    if (result != "error") return line + "; last reload " + when + ": " + result + '\n';
    line += "; last reload " + when + " failed, the configuration before it is serving:\n";
    for (const json& error : member(reload, "errors").is_array() ? member(reload, "errors") : json::array())
        line += "  " + text_of(error) + '\n';
    return line;
}

} // namespace

json parse_status(std::string_view body)
{
    json status = json::parse(body, nullptr, false);
    if (status.is_discarded()) throw BadResponse("/status is not valid JSON");
    if (!status.is_object()) throw BadResponse("/status is not a JSON object");
    const json& listeners = member(status, "listeners");
    if (!listeners.is_null() && !listeners.is_array()) throw BadResponse("/status: \"listeners\" is not an array");
    return status;
}

std::string daemon_state(const json& status)
{
    const json& state = member(status, "state");
    return state.is_string() ? state.get<std::string>() : std::string();
}

int daemon_pid(const json& status)
{
    const json& pid = member(status, "pid");
    // pid 1 is init (or, in a container, whatever runs there): never ringd's to be signalled by ringdctl.
    if (!pid.is_number_integer() || pid.get<int64_t>() < 2 || pid.get<int64_t>() > INT32_MAX)
        throw BadResponse("/status has no valid \"pid\" (got " + pid.dump() + ")");
    return static_cast<int>(pid.get<int64_t>());
}

std::string format_status(const json& status)
{
    std::string out = daemon_line(status) + config_lines(status) + '\n';
    const json& listeners = member(status, "listeners");
    if (!listeners.is_array() || listeners.empty()) return out + "no listeners\n";
    bool any_udp = false;
    for (const json& l : listeners)
        any_udp = any_udp || is_udp(l);
    std::vector<Table::Column> columns{{"NAME"},
                                       {"ADDRESS"},
                                       {"PLUGIN"},
                                       {"ACTIVE", Align::right},
                                       {"ACCEPTED", Align::right},
                                       {"REFUSED", Align::right},
                                       {"BYTES IN", Align::right},
                                       {"BYTES OUT", Align::right}};
    if (any_udp) columns.insert(columns.end(), {{"DGRAMS IN", Align::right}, {"DGRAMS OUT", Align::right}});
    Table table(std::move(columns));
    for (const json& l : listeners) {
        // Connections mean nothing on a udp listener, datagrams nothing on a stream one: "-" rather than 0.
        const bool udp = is_udp(l);
        std::vector<std::string> row{text_of(member(l, "name")),
                                     text_of(member(l, "address")),
                                     plugin_of(l),
                                     udp ? "-" : count_of(member(l, "active_connections")),
                                     udp ? "-" : count_of(member(l, "accepted_total")),
                                     count_of(member(l, "refused_total")),
                                     bytes_of(member(l, "bytes_received_total")),
                                     bytes_of(member(l, "bytes_sent_total"))};
        if (any_udp) {
            row.push_back(udp ? count_of(member(l, "datagrams_received_total")) : "-");
            row.push_back(udp ? count_of(member(l, "datagrams_sent_total")) : "-");
        }
        table.add_row(std::move(row));
    }
    return out + table.render();
}

std::string format_listeners(const json& status)
{
    const json& listeners = member(status, "listeners");
    if (!listeners.is_array() || listeners.empty()) return "no listeners\n";
    Table table({{"NAME"}, {"TRANSPORT"}, {"ADDRESS"}, {"PLUGIN"}, {"VERSION"}, {"ABI"}, {"FILE"}});
    for (const json& l : listeners) {
        const json& plugin = member(l, "plugin");
        table.add_row({text_of(member(l, "name")), text_of(member(l, "transport")), text_of(member(l, "address")),
                       text_of(member(plugin, "name")), text_of(member(plugin, "version")),
                       text_of(member(plugin, "abi")), text_of(member(plugin, "file"))});
    }
    return table.render();
}

std::string filter_metrics(std::string_view exposition, std::string_view name)
{
    std::string out;
    while (!exposition.empty()) {
        const std::size_t eol = exposition.find('\n');
        const std::string_view line = exposition.substr(0, eol);
        exposition.remove_prefix(eol == std::string_view::npos ? exposition.size() : eol + 1);
        std::string_view metric;
        if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
            metric = line.substr(7);
        } else if (!line.starts_with('#')) {
            metric = line;
        }
        metric = metric.substr(0, metric.find_first_of(" {"));
        if (!metric.empty() && metric.find(name) != std::string_view::npos) out.append(line).append("\n");
    }
    return out;
}

std::string format_bytes(uint64_t bytes)
{
    if (bytes < 1024) return std::to_string(bytes) + " B";
    constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes) / 1024;
    std::size_t unit = 0;
    while (value >= 1024 && unit + 1 < std::size(units)) {
        value /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, value < 100 ? "%.1f %s" : "%.0f %s", value, units[unit]);
    return text;
}

std::string format_uptime(double seconds)
{
    // Clamped, so that no double (NaN, 1e300) makes the conversion undefined; 1e12 s is 30,000 years.
    const auto s = static_cast<uint64_t>(std::isfinite(seconds) && seconds > 0 ? std::min(seconds, 1e12) : 0);
    char text[48];
    if (s < 60) {
        std::snprintf(text, sizeof text, "%" PRIu64 "s", s);
    } else if (s < 3600) {
        std::snprintf(text, sizeof text, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    } else if (s < 86400) {
        std::snprintf(text, sizeof text, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    } else {
        std::snprintf(text, sizeof text, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
    }
    return text;
}

} // namespace ringd::ctl
