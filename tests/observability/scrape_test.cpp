// The /metrics and /status documents of a made-up daemon (listener stats counted by hand, worker readings and
// process figures invented), and the routing of admin requests.
#include "observability/admin_routes.hpp"
#include "observability/scrape.hpp"
#include "plugin_host/plugin.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace ringd;
using namespace ringd::observability;

namespace {

int no_create(const ringd_instance_args*, void**, ringd_error*)
{
    return -1;
}
void no_destroy(void*) {}

// A plugin instance that registered a counter and a gauge, like a plugin's create() would.
std::shared_ptr<plugin_host::PluginInstance> metered_instance()
{
    static ringd_plugin_descriptor d = [] {
        ringd_plugin_descriptor x{};
        x.abi_version = RINGD_PLUGIN_ABI_VERSION;
        x.struct_size = sizeof x;
        x.name = "metered";
        x.version = "2.0.0";
        x.socket_kinds = RINGD_KIND_STREAM;
        x.create = &no_create;
        x.destroy = &no_destroy;
        return x;
    }();
    auto instance = plugin_host::PluginInstance::create_builtin(
        plugin_host::PluginLibrary::builtin("metered", &d),
        plugin_host::InstanceSpec{"echo", "{}", RINGD_KIND_STREAM, 2, nullptr}, [](const ringd_instance_args& args) {
            REQUIRE(args.listener->instance->register_metric("messages", RINGD_METRIC_COUNTER, "Messages seen.") == 0);
            REQUIRE(args.listener->instance->register_metric("rooms", RINGD_METRIC_GAUGE, "") == 1);
            REQUIRE(args.listener->instance->register_metric("errors", RINGD_METRIC_COUNTER, "clashes") == 2);
            return static_cast<void*>(nullptr);
        });
    instance->metric_cells().add(0, 7, 1u);
    instance->metric_cells().add(1, -2, std::nullopt);
    return instance;
}

struct Daemon {
    std::shared_ptr<engine::ListenerStats> echo = std::make_shared<engine::ListenerStats>("echo", 2);
    std::shared_ptr<engine::ListenerStats> dns = std::make_shared<engine::ListenerStats>("dns", 2);
    std::shared_ptr<plugin_host::PluginInstance> plugin = metered_instance();
    DaemonSnapshot snapshot;
    std::vector<engine::WorkerReading> workers;
    ProcessStats process;
    AccessLogReading access_log;

    Daemon()
    {
        engine::ListenerCells& w0 = echo->cells(0);
        engine::ListenerCells& w1 = echo->cells(1);
        w0.accepted.add(3);
        w1.accepted.add(2);
        w0.count_close(RINGD_CLOSE_PEER, std::chrono::milliseconds(2));
        w1.count_close(RINGD_CLOSE_IDLE, std::chrono::seconds(70));
        w0.refused[std::size_t(engine::Refusal::acl)].add();
        w1.refused[std::size_t(engine::Refusal::max_connections)].add(4);
        w0.bytes_received.add(100);
        w1.bytes_sent.add(250);
        w0.outbound_started.add(2);
        w0.outbound_opened.add(1);
        w0.outbound_failed[std::size_t(engine::OutboundFailure::refused)].add();
        w0.outbound_closed.add();
        dns->cells(1).datagrams_received.add(9);
        dns->cells(1).datagrams_sent.add(8);
        dns->cells(0).datagrams_dropped[std::size_t(engine::DatagramDrop::acl)].add();
        dns->cells(0).bytes_received.add(90);

        snapshot.workers = 2;
        snapshot.config_file = "/etc/ringd/ringd.yaml";
        snapshot.config_files = {"/etc/ringd/ringd.yaml", "/etc/ringd/conf.d/a.yaml"};
        snapshot.reloads_ok = 2;
        snapshot.reloads_failed = 1;
        snapshot.last_reload =
            ReloadOutcome{std::chrono::system_clock::from_time_t(1733616000), false, {"ringd.yaml:3:5: bad \"thing\""}};
        snapshot.last_config_success = std::chrono::system_clock::from_time_t(1733600000);
        snapshot.listeners.push_back(ListenerView{"echo", "tcp://127.0.0.1:8080", "tcp", "metered", "2.0.0", "1.1",
                                                  "/usr/lib/ringd/plugins/metered.so", echo, plugin});
        snapshot.listeners.push_back(ListenerView{"dns", "udp://127.0.0.1:5353", "udp", "udp-echo", "1.0.0", "1.0",
                                                  "/usr/lib/ringd/plugins/udp-echo.so", dns, nullptr});
        engine::WorkerReading a;
        a.index = 0;
        a.submissions = 10;
        a.busy_ns = 1'500'000'000;
        a.recv_rearms = 4;
        engine::WorkerReading b;
        b.index = 1;
        b.cq_overflows = 3;
        b.datagram_buffers_exhausted = 6;
        workers = {a, b};
        process.cpu_seconds = 1.25;
        process.open_fds = 12;
        process.max_fds = 20000;
        access_log = {.written = 41, .dropped = 2};
    }
    std::string metrics() const { return render_metrics(ScrapeInput{&snapshot, workers, process, access_log}); }
};

std::vector<std::string> lines_of(const std::string& text)
{
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

bool has_line(const std::string& text, const std::string& line)
{
    for (const auto& l : lines_of(text)) {
        if (l == line) return true;
    }
    return false;
}

} // namespace

TEST_CASE("every family has HELP and TYPE once, and every sample follows its own family's TYPE")
{
    const std::string text = Daemon().metrics();
    std::set<std::string> families;
    std::string family;
    std::string type;
    for (const std::string& line : lines_of(text)) {
        INFO(line);
        if (line.starts_with("# HELP ")) continue;
        if (line.starts_with("# TYPE ")) {
            std::istringstream in(line.substr(7));
            in >> family >> type;
            CHECK(families.insert(family).second);
            continue;
        }
        const std::string name = line.substr(0, line.find_first_of("{ "));
        if (type == "histogram") {
            CHECK((name == family + "_bucket" || name == family + "_sum" || name == family + "_count"));
        } else {
            CHECK(name == family);
        }
        if (type == "counter") CHECK(family.ends_with("_total"));
    }
    CHECK(families.size() > 30);
}

TEST_CASE("the access log's counts are exported as they were read")
{
    const std::string text = Daemon().metrics();
    CHECK(has_line(text, "ringd_access_log_records_total 41"));
    CHECK(has_line(text, "ringd_access_log_dropped_total 2"));
}

TEST_CASE("listener metrics sum the workers' cells, per kind of listener")
{
    const std::string text = Daemon().metrics();
    CHECK(has_line(text, "ringd_connections_accepted_total{listener=\"echo\"} 5"));
    CHECK(has_line(text, "ringd_connections_active{listener=\"echo\"} 3"));
    CHECK(has_line(text, "ringd_connections_closed_total{listener=\"echo\",reason=\"peer\"} 1"));
    CHECK(has_line(text, "ringd_connections_closed_total{listener=\"echo\",reason=\"idle\"} 1"));
    CHECK(has_line(text, "ringd_connections_closed_total{listener=\"echo\",reason=\"shutdown\"} 0"));
    CHECK(has_line(text, "ringd_connections_refused_total{listener=\"echo\",reason=\"acl\"} 1"));
    CHECK(has_line(text, "ringd_connections_refused_total{listener=\"echo\",reason=\"max_connections\"} 4"));
    CHECK(has_line(text, "ringd_connections_refused_total{listener=\"echo\",reason=\"worker_slots\"} 0"));
    CHECK(has_line(text, "ringd_connections_refused_total{listener=\"echo\",reason=\"source_table_full\"} 0"));
    CHECK(has_line(text, "ringd_proxy_protocol_rejected_total{listener=\"echo\",reason=\"timeout\"} 0"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"0.001\"} 0"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"0.005\"} 1"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"60\"} 1"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"300\"} 2"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_bucket{listener=\"echo\",le=\"+Inf\"} 2"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_sum{listener=\"echo\"} 70.002"));
    CHECK(has_line(text, "ringd_connection_duration_seconds_count{listener=\"echo\"} 2"));
    CHECK(has_line(text, "ringd_bytes_received_total{listener=\"echo\"} 100"));
    CHECK(has_line(text, "ringd_bytes_sent_total{listener=\"echo\"} 250"));
    CHECK(has_line(text, "ringd_bytes_received_total{listener=\"dns\"} 90"));
    CHECK(has_line(text, "ringd_outbound_connections_opened_total{listener=\"echo\"} 1"));
    CHECK(has_line(text, "ringd_outbound_connections_failed_total{listener=\"echo\",reason=\"refused\"} 1"));
    CHECK(has_line(text, "ringd_outbound_connections_active{listener=\"echo\"} 1"));
    CHECK(has_line(text, "ringd_datagrams_received_total{listener=\"dns\"} 9"));
    CHECK(has_line(text, "ringd_datagrams_sent_total{listener=\"dns\"} 8"));
    CHECK(has_line(text, "ringd_datagrams_dropped_total{listener=\"dns\",reason=\"acl\"} 1"));
    CHECK(has_line(text, "ringd_datagrams_dropped_total{listener=\"dns\",reason=\"send_failed\"} 0"));
    CHECK(has_line(text, "ringd_plugin_errors_total{listener=\"dns\"} 0"));
    // Connection metrics are a stream listener's, datagram metrics a udp listener's.
    CHECK(text.find("ringd_connections_accepted_total{listener=\"dns\"}") == std::string::npos);
    CHECK(text.find("ringd_datagrams_received_total{listener=\"echo\"}") == std::string::npos);
}

TEST_CASE("worker, daemon and process metrics")
{
    const std::string text = Daemon().metrics();
    CHECK(has_line(text, "ringd_worker_submissions_total{worker=\"0\"} 10"));
    CHECK(has_line(text, "ringd_worker_cq_overflows_total{worker=\"1\"} 3"));
    CHECK(has_line(text, "ringd_worker_buffer_ring_exhausted_total{worker=\"1\",ring=\"datagram\"} 6"));
    CHECK(has_line(text, "ringd_worker_multishot_rearms_total{worker=\"0\",op=\"recv\"} 4"));
    CHECK(has_line(text, "ringd_worker_busy_seconds_total{worker=\"0\"} 1.5"));
    CHECK(has_line(text, "ringd_build_info{version=\"" + std::string(ringd_version()) + "\",abi=\"1.1\"} 1"));
    CHECK(has_line(text, "ringd_state{state=\"serving\"} 1"));
    CHECK(has_line(text, "ringd_state{state=\"draining\"} 0"));
    CHECK(has_line(text, "ringd_reloads_total{result=\"ok\"} 2"));
    CHECK(has_line(text, "ringd_reloads_total{result=\"error\"} 1"));
    CHECK(has_line(text, "ringd_config_last_reload_successful 0"));
    CHECK(has_line(text, "ringd_config_last_reload_success_timestamp_seconds 1733600000"));
    CHECK(has_line(text, "process_cpu_seconds_total 1.25"));
    CHECK(has_line(text, "process_open_fds 12"));
    CHECK(has_line(text, "process_max_fds 20000"));
    CHECK(text.find("process_resident_memory_bytes") == std::string::npos); // not read: not exported
}

TEST_CASE("plugin metrics: a counter gets _total, a name ringd uses is not overridden")
{
    const std::string text = Daemon().metrics();
    CHECK(has_line(text, "# TYPE ringd_plugin_messages_total counter"));
    CHECK(has_line(text, "# HELP ringd_plugin_messages_total Messages seen."));
    CHECK(has_line(text, "ringd_plugin_messages_total{listener=\"echo\"} 7"));
    CHECK(has_line(text, "# TYPE ringd_plugin_rooms gauge"));
    CHECK(has_line(text, "ringd_plugin_rooms{listener=\"echo\"} -2"));
    // "errors" would be ringd_plugin_errors_total, which is ringd's own: that one stays ringd's.
    CHECK(has_line(text, "ringd_plugin_errors_total{listener=\"echo\"} 0"));
    CHECK(text.find("clashes") == std::string::npos);
}

TEST_CASE("/status holds the snapshot in the documented schema")
{
    const Daemon d;
    const nlohmann::json doc = nlohmann::json::parse(render_status(StatusInput{&d.snapshot, 1234, 12.5}));
    CHECK(doc["version"] == ringd_version());
    CHECK(doc["abi"] == "1.1");
    CHECK(doc["pid"] == 1234);
    CHECK(doc["uptime_seconds"] == 12.5);
    CHECK(doc["state"] == "serving");
    CHECK(doc["workers"] == 2);
    CHECK(doc["config"]["file"] == "/etc/ringd/ringd.yaml");
    CHECK(doc["config"]["files"].size() == 2);
    CHECK(doc["config"]["last_reload"]["time"] == "2024-12-08T00:00:00Z");
    CHECK(doc["config"]["last_reload"]["result"] == "error");
    CHECK(doc["config"]["last_reload"]["errors"][0] == "ringd.yaml:3:5: bad \"thing\"");
    REQUIRE(doc["listeners"].size() == 2);
    const auto& echo = doc["listeners"][0];
    CHECK(echo["name"] == "echo");
    CHECK(echo["address"] == "tcp://127.0.0.1:8080");
    CHECK(echo["transport"] == "tcp");
    CHECK(echo["plugin"] == nlohmann::json{{"name", "metered"},
                                           {"version", "2.0.0"},
                                           {"abi", "1.1"},
                                           {"file", "/usr/lib/ringd/plugins/metered.so"}});
    CHECK(echo["active_connections"] == 3);
    CHECK(echo["accepted_total"] == 5);
    CHECK(echo["refused_total"] == 5);
    CHECK(echo["bytes_received_total"] == 100);
    CHECK(echo["bytes_sent_total"] == 250);
    CHECK(doc["listeners"][1]["datagrams_received_total"] == 9);
    CHECK(doc["listeners"][1]["datagrams_sent_total"] == 8);

    DaemonSnapshot fresh; // before any reload
    CHECK(nlohmann::json::parse(render_status(StatusInput{&fresh, 1, 0}))["config"]["last_reload"].is_null());
}

TEST_CASE("admin routes: /healthz follows the state, unknown paths are 404, every response closes")
{
    AdminContext context;
    HttpRequest request;
    request.method = "GET";
    request.path = "/healthz";
    HttpResponse r = answer(request, context);
    CHECK(r.status == 200);
    CHECK(r.body == "ok\n");
    auto draining = std::make_shared<DaemonSnapshot>();
    draining->state = DaemonState::draining;
    context.board.publish(draining);
    r = answer(request, context);
    CHECK(r.status == 503);
    CHECK(r.body == "draining\n");
    request.path = "/metrics";
    r = answer(request, context);
    CHECK(r.status == 200);
    CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
    CHECK(r.body.find("ringd_state{state=\"draining\"} 1") != std::string::npos);
    request.path = "/status";
    r = answer(request, context);
    CHECK(r.content_type == "application/json");
    CHECK(nlohmann::json::parse(r.body)["state"] == "draining");
    request.path = "/metricsx";
    CHECK(answer(request, context).status == 404);

    const std::string wire = serialize(error_response(405, "only GET"));
    CHECK(wire == "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain; charset=utf-8\r\n"
                  "Content-Length: 9\r\nCache-Control: no-store\r\nAllow: GET\r\nConnection: close\r\n\r\n"
                  "only GET\n");
}
