// What ringdctl prints: the /status document (its schema: ringdctl(8), STATUS DOCUMENT) as text, and a
// filter over the Prometheus text of /metrics. Pure logic, unit-tested. The readers are lenient about the
// document: a field that is missing or of another type shows as "-", and fields they do not know are ignored,
// so a newer daemon's document still prints; only what a command acts on (drain's pid) must be exactly right.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ringd::ctl {

// The body of GET /status: a JSON object whose `listeners`, if present, is an array. Throws BadResponse.
[[nodiscard]] nlohmann::json parse_status(std::string_view body);

// `state` of the document ("serving", "draining", "stopping"), or "" when it has none.
[[nodiscard]] std::string daemon_state(const nlohmann::json& status);

// `pid` of the document: an integer from 2 to INT32_MAX. Throws BadResponse.
[[nodiscard]] int daemon_pid(const nlohmann::json& status);

// `ringdctl status`: a line about the daemon, a line about its configuration (with the errors of a failed last
// reload below it), then one row per listener with its traffic.
[[nodiscard]] std::string format_status(const nlohmann::json& status);

// `ringdctl listeners`: one row per listener with its address and plugin.
[[nodiscard]] std::string format_listeners(const nlohmann::json& status);

// The lines of a Prometheus text exposition that belong to metrics whose name contains `name`: their samples
// and their # HELP / # TYPE lines, in their order. Other comments and blank lines are left out.
[[nodiscard]] std::string filter_metrics(std::string_view exposition, std::string_view name);

// 512 B, 1.5 KiB, 12.0 MiB, 340 GiB.
[[nodiscard]] std::string format_bytes(uint64_t bytes);

// 42s, 3m07s, 5h02m, 12d03h.
[[nodiscard]] std::string format_uptime(double seconds);

} // namespace ringd::ctl
