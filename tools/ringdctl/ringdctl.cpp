// ringdctl: queries and controls a running ringd through its admin listener (GET /status, /metrics, /healthz)
// and, for `drain`, SIGUSR2 to the pid /status reports. Exit codes are for scripts; see ringdctl(8).
#include "admin_address.hpp"
#include "admin_client.hpp"
#include "common/config_units.hpp"
#include "views.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace {

using namespace ringd::ctl;
using Clock = std::chrono::steady_clock;

// The exit codes of ringdctl(8), EXIT STATUS.
enum ExitCode : int {
    exit_ok = 0,
    exit_unhealthy = 1,   // ringd answered, but is not serving (draining, stopping) or answered non-200
    exit_usage = 2,       // bad command line, unreadable -c file, a malformed address
    exit_unreachable = 3, // no admin listener there, an unusable answer, or ringd cannot be signalled
};

constexpr auto drain_poll_interval = std::chrono::milliseconds(100);

struct Session {
    AdminAddress admin;
    Timeouts timeouts;

    [[nodiscard]] HttpResponse get(std::string_view path) const
    {
        try {
            return http_get(admin.endpoint, path, timeouts);
        } catch (const Unreachable& e) {
            throw Unreachable(std::string(e.what()) + " (address from " + admin.source + ")");
        }
    }
};

std::string first_line(std::string_view text)
{
    text = text.substr(0, text.find('\n'));
    while (!text.empty() && (text.back() == '\r' || text.back() == ' '))
        text.remove_suffix(1);
    return std::string(text);
}

// A non-200 answer to a document request: say what came back, exit 1.
int report_not_ok(const Session& session, std::string_view path, const HttpResponse& response)
{
    std::string message = session.admin.endpoint.text + std::string(path) + " answered " + response.status_line();
    if (const std::string body = first_line(response.body); !body.empty()) message += ": " + body;
    std::cerr << "ringdctl: " << message << '\n';
    return exit_unhealthy;
}

std::chrono::milliseconds duration_option(const std::string& text, const char* option, bool zero_allowed)
{
    std::chrono::milliseconds duration{};
    try {
        duration = ringd::plugin_common::parse_duration(text);
    } catch (const std::invalid_argument& e) {
        throw UsageError(std::string(option) + ": " + e.what());
    }
    if (duration.count() == 0 && !zero_allowed) throw UsageError(std::string(option) + " must be longer than 0");
    return duration;
}

ConfigFile read_config(const std::string& path, bool named_by_user)
{
    ConfigFile config{path, named_by_user, std::nullopt, {}};
    errno = 0;
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (in && !in.bad()) {
        config.text = text.str();
    } else {
        config.read_error = std::strerror(errno != 0 ? errno : EIO);
    }
    return config;
}

int run_status(const Session& session, bool json)
{
    const HttpResponse response = session.get("/status");
    if (response.status != 200) return report_not_ok(session, "/status", response);
    const nlohmann::json status = parse_status(response.body);
    if (json) {
        std::cout << response.body << (response.body.ends_with('\n') ? "" : "\n");
    } else {
        std::cout << format_status(status);
    }
    return daemon_state(status) == "serving" ? exit_ok : exit_unhealthy;
}

int run_listeners(const Session& session, bool json)
{
    const HttpResponse response = session.get("/status");
    if (response.status != 200) return report_not_ok(session, "/status", response);
    const nlohmann::json status = parse_status(response.body);
    if (json) {
        const auto it = status.find("listeners");
        std::cout << (it == status.end() ? nlohmann::json::array() : *it).dump() << '\n';
    } else {
        std::cout << format_listeners(status);
    }
    return exit_ok;
}

int run_metrics(const Session& session, const std::string& grep)
{
    const HttpResponse response = session.get("/metrics");
    if (response.status != 200) return report_not_ok(session, "/metrics", response);
    if (grep.empty()) {
        std::cout << response.body;
        return exit_ok;
    }
    const std::string matching = filter_metrics(response.body, grep);
    if (matching.empty()) std::cerr << "ringdctl: no metric name contains \"" << grep << "\"\n";
    std::cout << matching;
    return exit_ok;
}

int run_health(const Session& session)
{
    const HttpResponse response = session.get("/healthz");
    const std::string body = first_line(response.body);
    std::cout << (body.empty() ? response.status_line() : body) << '\n';
    return response.status == 200 ? exit_ok : exit_unhealthy;
}

// The process that /status names must be a ringd on this host: SIGUSR2 kills a process that does not handle it.
void check_is_local_ringd(const Session& session, int pid)
{
    if (!is_local(session.admin.endpoint))
        throw UsageError("drain signals ringd's pid, so it works only on ringd's own host; " +
                         session.admin.endpoint.text + " is not an address of this host");
    std::ifstream comm_file("/proc/" + std::to_string(pid) + "/comm");
    std::string comm;
    if (!std::getline(comm_file, comm))
        throw Unreachable("/status names pid " + std::to_string(pid) +
                          ", but this host has no such process (is ringd in another PID namespace?)");
    if (comm != "ringd")
        throw Unreachable("/status names pid " + std::to_string(pid) + ", which is \"" + comm +
                          "\", not ringd: not signalling it");
}

int run_drain(const Session& session, std::chrono::milliseconds timeout)
{
    const HttpResponse response = session.get("/status");
    if (response.status != 200) return report_not_ok(session, "/status", response);
    const int pid = daemon_pid(parse_status(response.body));
    check_is_local_ringd(session, pid);
    if (::kill(pid, SIGUSR2) != 0)
        throw Unreachable("cannot signal ringd (pid " + std::to_string(pid) + "): " + std::strerror(errno) +
                          (errno == EPERM ? " (run ringdctl as root or as ringd's user)" : ""));
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        const HttpResponse health = session.get("/healthz");
        if (health.status == 503) {
            std::cout << "ringd (pid " << pid << ") is draining: /healthz answers 503; after drain_grace its "
                      << "listeners stop accepting, and open connections go on\n";
            return exit_ok;
        }
        if (Clock::now() >= deadline) {
            std::cerr << "ringdctl: sent SIGUSR2 to ringd (pid " << pid << "), but /healthz still answers "
                      << health.status_line() << " after " << timeout.count() << " ms\n";
            return exit_unhealthy;
        }
        std::this_thread::sleep_for(std::min<Clock::duration>(drain_poll_interval, deadline - Clock::now()));
    }
}

constexpr const char* footer =
    R"(Admin address: --admin URL, else $RINGD_ADMIN, else admin.listen in the -c file (default
/etc/ringd/ringd.yaml), else tcp://127.0.0.1:9180. URL: tcp://HOST:PORT, tcp://[IPv6]:PORT, unix:///PATH, unix:@NAME.

Exit status: 0 ok; 1 ringd answered but is not serving (draining, stopping) or answered an error;
2 usage error; 3 the admin listener cannot be reached, its answer is unusable, or ringd cannot be signalled.
See ringdctl(8).)";

int run(int argc, char** argv)
{
    CLI::App app{"ringdctl: query and control ringd through its admin listener", "ringdctl"};
    app.footer(footer);
    app.require_subcommand(1);
    app.fallthrough(); // global options may also follow the subcommand
    app.set_version_flag("-V,--version", std::string("ringdctl ") + RINGD_VERSION);
    std::string admin_url;
    std::string config_path(default_config_file);
    std::string request_timeout = "5s";
    bool json = false;
    app.add_option("-a,--admin", admin_url, "admin listener URL (overrides RINGD_ADMIN and the config file)")
        ->option_text("URL");
    CLI::Option* config_option =
        app.add_option("-c,--config", config_path, "ringd's config file, read for admin.listen")
            ->option_text("FILE (/etc/ringd/ringd.yaml)");
    app.add_option("--request-timeout", request_timeout, "bound on connecting and on each response (500ms, 5s)")
        ->option_text("DURATION (5s)");
    app.add_flag("--json", json, "status, listeners: print the JSON instead of a table");

    CLI::App* status = app.add_subcommand("status", "the daemon and its listeners' traffic (exit 1 unless serving)");
    CLI::App* listeners = app.add_subcommand("listeners", "the listeners: address, plugin, version, file");
    CLI::App* metrics = app.add_subcommand("metrics", "the Prometheus text of /metrics");
    std::string grep;
    metrics->add_option("--grep", grep, "only the metrics whose name contains NAME")->option_text("NAME");
    CLI::App* drain = app.add_subcommand("drain", "SIGUSR2 to ringd, then wait until /healthz answers 503");
    std::string drain_timeout = "10s";
    drain->add_option("--timeout", drain_timeout, "how long to wait for /healthz to answer 503")
        ->option_text("DURATION (10s)");
    CLI::App* health = app.add_subcommand("health", "GET /healthz: exit 0 if serving, 1 if not");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? exit_ok : exit_usage;
    }

    const char* env = std::getenv("RINGD_ADMIN");
    const bool config_named = config_option->count() > 0;
    // The config file is read only when the address has to come from it.
    const bool needs_config = admin_url.empty() && (env == nullptr || *env == '\0');
    const ConfigFile config = needs_config ? read_config(config_path, config_named)
                                           : ConfigFile{config_path, config_named, std::string(), {}};
    const std::chrono::milliseconds request_bound = duration_option(request_timeout, "--request-timeout", false);
    const Timeouts timeouts{request_bound, request_bound};
    const Session session{discover_admin(admin_url, env ? std::optional<std::string_view>(env) : std::nullopt, config),
                          timeouts};
    if (*status) return run_status(session, json);
    if (*listeners) return run_listeners(session, json);
    if (*metrics) return run_metrics(session, grep);
    if (*drain) return run_drain(session, duration_option(drain_timeout, "--timeout", true));
    if (*health) return run_health(session);
    return exit_usage; // require_subcommand(1) makes this unreachable
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "ringdctl: " << e.what() << '\n';
        return exit_usage;
    } catch (const std::exception& e) {
        // Unreachable, BadResponse, and anything unexpected: nothing usable came back from ringd.
        std::cerr << "ringdctl: " << e.what() << '\n';
        return exit_unreachable;
    }
}
