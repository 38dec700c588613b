// Routing the admin listener's requests and writing their responses.
#include "observability/admin_routes.hpp"

#include "observability/scrape.hpp"

#include <tuple>
#include <unistd.h>

namespace ringd::observability {

namespace {

const char* status_text(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Error";
    }
}

HttpResponse metrics(const AdminContext& context, const DaemonSnapshot& snapshot)
{
    const std::vector<engine::WorkerReading> workers =
        context.read_workers ? context.read_workers() : std::vector<engine::WorkerReading>{};
    HttpResponse r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    AccessLogReading access_log;
    if (context.read_access_log) std::tie(access_log.written, access_log.dropped) = context.read_access_log();
    r.body = render_metrics(ScrapeInput{&snapshot, workers, read_process_stats(), access_log});
    return r;
}

HttpResponse health(const DaemonSnapshot& snapshot)
{
    HttpResponse r;
    if (snapshot.state == DaemonState::serving) {
        r.body = "ok\n";
    } else {
        r.status = 503;
        r.body = std::string(to_string(snapshot.state)) + "\n";
    }
    return r;
}

HttpResponse status(const AdminContext& context, const DaemonSnapshot& snapshot)
{
    HttpResponse r;
    r.content_type = "application/json";
    const double uptime =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - context.started_steady).count();
    r.body = render_status(StatusInput{&snapshot, ::getpid(), uptime});
    return r;
}

} // namespace

HttpResponse answer(const HttpRequest& request, const AdminContext& context)
{
    const std::shared_ptr<const DaemonSnapshot> snapshot = context.board.current();
    if (request.path == "/metrics") return metrics(context, *snapshot);
    if (request.path == "/healthz") return health(*snapshot);
    if (request.path == "/status") return status(context, *snapshot);
    return error_response(404, "not found; try /metrics, /healthz or /status");
}

HttpResponse error_response(int status, std::string_view reason)
{
    HttpResponse r;
    r.status = status;
    r.body = std::string(reason) + "\n";
    if (status == 405) r.headers.emplace_back("Allow", "GET");
    return r;
}

std::string serialize(const HttpResponse& response)
{
    std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + status_text(response.status) + "\r\n";
    out += "Content-Type: " + response.content_type + "\r\n";
    out += "Content-Length: " + std::to_string(response.body.size()) + "\r\n";
    out += "Cache-Control: no-store\r\n";
    for (const auto& [name, value] : response.headers)
        out += name + ": " + value + "\r\n";
    out += "Connection: close\r\n\r\n";
    out += response.body;
    return out;
}

} // namespace ringd::observability
