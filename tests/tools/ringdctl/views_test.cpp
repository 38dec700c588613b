// What ringdctl prints: the /status document as tables, the metrics filter, and the number formats.
#include "http_response.hpp"
#include "table.hpp"
#include "views.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>

using namespace ringd::ctl;
using nlohmann::json;

namespace {

// The example document of the /status schema (ringdctl(8), STATUS DOCUMENT), with a udp listener added.
json example_status()
{
    return json::parse(R"({"version": "0.1.0", "abi": "1.1", "pid": 1234, "uptime_seconds": 312.5,
        "state": "serving", "workers": 2,
        "config": {"file": "/etc/ringd/ringd.yaml", "files": ["/etc/ringd/ringd.yaml", "/etc/ringd/conf.d/a.yaml"],
                   "last_reload": {"time": "2026-12-08T00:00:00Z", "result": "ok", "errors": []}},
        "listeners": [
          {"name": "echo", "address": "tcp://127.0.0.1:8080", "transport": "tcp",
           "plugin": {"name": "echo-upper", "version": "1.0.0", "abi": "1.1",
                      "file": "/usr/lib/x86_64-linux-gnu/ringd/plugins/echo-upper.so"},
           "active_connections": 3, "accepted_total": 10, "refused_total": 0,
           "bytes_received_total": 100, "bytes_sent_total": 1536,
           "datagrams_received_total": 0, "datagrams_sent_total": 0},
          {"name": "udp-echo", "address": "udp://127.0.0.1:8080", "transport": "udp",
           "plugin": {"name": "udp-echo", "version": "1.2.0", "abi": "1.0",
                      "file": "/usr/lib/x86_64-linux-gnu/ringd/plugins/udp-echo.so"},
           "active_connections": 0, "accepted_total": 0, "refused_total": 2,
           "bytes_received_total": 5000000, "bytes_sent_total": 5000000,
           "datagrams_received_total": 40, "datagrams_sent_total": 38}]})");
}

} // namespace

TEST_CASE("status: the daemon, its configuration, then each listener's traffic")
{
    CHECK(format_status(example_status()) ==
          "ringd 0.1.0 (ABI 1.1), pid 1234, serving, up 5m12s, 2 workers\n"
          "config /etc/ringd/ringd.yaml (+1 included file); last reload 2026-12-08T00:00:00Z: ok\n"
          "\n"
          "NAME      ADDRESS               PLUGIN            ACTIVE  ACCEPTED  REFUSED  BYTES IN  BYTES OUT  DGRAMS IN"
          "  DGRAMS OUT\n"
          "echo      tcp://127.0.0.1:8080  echo-upper 1.0.0       3        10        0     100 B    1.5 KiB          -"
          "           -\n"
          "udp-echo  udp://127.0.0.1:8080  udp-echo 1.2.0         -         -        2   4.8 MiB    4.8 MiB         40"
          "          38\n");
}

TEST_CASE("status: datagram columns only when there is a udp listener")
{
    json status = example_status();
    status["listeners"].erase(1);
    const std::string text = format_status(status);
    CHECK(text.find("DGRAMS") == std::string::npos);
    CHECK(text.find("echo      tcp://127.0.0.1:8080  echo-upper 1.0.0") == std::string::npos); // narrower now
    CHECK(text.find("echo  tcp://127.0.0.1:8080  echo-upper 1.0.0       3        10        0     100 B    1.5 KiB\n") !=
          std::string::npos);
}

TEST_CASE("status: a failed reload lists its errors; a draining daemon says so")
{
    json status = example_status();
    status["state"] = "draining";
    status["workers"] = 1;
    status["config"]["files"] = json::array({"/etc/ringd/ringd.yaml"});
    status["config"]["last_reload"] = {{"time", "2026-12-08T01:02:03Z"},
                                       {"result", "error"},
                                       {"errors", {"/etc/ringd/ringd.yaml:3:5: unknown key 'wrkers'", "second"}}};
    const std::string text = format_status(status);
    CHECK(text.starts_with("ringd 0.1.0 (ABI 1.1), pid 1234, draining, up 5m12s, 1 worker\n"
                           "config /etc/ringd/ringd.yaml; last reload 2026-12-08T01:02:03Z failed, the configuration "
                           "before it is serving:\n"
                           "  /etc/ringd/ringd.yaml:3:5: unknown key 'wrkers'\n"
                           "  second\n\n"));
    status["config"]["last_reload"] = nullptr;
    CHECK(format_status(status).find("config /etc/ringd/ringd.yaml; not reloaded since start\n") != std::string::npos);
}

TEST_CASE("status: missing or mistyped fields print as -, unknown fields are ignored")
{
    const json sparse = json::parse(R"({"future_field": {"x": 1}, "pid": "1234",
        "listeners": [{"name": "a", "plugin": {"name": "p"}, "accepted_total": -1, "bytes_sent_total": "many",
                       "shiny_new_counter": 7}]})");
    CHECK(format_status(sparse) == "ringd -, pid -, state unknown\n"
                                   "config -; not reloaded since start\n"
                                   "\n"
                                   "NAME  ADDRESS  PLUGIN  ACTIVE  ACCEPTED  REFUSED  BYTES IN  BYTES OUT\n"
                                   "a     -        p            -        -1        -         -          -\n");
    CHECK(format_status(json::object()).ends_with("\nno listeners\n"));
    CHECK(format_listeners(json::object()) == "no listeners\n");
}

TEST_CASE("listeners: address and plugin of each")
{
    CHECK(format_listeners(example_status()) ==
          "NAME      TRANSPORT  ADDRESS               PLUGIN      VERSION  ABI  FILE\n"
          "echo      tcp        tcp://127.0.0.1:8080  echo-upper  1.0.0    1.1  "
          "/usr/lib/x86_64-linux-gnu/ringd/plugins/echo-upper.so\n"
          "udp-echo  udp        udp://127.0.0.1:8080  udp-echo    1.2.0    1.0  "
          "/usr/lib/x86_64-linux-gnu/ringd/plugins/udp-echo.so\n");
}

TEST_CASE("the /status body must be a JSON object with a listeners array")
{
    CHECK(parse_status(R"({"state": "serving"})")["state"] == "serving");
    CHECK(parse_status(R"({"listeners": null})").is_object());
    CHECK_THROWS_MATCHES(parse_status("<html>"), BadResponse, Catch::Message("/status is not valid JSON"));
    CHECK_THROWS_MATCHES(parse_status("[1]"), BadResponse, Catch::Message("/status is not a JSON object"));
    CHECK_THROWS_MATCHES(parse_status(R"({"listeners": {}})"), BadResponse,
                         Catch::Message("/status: \"listeners\" is not an array"));
}

TEST_CASE("drain acts only on a plausible pid")
{
    CHECK(daemon_pid(json{{"pid", 1234}}) == 1234);
    CHECK(daemon_pid(json{{"pid", 2}}) == 2);
    CHECK(daemon_pid(json{{"pid", 2147483647}}) == 2147483647);
    for (const json& bad : {json(nullptr), json(1), json(0), json(-5), json(2147483648LL), json("1234"), json(12.5)}) {
        INFO(bad.dump());
        CHECK_THROWS_MATCHES(daemon_pid(json{{"pid", bad}}), BadResponse,
                             Catch::Message("/status has no valid \"pid\" (got " + bad.dump() + ")"));
    }
    CHECK_THROWS_AS(daemon_pid(json::object()), BadResponse);
    CHECK(daemon_state(json{{"state", "draining"}}) == "draining");
    CHECK(daemon_state(json{{"state", 3}}).empty());
}

TEST_CASE("metrics --grep keeps the samples and HELP/TYPE lines of matching metric names")
{
    const std::string exposition = "# HELP ringd_connections_active Open connections.\n"
                                   "# TYPE ringd_connections_active gauge\n"
                                   "ringd_connections_active{listener=\"echo\"} 3\n"
                                   "# a comment\n"
                                   "\n"
                                   "# HELP ringd_connection_duration_seconds How long connections lasted.\n"
                                   "# TYPE ringd_connection_duration_seconds histogram\n"
                                   "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"0.1\"} 1\n"
                                   "ringd_connection_duration_seconds_sum{listener=\"echo\"} 0.05\n"
                                   "process_open_fds{note=\"ringd_connections\"} 12\n"
                                   "process_max_fds 20000";
    CHECK(filter_metrics(exposition, "ringd_connections_active") ==
          "# HELP ringd_connections_active Open connections.\n"
          "# TYPE ringd_connections_active gauge\n"
          "ringd_connections_active{listener=\"echo\"} 3\n");
    CHECK(filter_metrics(exposition, "duration") ==
          "# HELP ringd_connection_duration_seconds How long connections lasted.\n"
          "# TYPE ringd_connection_duration_seconds histogram\n"
          "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"0.1\"} 1\n"
          "ringd_connection_duration_seconds_sum{listener=\"echo\"} 0.05\n");
    // A label value is not the name; the last line needs no newline.
    CHECK(filter_metrics(exposition, "process_") == "process_open_fds{note=\"ringd_connections\"} 12\n"
                                                    "process_max_fds 20000\n");
    CHECK(filter_metrics(exposition, "nothing").empty());
}

TEST_CASE("byte counts and uptimes read at a glance")
{
    CHECK(format_bytes(0) == "0 B");
    CHECK(format_bytes(1023) == "1023 B");
    CHECK(format_bytes(1024) == "1.0 KiB");
    CHECK(format_bytes(1536) == "1.5 KiB");
    CHECK(format_bytes(150 * 1024) == "150 KiB");
    CHECK(format_bytes(5ull << 30) == "5.0 GiB");
    CHECK(format_bytes(std::numeric_limits<uint64_t>::max()) == "16.0 EiB");

    CHECK(format_uptime(0) == "0s");
    CHECK(format_uptime(59.9) == "59s");
    CHECK(format_uptime(60) == "1m00s");
    CHECK(format_uptime(3599) == "59m59s");
    CHECK(format_uptime(3600) == "1h00m");
    CHECK(format_uptime(86399) == "23h59m");
    CHECK(format_uptime(86400 * 12 + 3 * 3600) == "12d03h");
    CHECK(format_uptime(-4) == "0s");
    CHECK(format_uptime(std::nan("")) == "0s");
    CHECK(format_uptime(1e300) == "11574074d01h"); // clamped at 1e12 s, not undefined
}

TEST_CASE("tables: columns two spaces apart, numbers right-aligned, no trailing blanks")
{
    Table table({{"NAME"}, {"N", Table::Align::right}, {"NOTE"}});
    table.add_row({"a", "1", "x"});
    table.add_row({"long-name", "1000"}); // a missing cell is blank
    table.add_row({"ü", "2", "émoji"});   // widths count characters
    CHECK(table.render() == "NAME          N  NOTE\n"
                            "a             1  x\n"
                            "long-name  1000\n"
                            "ü             2  émoji\n");
    CHECK_THROWS_AS(table.add_row({"1", "2", "3", "4"}), std::invalid_argument);
}
