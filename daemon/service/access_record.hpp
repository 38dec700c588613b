// One access log record (docs/access-log.md): what ringd says about one closed or refused connection, and
// the pure formatting of it, as a logfmt line for stderr and as the fields of a journal entry.
//
// A worker fills a record with raw values only (socket addresses as the kernel gave them, counters, monotonic
// times); everything textual is made here, on the access log's writer thread, so that logging costs a worker
// no formatting.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace ringd::service {

// Why the connection ended, or why it was refused. The first five are the plugin ABI's close reasons.
enum class AccessReason : uint8_t {
    peer,                       // the peer closed or reset it
    local,                      // the plugin closed (or aborted) it
    idle,                       // idle_timeout
    error,                      // a socket error, a failed callback, a failed outbound connect
    shutdown,                   // ringd stopped, or the listener was removed and its drain timed out
    acl,                        // refused: `allow`/`deny`
    max_connections,            // refused: the listener's max_connections
    connection_slots,           // refused: the worker has no connection slot left
    max_connections_per_source, // refused: the client's source has max_connections_per_source open
    connection_rate_per_source, // refused: the client's source has used up its connection_rate_per_source
    source_table_full,          // refused: a new source, and the listener's per-source table is full
    proxy_untrusted,            // refused: a proxy_protocol listener's peer not in proxy_trusted
    proxy_timeout,              // refused: no complete PROXY header within proxy_timeout
    proxy_malformed,            // refused: a PROXY header the listener cannot accept
    proxy_incomplete,           // refused: the peer closed before its PROXY header was complete
};

enum class AccessDirection : uint8_t {
    accepted, // a client connected to the listener
    outbound, // the listener's plugin connected out (ABI 1.1 host->connect)
};

// A socket address as getpeername/getsockname/connect saw it; len 0 = not known.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t len = 0;
};

struct AccessRecord {
    std::string listener;
    std::string plugin; // the plugin's descriptor name
    SocketAddress peer;
    SocketAddress local;
    uint64_t bytes_in = 0;  // read from the socket (including what a closing connection discarded)
    uint64_t bytes_out = 0; // the kernel took for sending
    std::chrono::steady_clock::time_point started{};
    std::chrono::steady_clock::time_point ended{};
    AccessReason reason = AccessReason::local;
    AccessDirection direction = AccessDirection::accepted;

    [[nodiscard]] bool refused() const { return reason >= AccessReason::acl; }
};

[[nodiscard]] const char* to_string(AccessReason reason);
[[nodiscard]] const char* to_string(AccessDirection direction);

// "127.0.0.1:5555", "[::1]:5555", "unix:///run/ringd/echo.sock", "unix:@name", "unix:" (an unnamed Unix socket,
// the usual client), "-" (not known). Bytes of a Unix name that are not printable ASCII, and '\', are written
// as \xNN, so the text is always one printable line.
[[nodiscard]] std::string format_address(const SocketAddress& address);

// Milliseconds between started and ended with microsecond resolution: "0.412", "1500.000".
[[nodiscard]] std::string format_duration_ms(const AccessRecord& record);

// A logfmt value: as is when it is non-empty and holds only printable ASCII other than space, '"', '=' and '\';
// otherwise in double quotes, with '"' and '\' escaped by '\', \n \r \t, and other bytes outside printable ASCII
// as \xNN.
[[nodiscard]] std::string logfmt_value(std::string_view value);

// The stderr line (without the logger's timestamp and level):
// access listener=echo plugin=echo-upper direction=accepted peer=127.0.0.1:5555 local=127.0.0.1:8080
//   duration_ms=0.412 bytes_in=12 bytes_out=12 reason=peer
[[nodiscard]] std::string format_logfmt(const AccessRecord& record);

// MESSAGE= of the journal entry, one human line:
// "[echo] access: 127.0.0.1:5555 -> 127.0.0.1:8080 closed (peer) after 0.412 ms, 12 bytes in, 12 bytes out"
// "[echo] access: 10.0.0.1:5555 -> 127.0.0.1:8080 refused (acl)"
// "[relay] access: outbound 127.0.0.1:40000 -> 127.0.0.1:9000 closed (local) after ..."
[[nodiscard]] std::string format_summary(const AccessRecord& record);

// Every field of the journal entry, "NAME=value", in this order: MESSAGE, PRIORITY (6, info),
// SYSLOG_IDENTIFIER (ringd), RINGD_ACCESS (1), RINGD_LISTENER, RINGD_PLUGIN, RINGD_DIRECTION, RINGD_PEER,
// RINGD_LOCAL, RINGD_DURATION_MS, RINGD_BYTES_IN, RINGD_BYTES_OUT, RINGD_CLOSE_REASON. Control characters in a
// plugin name become \xNN, so each value is one line.
[[nodiscard]] std::vector<std::string> journal_fields(const AccessRecord& record);

} // namespace ringd::service
