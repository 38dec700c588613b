// Formatting of access log records; see access_record.hpp.
#include "service/access_record.hpp"

#include <arpa/inet.h>
#include <cstddef>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/un.h>

namespace ringd::service {

namespace {

bool printable(unsigned char c)
{
    return c >= 0x20 && c < 0x7f;
}

void append_hex(std::string& out, unsigned char c)
{
    static constexpr char digits[] = "0123456789abcdef";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 0xf];
}

// Bytes outside printable ASCII (and '\', so that an escape cannot be faked) as \xNN.
std::string escape_unprintable(std::string_view text, bool escape_backslash)
{
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (!printable(c) || (escape_backslash && c == '\\')) {
            append_hex(out, c);
        } else {
            out += ch;
        }
    }
    return out;
}

std::string format_unix(const sockaddr_un& un, socklen_t len)
{
    const std::size_t path_offset = offsetof(sockaddr_un, sun_path);
    if (len <= path_offset) return "unix:";
    std::string_view name(un.sun_path, std::min<std::size_t>(len - path_offset, sizeof un.sun_path));
    if (name.front() == '\0') return "unix:@" + escape_unprintable(name.substr(1), true); // abstract: length-bounded
    name = name.substr(0, name.find('\0'));                                               // a path: NUL-terminated
    return "unix://" + escape_unprintable(name, true);
}

} // namespace

const char* to_string(AccessReason reason)
{
    switch (reason) {
    case AccessReason::peer:
        return "peer";
    case AccessReason::local:
        return "local";
    case AccessReason::idle:
        return "idle";
    case AccessReason::error:
        return "error";
    case AccessReason::shutdown:
        return "shutdown";
    case AccessReason::acl:
        return "acl";
    case AccessReason::max_connections:
        return "max_connections";
    case AccessReason::connection_slots:
        return "connection_slots";
    case AccessReason::max_connections_per_source:
        return "max_connections_per_source";
    case AccessReason::connection_rate_per_source:
        return "connection_rate_per_source";
    case AccessReason::source_table_full:
        return "source_table_full";
    case AccessReason::proxy_untrusted:
        return "proxy_untrusted";
    case AccessReason::proxy_timeout:
        return "proxy_timeout";
    case AccessReason::proxy_malformed:
        return "proxy_malformed";
    case AccessReason::proxy_incomplete:
        return "proxy_incomplete";
    }
    return "unknown";
}

const char* to_string(AccessDirection direction)
{
    return direction == AccessDirection::outbound ? "outbound" : "accepted";
}

std::string format_address(const SocketAddress& address)
{
    if (address.len == 0) return "-";
    char text[INET6_ADDRSTRLEN] = {};
    switch (address.storage.ss_family) {
    case AF_INET: {
        const auto& in = reinterpret_cast<const sockaddr_in&>(address.storage);
        inet_ntop(AF_INET, &in.sin_addr, text, sizeof text);
        return fmt::format("{}:{}", text, ntohs(in.sin_port));
    }
    case AF_INET6: {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address.storage);
        inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text);
        return fmt::format("[{}]:{}", text, ntohs(in6.sin6_port));
    }
    case AF_UNIX:
        return format_unix(reinterpret_cast<const sockaddr_un&>(address.storage), address.len);
    default:
        return "-";
    }
}

std::string format_duration_ms(const AccessRecord& record)
{
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(record.ended - record.started).count();
    const uint64_t positive = us > 0 ? uint64_t(us) : 0;
    return fmt::format("{}.{:03}", positive / 1000, positive % 1000);
}

std::string logfmt_value(std::string_view value)
{
    bool plain = !value.empty();
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        plain = plain && printable(c) && c != ' ' && c != '"' && c != '=' && c != '\\';
    }
    if (plain) return std::string(value);
    std::string out = "\"";
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += ch;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else if (!printable(c)) {
            append_hex(out, c);
        } else {
            out += ch;
        }
    }
    out += '"';
    return out;
}

std::string format_logfmt(const AccessRecord& record)
{
    return fmt::format("access listener={} plugin={} direction={} peer={} local={} duration_ms={} bytes_in={} "
                       "bytes_out={} reason={}",
                       logfmt_value(record.listener), logfmt_value(record.plugin), to_string(record.direction),
                       logfmt_value(format_address(record.peer)), logfmt_value(format_address(record.local)),
                       format_duration_ms(record), record.bytes_in, record.bytes_out, to_string(record.reason));
}

std::string format_summary(const AccessRecord& record)
{
    const bool outbound = record.direction == AccessDirection::outbound;
    // Who connected to whom: the client first, so an outbound connection reads "our socket -> upstream".
    const std::string from = format_address(outbound ? record.local : record.peer);
    const std::string to = format_address(outbound ? record.peer : record.local);
    std::string text = fmt::format("[{}] access: {}{} -> {} ", escape_unprintable(record.listener, false),
                                   outbound ? "outbound " : "", from, to);
    if (record.refused()) return text + fmt::format("refused ({})", to_string(record.reason));
    return text + fmt::format("closed ({}) after {} ms, {} bytes in, {} bytes out", to_string(record.reason),
                              format_duration_ms(record), record.bytes_in, record.bytes_out);
}

std::vector<std::string> journal_fields(const AccessRecord& record)
{
    return {
        "MESSAGE=" + format_summary(record),
        "PRIORITY=6",
        "SYSLOG_IDENTIFIER=ringd",
        "RINGD_ACCESS=1",
        "RINGD_LISTENER=" + escape_unprintable(record.listener, false),
        "RINGD_PLUGIN=" + escape_unprintable(record.plugin, false),
        std::string("RINGD_DIRECTION=") + to_string(record.direction),
        "RINGD_PEER=" + format_address(record.peer),
        "RINGD_LOCAL=" + format_address(record.local),
        "RINGD_DURATION_MS=" + format_duration_ms(record),
        "RINGD_BYTES_IN=" + std::to_string(record.bytes_in),
        "RINGD_BYTES_OUT=" + std::to_string(record.bytes_out),
        std::string("RINGD_CLOSE_REASON=") + to_string(record.reason),
    };
}

} // namespace ringd::service
