// Building ringdctl's request and parsing the admin listener's response; see http_response.hpp.
#include "http_response.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace ringd::ctl {
namespace {

constexpr std::string_view crlf = "\r\n";

// Bytes of a response as they may appear in a message: printable ASCII kept, the rest as \xNN.
std::string printable(std::string_view bytes, std::size_t max_len = 40)
{
    std::string out;
    for (unsigned char c : bytes.substr(0, max_len)) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            constexpr char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    if (bytes.size() > max_len) out += "...";
    return out;
}

std::string lower(std::string_view text)
{
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    return out;
}

std::string_view trim(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

// RFC 9110 token characters, for header names.
bool is_token(std::string_view text)
{
    constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
    return !text.empty() && std::all_of(text.begin(), text.end(), [&](unsigned char c) {
        return std::isalnum(c) != 0 || specials.find(char(c)) != std::string_view::npos;
    });
}

std::optional<std::size_t> decimal(std::string_view digits)
{
    std::size_t value = 0;
    const char* end = digits.data() + digits.size();
    const auto [rest, ec] = std::from_chars(digits.data(), end, value);
    if (digits.empty() || ec != std::errc() || rest != end) return std::nullopt;
    return value;
}

// "HTTP/1.1 200 OK" (the reason may be empty, with or without the space before it).
void parse_status_line(std::string_view line, HttpResponse& response)
{
    const auto bad = [&] { return BadResponse("malformed status line \"" + printable(line) + "\""); };
    if (line.size() < 12 || !line.starts_with("HTTP/1.") || line[8] != ' ') throw bad();
    const std::optional<std::size_t> status = decimal(line.substr(9, 3));
    if (!status || *status < 100 || *status > 599 || (line.size() > 12 && line[12] != ' ')) throw bad();
    response.status = static_cast<int>(*status);
    response.reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view());
}

void parse_header_line(std::string_view line, HttpResponse& response)
{
    if (line.starts_with(' ') || line.starts_with('\t'))
        throw BadResponse("obsolete header line folding in \"" + printable(line) + "\"");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
        throw BadResponse("malformed header line \"" + printable(line) + "\"");
    const std::string_view value = trim(line.substr(colon + 1));
    if (std::any_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 && c != '\t'; }))
        throw BadResponse("control character in header line \"" + printable(line) + "\"");
    response.headers.emplace_back(lower(line.substr(0, colon)), std::string(value));
}

// The body length the headers announce, or nullopt when the body runs to the end of the connection.
std::optional<std::size_t> announced_length(const HttpResponse& response)
{
    if (response.header("transfer-encoding"))
        throw BadResponse("the response uses Transfer-Encoding: " + std::string(*response.header("transfer-encoding")) +
                          ", which ringdctl does not support (the admin listener sends Content-Length)");
    std::optional<std::size_t> length;
    for (const auto& [name, value] : response.headers) {
        if (name != "content-length") continue;
        const std::optional<std::size_t> n = decimal(value);
        if (!n) throw BadResponse("malformed Content-Length \"" + printable(value) + "\"");
        if (length && *length != *n) throw BadResponse("conflicting Content-Length headers");
        length = n;
    }
    if (length && *length > max_body_bytes)
        throw BadResponse("the response body (" + std::to_string(*length) + " bytes) is larger than 16 MiB");
    return length;
}

} // namespace

std::optional<std::string_view> HttpResponse::header(std::string_view lower_name) const
{
    for (const auto& [name, value] : headers) {
        if (name == lower_name) return value;
    }
    return std::nullopt;
}

std::string HttpResponse::status_line() const
{
    return reason.empty() ? std::to_string(status) : std::to_string(status) + " " + reason;
}

std::string get_request(std::string_view path, std::string_view host, std::string_view user_agent)
{
    std::string request = "GET ";
    request.append(path).append(" HTTP/1.1\r\nHost: ").append(host).append("\r\nUser-Agent: ").append(user_agent);
    request.append("\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    return request;
}

std::optional<HttpResponse> parse_response(std::string_view received, bool closed)
{
    // Something that is not HTTP is reported at once, not after waiting for a header end that never comes.
    if (!received.starts_with(std::string_view("HTTP/").substr(0, std::min<std::size_t>(received.size(), 5))))
        throw BadResponse("not an HTTP response: \"" + printable(received) + "\"");
    const std::size_t header_end = received.find("\r\n\r\n");
    if (header_end == std::string_view::npos || header_end > max_header_bytes) {
        if (received.size() > max_header_bytes) throw BadResponse("the response header is longer than 64 KiB");
        if (!closed) return std::nullopt;
        throw BadResponse(received.empty() ? "the server closed the connection without answering"
                                           : "the server closed the connection in the middle of the response header");
    }
    HttpResponse response;
    std::string_view head = received.substr(0, header_end + crlf.size());
    std::size_t eol = head.find(crlf);
    parse_status_line(head.substr(0, eol), response);
    for (head.remove_prefix(eol + crlf.size()); !head.empty(); head.remove_prefix(eol + crlf.size())) {
        eol = head.find(crlf);
        parse_header_line(head.substr(0, eol), response);
    }
    if (response.status < 200) throw BadResponse("unexpected interim response " + response.status_line() + " to a GET");
    const std::string_view body = received.substr(header_end + 4);
    if (response.status == 204 || response.status == 304) return response;
    if (const std::optional<std::size_t> length = announced_length(response)) {
        if (body.size() < *length) {
            if (!closed) return std::nullopt;
            throw BadResponse("the server closed the connection after " + std::to_string(body.size()) + " of " +
                              std::to_string(*length) + " body bytes");
        }
        response.body = std::string(body.substr(0, *length));
        return response;
    }
    if (body.size() > max_body_bytes) throw BadResponse("the response body is larger than 16 MiB");
    if (!closed) return std::nullopt;
    response.body = std::string(body);
    return response;
}

} // namespace ringd::ctl
