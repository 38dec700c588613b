// libFuzzer target: the admin listener's HTTP request head parser (daemon/observability/http_request.cpp).
//
// Checks, beyond "no crash, no sanitizer report", that the verdict does not depend on how the connection's bytes
// are cut into reads: the input (after its first byte, which picks a chunk size) is fed whole, then in chunks,
// and both must end in the same state with the same status; a failure's status is one the parser documents; a
// complete request is a GET of a path starting with '/', of HTTP/1.0 or 1.1.
#include "observability/http_request.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

using ringd::observability::HttpRequestParser;

namespace {

void check(bool condition)
{
    if (!condition) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) return 0;
    const std::size_t chunk = std::size_t(data[0] % 97) + 1;
    const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

    HttpRequestParser whole;
    (void)whole.feed(input);
    HttpRequestParser split;
    for (std::size_t at = 0; at < input.size(); at += chunk)
        (void)split.feed(input.substr(at, chunk));

    check(whole.state() == split.state());
    if (whole.state() == HttpRequestParser::State::failed) {
        const int status = whole.error_status();
        check(status == split.error_status());
        check(status == 400 || status == 405 || status == 413 || status == 505);
        check(!whole.error_reason().empty());
    } else if (whole.state() == HttpRequestParser::State::complete) {
        const auto& r = whole.request();
        check(r.method == "GET" && r.method == split.request().method);
        check(!r.path.empty() && r.path[0] == '/' && r.path == split.request().path);
        check(r.target.starts_with(r.path));
        check(r.minor_version == 0 || r.minor_version == 1);
    } else {
        // Undecided only while the head could still end within the budget.
        check(input.size() < HttpRequestParser::max_head_bytes);
    }
    return 0;
}
