// The three response layouts of remote-cmd, byte for byte. Every integer's size and byte order is part of the
// protocol (clients in other languages decode them by hand), so they are written out explicitly here.
//
//   json-header    int32 LE H | H bytes of UTF-8 JSON | stdout | stderr
//   size-prefixed  int32 LE N | N bytes: stdout then stderr
//   framed         uint32 BE H | H bytes of UTF-8 JSON | stdout | stderr
//
// A refused or failed request has the same shape: in json-header and size-prefixed the error text is the
// stderr part ("ringd: command not allowed: rm\n"); in framed it is the JSON "error" field.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringd::remote_cmd {

enum class Protocol { json_header, size_prefixed, framed };

// Why a request produced no command output. Each kind has a stable name (the framed "error_code") and an
// exit status for the layouts that only carry a number, following timeout(1)/env(1): 125 = ringd could not
// do it, 126 = may not / cannot be executed, 127 = not found.
enum class ErrorKind {
    bad_request,    // unparsable request, empty command, bad quoting
    too_large,      // request over the size limit
    not_allowed,    // command not on the allow list
    not_found,      // allowed, but not found in PATH or not executable
    cannot_execute, // found, but exec failed (permissions, format)
    busy,           // max_concurrent reached and the wait queue full (or the wait too long)
    unauthorized,   // missing or wrong token
    forbidden,      // peer credentials not in allow_uids / allow_gids
    internal        // the host could not start the command (resources)
};

struct Failure {
    ErrorKind kind = ErrorKind::internal;
    std::string message; // without a "ringd: " prefix or a newline
};

[[nodiscard]] std::string_view error_code_name(ErrorKind kind);
[[nodiscard]] int error_exit_code(ErrorKind kind);

// What a command that ran produced (the views must outlive the encode call only).
struct CommandResult {
    int exit_code = -1; // exit status if it exited, else -1
    int signal = 0;     // terminating signal, else 0
    bool timed_out = false;
    bool truncated = false;
    uint64_t duration_ms = 0;
    std::string_view out;
    std::string_view err;
};

[[nodiscard]] std::string encode_result(Protocol protocol, const CommandResult& result);
[[nodiscard]] std::string encode_failure(Protocol protocol, const Failure& failure);

} // namespace ringd::remote_cmd
