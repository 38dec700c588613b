// The HTTP/1.1 ringdctl speaks to the admin listener: one GET per connection (`Connection: close`), and a
// strict parser for the response. Bodies are delimited by Content-Length or by the server closing the
// connection; chunked transfer coding is refused (the admin listener never uses it). Pure logic, unit-tested.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringd::ctl {

// The server answered something that is not a usable HTTP response (or nothing at all): ringdctl exits 3.
class BadResponse : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

inline constexpr std::size_t max_header_bytes = 64 * 1024;
inline constexpr std::size_t max_body_bytes = 16 * 1024 * 1024;

struct HttpResponse {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers; // names in lower case, values trimmed
    std::string body;

    // The first header of that name (give it in lower case).
    [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_name) const;
    // "503 Service Unavailable", for messages.
    [[nodiscard]] std::string status_line() const;
};

// "GET <path> HTTP/1.1" with Host, User-Agent, Accept and Connection: close.
[[nodiscard]] std::string get_request(std::string_view path, std::string_view host, std::string_view user_agent);

// Parses the bytes received so far. Returns the response once it is complete, nullopt while more bytes are
// needed; `closed` says the server has closed its side, so no more will come. Throws BadResponse for anything
// malformed or over the size limits above, and for a connection closed before the response is complete.
[[nodiscard]] std::optional<HttpResponse> parse_response(std::string_view received, bool closed);

} // namespace ringd::ctl
