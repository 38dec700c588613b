// The admin listener's answers: which document a request gets, and the HTTP response that carries it.
//
//   GET /metrics  200, Prometheus text format 0.0.4
//   GET /healthz  200 "ok" while serving; 503 "draining" or "stopping" once a drain (SIGUSR2) or a stop began
//   GET /status   200, the JSON document of docs/metrics.md
//   anything else 404; a request the parser refused gets its status (400, 405, 413, 505), a slow one 408
// Every response closes the connection (`Connection: close`): one request per connection.
#pragma once

#include "observability/http_request.hpp"
#include "observability/snapshot.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringd::observability {

struct HttpResponse {
    int status = 200;
    std::string content_type = "text/plain; charset=utf-8";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers; // beyond the ones every response has
};

// The answer to a complete request, from the board's current snapshot and what is read live.
[[nodiscard]] HttpResponse answer(const HttpRequest& request, const AdminContext& context);
// A refused request: `status` with `reason` as a one-line plain-text body.
[[nodiscard]] HttpResponse error_response(int status, std::string_view reason);
// The bytes on the wire: status line, Content-Type, Content-Length, Cache-Control: no-store, Connection: close.
[[nodiscard]] std::string serialize(const HttpResponse& response);

} // namespace ringd::observability
