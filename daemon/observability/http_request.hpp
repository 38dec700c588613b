// HttpRequestParser: the admin listener's strict, bounded reader of one HTTP/1.1 request head.
//
// Fed the bytes of a connection as they arrive, it parses complete lines as soon as they are there, so a
// malformed request line is answered before the client sends more. What it accepts (RFC 9112, narrowed to what
// a scraper, curl or ringdctl sends):
//   request line   METHOD SP origin-form SP HTTP/1.x CRLF, single spaces, method a token, target starting
//                  with '/' and made of visible ASCII (a query is kept apart; the path is what routes)
//   header lines   name ":" OWS value OWS CRLF, name a token, value visible ASCII, space, tab or obs-text
//   end            an empty line (CRLF); HTTP/1.1 needs exactly one Host header
// Refused, with the status to answer:
//   400  anything malformed: bare LF, a control byte, a folded header line (obs-fold), space before a colon,
//        no or two Host headers (HTTP/1.1), a Transfer-Encoding, a Content-Length other than 0 (GET has no body)
//   405  a well-formed request line whose method is not GET
//   413  a head longer than max_head_bytes (8 KiB) before its empty line
//   505  a well-formed version other than HTTP/1.0 and HTTP/1.1
// 408 (the client was too slow) is the caller's: the parser has no clock.
//
// Memory: at most max_head_bytes buffered, whatever is fed; bytes after the head are ignored (the admin
// listener answers one request per connection).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringd::observability {

struct HttpRequest {
    std::string method;
    std::string target; // as sent: path and query
    std::string path;   // target up to '?'
    int minor_version = 1;
};

class HttpRequestParser {
public:
    static constexpr std::size_t max_head_bytes = 8192;

    enum class State { incomplete, complete, failed };

    // Takes more bytes of the connection. Once complete or failed, further bytes change nothing.
    State feed(std::string_view bytes);
    [[nodiscard]] State state() const { return state_; }
    // complete: the request.
    [[nodiscard]] const HttpRequest& request() const { return request_; }
    // failed: the status to answer (400, 405, 413, 505) and why, for the response body.
    [[nodiscard]] int error_status() const { return error_status_; }
    [[nodiscard]] const std::string& error_reason() const { return error_reason_; }
    // Whether any byte has arrived (a connection closed before that needs no answer).
    [[nodiscard]] bool started() const { return !buffer_.empty(); }

private:
    State fail(int status, std::string reason);
    State parse_lines();
    State request_line(std::string_view line);
    State header_line(std::string_view line);
    State end_of_head();

    std::string buffer_;
    std::size_t next_line_ = 0; // where the first line not parsed yet starts
    bool have_request_line_ = false;
    unsigned host_headers_ = 0;
    State state_ = State::incomplete;
    HttpRequest request_;
    int error_status_ = 0;
    std::string error_reason_;
};

} // namespace ringd::observability
