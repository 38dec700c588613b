// Warnings where a listener's limits work against what its plugin's own config sets up. Plugins parse their own
// `config:`, so this reads only the few keys whose meaning is documented and stable, of the plugins shipped with
// ringd, and stays silent whenever a value is not one it understands (the plugin reports those).
//
// remote-cmd, idle_timeout against queue_timeout:
// The engine closes a connection idle when nothing was received or sent for idle_timeout, except while one of
// its commands runs (worker.cpp, check_idle_and_deadlines). So remote-cmd's `timeout` is never cut short, but a
// request waiting for a free command slot (up to `queue_timeout`) has no command running and nothing moves on
// its connection: with idle_timeout <= queue_timeout the client is disconnected before its request runs or is
// answered "busy".
//
// tcp-proxy, max_output_buffer against buffer: the engine stops reading a connection whose own queued output is
// above max_output_buffer. For a proxy that is the wrong connection (what it reads goes to the other peer), and
// with an upstream that reads only while its own writes go through, a pair stalls for good: ringd does not read
// the upstream because the upstream does not read, and the upstream does not read because ringd does not. The
// proxy never queues more than its `buffer` on a connection, so buffer <= max_output_buffer keeps that pause
// away (plugins/tcp-proxy/flow.hpp).
#include "config/listener.hpp"
#include "config/units.hpp"

#include <optional>
#include <yaml-cpp/yaml.h>

namespace ringd::config::detail {
namespace {

using std::chrono::milliseconds;

// remote-cmd's defaults (plugins/remote-cmd/settings.hpp).
constexpr milliseconds remote_cmd_queue_timeout{10'000};
// tcp-proxy's default (plugins/tcp-proxy/proxy_config.hpp).
constexpr uint64_t tcp_proxy_buffer = 256 * 1024;

std::string format_duration(milliseconds d)
{
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

std::string format_size(uint64_t bytes)
{
    if (bytes % (1024 * 1024) == 0) return std::to_string(bytes / (1024 * 1024)) + "MiB";
    if (bytes % 1024 == 0) return std::to_string(bytes / 1024) + "KiB";
    return std::to_string(bytes) + "B";
}

// A top-level scalar of the plugin's config: nullopt when absent, "" when not a scalar.
std::optional<std::string> plugin_scalar(const YAML::Node& config, const std::string& key)
{
    for (const auto& pair : config) {
        if (pair.first.IsScalar() && pair.first.Scalar() == key)
            return pair.second.IsScalar() ? pair.second.Scalar() : std::string();
    }
    return std::nullopt;
}

void check_remote_cmd(const ListenerDraft& listener, const YAML::Node& config, std::vector<Diagnostic>& warnings)
{
    const milliseconds idle = listener.config.limits.idle_timeout;
    if (idle.count() == 0) return;
    if (plugin_scalar(config, "max_queued") == "0") return; // requests never wait for a slot
    milliseconds queue_timeout = remote_cmd_queue_timeout;
    const std::optional<std::string> written = plugin_scalar(config, "queue_timeout");
    if (written) {
        try {
            queue_timeout = parse_duration(*written);
        } catch (const ParseError&) {
            return; // the plugin rejects it, with its own message
        }
    }
    if (idle > queue_timeout) return;
    const std::optional<Location>& idle_where = listener.limits_where.idle_timeout;
    const Location where = written                  ? listener.config.locate_config_key("queue_timeout")
                           : idle_where.has_value() ? *idle_where
                                                    : listener.config.where;
    std::string message = "idle_timeout " + format_duration(idle) + " is not longer than remote-cmd's queue_timeout " +
                          format_duration(queue_timeout) + (written ? "" : " (its default)") +
                          ": a request waiting for a free command slot is not activity, so its connection is closed "
                          "as idle before the request runs or is answered \"busy\"; make idle_timeout longer";
    if (written && idle_where) message += " (idle_timeout is set at " + idle_where->str() + ")";
    warnings.push_back(Diagnostic{where, listener.config.name, std::move(message), Severity::warning});
}

void check_tcp_proxy(const ListenerDraft& listener, const YAML::Node& config, std::vector<Diagnostic>& warnings)
{
    uint64_t buffer = tcp_proxy_buffer;
    const std::optional<std::string> written = plugin_scalar(config, "buffer");
    if (written) {
        try {
            buffer = parse_size(*written);
        } catch (const ParseError&) {
            return; // the plugin rejects it, with its own message
        }
    }
    const uint64_t cap = listener.config.limits.max_output_buffer;
    if (buffer <= cap) return;
    const std::optional<Location>& cap_where = listener.limits_where.max_output_buffer;
    const Location where = written                 ? listener.config.locate_config_key("buffer")
                           : cap_where.has_value() ? *cap_where
                                                   : listener.config.where;
    std::string message = "max_output_buffer " + format_size(cap) + " is below tcp-proxy's buffer " +
                          format_size(buffer) + (written ? "" : " (its default)") +
                          ": ringd stops reading a connection whose own output is above max_output_buffer, which "
                          "for a proxy is the wrong side, and a pair whose upstream reads only while its writes go "
                          "through stalls; make buffer at most max_output_buffer";
    if (written && cap_where) message += " (max_output_buffer is set at " + cap_where->str() + ")";
    warnings.push_back(Diagnostic{where, listener.config.name, std::move(message), Severity::warning});
}

} // namespace

void check_plugin_limits(const ListenerDraft& listener, std::vector<Diagnostic>& warnings)
{
    if (!listener.listen_where || !listener.config.endpoint.is_stream()) return;
    YAML::Node config;
    try {
        config = YAML::Load(listener.config.plugin_config_yaml);
    } catch (const YAML::Exception&) {
        return;
    }
    if (!config.IsMap()) return;
    const std::string plugin = listener.config.plugin_path.stem().string();
    if (plugin == "remote-cmd") check_remote_cmd(listener, config, warnings);
    if (plugin == "tcp-proxy") check_tcp_proxy(listener, config, warnings);
}

} // namespace ringd::config::detail
