// HttpRequestParser: line by line, as the bytes arrive, within a fixed budget.
#include "observability/http_request.hpp"

#include <algorithm>

namespace ringd::observability {

namespace {

// RFC 9110 tchar: the characters of a token (method, header name).
bool is_tchar(char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text)
{
    return !text.empty() && std::all_of(text.begin(), text.end(), is_tchar);
}

bool is_visible_ascii(char c)
{
    return c >= 0x21 && c <= 0x7e;
}

// A header value's octets: visible ASCII, space, tab, and obs-text (0x80-0xff), never a control byte.
bool is_field_value_octet(char c)
{
    const auto u = static_cast<unsigned char>(c);
    return c == ' ' || c == '\t' || (u >= 0x21 && u != 0x7f);
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return (x >= 'A' && x <= 'Z' ? char(x + 32) : x) == (y >= 'A' && y <= 'Z' ? char(y + 32) : y);
           });
}

std::string_view trim_ows(std::string_view text)
{
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
        text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
        text.remove_suffix(1);
    return text;
}

// "HTTP/d.d": its minor version, or -1 (not an HTTP version at all), or -2 (an HTTP version other than 1.x).
int http_version(std::string_view text)
{
    auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (text.size() != 8 || !text.starts_with("HTTP/") || !digit(text[5]) || text[6] != '.' || !digit(text[7]))
        return -1;
    if (text[5] != '1' || (text[7] != '0' && text[7] != '1')) return -2;
    return text[7] - '0';
}

} // namespace

HttpRequestParser::State HttpRequestParser::feed(std::string_view bytes)
{
    if (state_ != State::incomplete) return state_;
    const std::size_t room = max_head_bytes - buffer_.size();
    const bool overflowed = bytes.size() > room;
    buffer_.append(bytes.substr(0, room));
    if (parse_lines() != State::incomplete) return state_;
    // Still no end of the head, and no room for it: the head is too large.
    if (overflowed || buffer_.size() == max_head_bytes)
        return fail(413, "the request head is larger than " + std::to_string(max_head_bytes) + " bytes");
    return state_;
}

HttpRequestParser::State HttpRequestParser::fail(int status, std::string reason)
{
    state_ = State::failed;
    error_status_ = status;
    error_reason_ = std::move(reason);
    return state_;
}

HttpRequestParser::State HttpRequestParser::parse_lines()
{
    while (state_ == State::incomplete) {
        const std::size_t lf = buffer_.find('\n', next_line_);
        if (lf == std::string::npos) return state_;
        if (lf == next_line_ || buffer_[lf - 1] != '\r') return fail(400, "a line ends in a bare LF, not CRLF");
        const std::string_view line(buffer_.data() + next_line_, lf - 1 - next_line_);
        next_line_ = lf + 1;
        if (!have_request_line_) {
            request_line(line);
        } else if (line.empty()) {
            end_of_head();
        } else {
            header_line(line);
        }
    }
    return state_;
}

HttpRequestParser::State HttpRequestParser::request_line(std::string_view line)
{
    have_request_line_ = true;
    const std::size_t first = line.find(' ');
    const std::size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos)
        return fail(400, "the request line is not METHOD SP TARGET SP VERSION");
    const std::string_view method = line.substr(0, first);
    const std::string_view target = line.substr(first + 1, second - first - 1);
    const std::string_view version = line.substr(second + 1);
    if (!is_token(method)) return fail(400, "the method is not a token");
    if (target.empty() || target[0] != '/' || !std::all_of(target.begin(), target.end(), is_visible_ascii))
        return fail(400, "the target is not a path starting with '/'");
    const int minor = http_version(version);
    if (minor == -1) return fail(400, "the version is not HTTP/1.0 or HTTP/1.1");
    if (minor == -2) return fail(505, "only HTTP/1.0 and HTTP/1.1 are served");
    if (method != "GET") return fail(405, "only GET is served");
    request_.method = method;
    request_.target = target;
    request_.path = target.substr(0, target.find('?'));
    request_.minor_version = minor;
    return state_;
}

HttpRequestParser::State HttpRequestParser::header_line(std::string_view line)
{
    if (line[0] == ' ' || line[0] == '\t') return fail(400, "folded header lines are not accepted");
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return fail(400, "a header line has no ':'");
    const std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return fail(400, "a header name is not a token (or has space before its ':')");
    const std::string_view value = trim_ows(line.substr(colon + 1));
    if (!std::all_of(value.begin(), value.end(), is_field_value_octet))
        return fail(400, "a header value holds a control character");
    if (iequals(name, "host")) {
        ++host_headers_;
    } else if (iequals(name, "transfer-encoding")) {
        return fail(400, "a GET request has no body (Transfer-Encoding)");
    } else if (iequals(name, "content-length")) {
        const bool zero = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) { return c == '0'; });
        if (!zero) return fail(400, "a GET request has no body (Content-Length)");
    }
    return state_;
}

HttpRequestParser::State HttpRequestParser::end_of_head()
{
    if (request_.minor_version == 1 && host_headers_ != 1)
        return fail(400, "an HTTP/1.1 request needs exactly one Host header");
    if (host_headers_ > 1) return fail(400, "more than one Host header");
    state_ = State::complete;
    return state_;
}

} // namespace ringd::observability
