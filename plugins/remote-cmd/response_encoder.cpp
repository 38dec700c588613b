// Response layouts; see response_encoder.hpp. Header JSON keys come out in a fixed, documented order
// (ordered_json) so that captures are readable and diffable.
#include "response_encoder.hpp"

#include <limits>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace ringd::remote_cmd {
namespace {

using Json = nlohmann::ordered_json;

void put_le32(std::string& out, uint32_t v)
{
    for (int shift = 0; shift < 32; shift += 8)
        out += static_cast<char>((v >> shift) & 0xff);
}

void put_be32(std::string& out, uint32_t v)
{
    for (int shift = 24; shift >= 0; shift -= 8)
        out += static_cast<char>((v >> shift) & 0xff);
}

// Both length fields are at most INT32_MAX (json-header and size-prefixed say "signed"); max_output is capped
// far below that at config time, so this only guards against a broken invariant.
uint32_t checked_length(std::size_t n)
{
    if (n > static_cast<std::size_t>(std::numeric_limits<int32_t>::max())) {
        throw std::length_error("remote-cmd: response part too large to frame");
    }
    return static_cast<uint32_t>(n);
}

// Error text may echo request bytes (a command name), which need not be UTF-8: replace, never throw.
std::string dump(const Json& j)
{
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The exit status a shell would report: 128+N for a signal.
int shell_status(const CommandResult& r)
{
    if (r.signal != 0) return 128 + r.signal;
    return r.exit_code;
}

std::string error_text(const Failure& f)
{
    return "ringd: " + f.message + "\n";
}

std::string frame(Protocol protocol, const Json& header, std::string_view out, std::string_view err)
{
    std::string bytes;
    switch (protocol) {
    case Protocol::size_prefixed:
        bytes.reserve(4 + out.size() + err.size());
        put_le32(bytes, checked_length(out.size() + err.size()));
        break;
    case Protocol::json_header: {
        const std::string h = dump(header);
        bytes.reserve(4 + h.size() + out.size() + err.size());
        put_le32(bytes, checked_length(h.size()));
        bytes += h;
        break;
    }
    case Protocol::framed: {
        const std::string h = dump(header);
        bytes.reserve(4 + h.size() + out.size() + err.size());
        put_be32(bytes, checked_length(h.size()));
        bytes += h;
        break;
    }
    }
    bytes.append(out);
    bytes.append(err);
    return bytes;
}

} // namespace

std::string_view error_code_name(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::bad_request:
        return "bad_request";
    case ErrorKind::too_large:
        return "too_large";
    case ErrorKind::not_allowed:
        return "not_allowed";
    case ErrorKind::not_found:
        return "not_found";
    case ErrorKind::cannot_execute:
        return "cannot_execute";
    case ErrorKind::busy:
        return "busy";
    case ErrorKind::unauthorized:
        return "unauthorized";
    case ErrorKind::forbidden:
        return "forbidden";
    case ErrorKind::internal:
        return "internal";
    }
    return "internal";
}

int error_exit_code(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::not_found:
        return 127;
    case ErrorKind::not_allowed:
    case ErrorKind::cannot_execute:
    case ErrorKind::unauthorized:
    case ErrorKind::forbidden:
        return 126;
    default:
        return 125;
    }
}

std::string encode_result(Protocol protocol, const CommandResult& r)
{
    Json h;
    if (protocol == Protocol::framed) {
        h["ok"] = true;
        h["exit_code"] = r.signal == 0 && r.exit_code >= 0 ? Json(r.exit_code) : Json(nullptr);
        h["signal"] = r.signal != 0 ? Json(r.signal) : Json(nullptr);
        h["stdout_size"] = r.out.size();
        h["stderr_size"] = r.err.size();
    } else if (protocol == Protocol::json_header) {
        h["total_size"] = r.out.size() + r.err.size();
        h["stdout_size"] = r.out.size();
        h["stderr_size"] = r.err.size();
        h["exit_code"] = shell_status(r);
        h["signal"] = r.signal != 0 ? Json(r.signal) : Json(nullptr);
    }
    h["timed_out"] = r.timed_out;
    h["truncated"] = r.truncated;
    h["duration_ms"] = r.duration_ms;
    return frame(protocol, h, r.out, r.err);
}

std::string encode_failure(Protocol protocol, const Failure& f)
{
    Json h;
    if (protocol == Protocol::framed) {
        h["ok"] = false;
        h["error"] = f.message;
        h["error_code"] = error_code_name(f.kind);
        h["exit_code"] = nullptr;
        h["signal"] = nullptr;
        h["stdout_size"] = 0;
        h["stderr_size"] = 0;
        h["timed_out"] = false;
        h["truncated"] = false;
        h["duration_ms"] = 0;
        return frame(protocol, h, {}, {});
    }
    const std::string text = error_text(f);
    h["total_size"] = text.size();
    h["stdout_size"] = 0;
    h["stderr_size"] = text.size();
    h["exit_code"] = error_exit_code(f.kind);
    h["signal"] = nullptr;
    h["timed_out"] = false;
    h["truncated"] = false;
    h["duration_ms"] = 0;
    h["error"] = f.message;
    h["error_code"] = error_code_name(f.kind);
    return frame(protocol, h, {}, text);
}

} // namespace ringd::remote_cmd
