// Where a json-header or size-prefixed request ends. These protocols carry no length, and TCP keeps no
// message boundaries: one send() may arrive as several reads (a 10,000-byte line as three 4 KiB reads, a
// short one split over two segments), and several sends as one read. So a request is never "one read":
//
//   * an LF (\n) outside quotes ends a request at once; the request is the bytes before it (the LF is not
//     part of it) and the bytes after it begin the next request. Quoting is the command line's own
//     (argv_splitter.hpp): an LF inside single or double quotes, or after a backslash, is part of the
//     request, so a quoted argument may hold a newline;
//   * bytes not ended by an LF stay a partial request until the connection has been quiet for the
//     listener's request_assembly window, or the peer has finished sending: then they are one request
//     (take_partial(); the window itself is the handler's timer);
//   * a request longer than max_line bytes (not counting its LF) is an error, reported as soon as its
//     max_line + 1st byte arrives: the rest of it cannot be told from the next request, so after it the
//     assembler is failed and ignores all input, and the connection must end.
// Pure byte handling: no clock, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ringd::remote_cmd {

class LineAssembler {
public:
    // One request ended by an LF (bytes without it), or the too_large error that ended assembly.
    struct Event {
        bool too_large = false;
        std::string bytes; // the request, or the error message
    };

    explicit LineAssembler(std::size_t max_line) : max_line_(max_line) {}

    // Consumes `data`, appending each request an LF ends to `out`, then at most one error. Once `max_events`
    // events have been appended, the rest of `data` is kept unscanned (buffered()) for decode_buffered(), so
    // that one read of many short lines does not become more queued requests than the caller takes.
    void feed(std::span<const std::byte> data, std::vector<Event>& out, std::size_t max_events = SIZE_MAX);

    // Scans input kept by feed(), appending at most `max_events` events.
    void decode_buffered(std::vector<Event>& out, std::size_t max_events);

    // Drops everything held, the partial request too (the caller will not serve it: the connection is ending).
    void discard_buffered();

    // Bytes received but not scanned yet (the partial request is not counted).
    [[nodiscard]] std::size_t buffered() const { return pending_.size() - pending_at_; }

    // Bytes of a request begun and not yet ended by an LF.
    [[nodiscard]] bool has_partial() const { return !partial_.empty(); }

    // Ends the partial request here (the window passed, or the stream ended) and returns it. Meaningful only
    // once buffered() is 0: until then the bytes that follow it have not been looked at.
    [[nodiscard]] std::string take_partial();

    [[nodiscard]] bool failed() const { return failed_; }

private:
    // Scans `left` bytes from `p` until all are used, the assembler fails, or `max_events` events were
    // appended; returns the bytes used.
    std::size_t scan(const char* p, std::size_t left, std::vector<Event>& out, std::size_t max_events);
    std::size_t request_end(const char* p, std::size_t left);
    void fail(std::vector<Event>& out);

    std::size_t max_line_;
    std::string partial_;        // the request being assembled, at most max_line_ bytes
    std::string pending_;        // unscanned input, from pending_at_ on
    std::size_t pending_at_ = 0; // scanned prefix of pending_, dropped lazily to avoid quadratic copying
    char quote_ = 0;             // the partial request is inside '...' or "..." (0: outside quotes)
    bool escaped_ = false;       // the partial request ends with an unquoted (or double-quoted) backslash
    bool failed_ = false;
};

} // namespace ringd::remote_cmd
