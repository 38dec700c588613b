// The framed request protocol: decoding bytes that arrive in arbitrary chunks into requests.
//
// A frame is a 4-byte big-endian unsigned length L with 1 <= L <= max_request, then L bytes of a JSON object:
//   {"argv": ["ls", "-l"]}  or  {"cmd": "ls -l"}     exactly one of the two
//   "token": "..."                                    optional
//   "timeout_ms": 1500                                optional, a positive integer
// Any other key, a key written twice (in any object of the body), a wrong type, or invalid JSON is an error. After the
// first error the decoder is failed and ignores all further input: the stream cannot be resynchronised, so the
// connection must end.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::remote_cmd {

class FrameDecoder {
public:
    // One decoded frame body, or the error that ended decoding.
    struct Event {
        bool is_error = false;
        std::string bytes; // the frame body, or the error message
    };

    explicit FrameDecoder(uint32_t max_body) : max_body_(max_body) {}

    // Consumes `data`, appending each complete frame to `out`, then at most one error. Once `max_events`
    // events have been appended, the rest of `data` is kept undecoded (buffered()) for decode_buffered(), so
    // a caller that takes only a few requests at a time does not turn one large read into many of them.
    void feed(std::span<const std::byte> data, std::vector<Event>& out, std::size_t max_events = SIZE_MAX);

    // Decodes input kept by feed(), appending at most `max_events` events.
    void decode_buffered(std::vector<Event>& out, std::size_t max_events);

    // Drops the input kept by feed() (the caller will not serve it: the connection is ending).
    void discard_buffered();

    // Bytes received but not decoded yet (a partial frame being assembled is not counted).
    [[nodiscard]] std::size_t buffered() const { return pending_.size() - pending_at_; }

    // The peer sent its last byte: an error if it stopped in the middle of a frame. Meaningful only once
    // buffered() is 0: until then the end of the stream has not been decoded.
    [[nodiscard]] std::optional<std::string> finish() const;

    [[nodiscard]] bool failed() const { return failed_; }
    // No partial frame is buffered.
    [[nodiscard]] bool between_frames() const { return header_got_ == 0 && !in_body_; }

private:
    // Decodes from `p` until `left` bytes are used, the decoder fails, or `max_events` events were appended;
    // returns the bytes used.
    std::size_t decode(const uint8_t* p, std::size_t left, std::vector<Event>& out, std::size_t max_events);

    uint32_t max_body_;
    std::string pending_;        // undecoded input, from pending_at_ on
    std::size_t pending_at_ = 0; // consumed prefix of pending_, dropped lazily to avoid quadratic copying
    std::array<uint8_t, 4> header_{};
    std::size_t header_got_ = 0;
    bool in_body_ = false;
    uint32_t body_len_ = 0;
    std::string body_;
    bool failed_ = false;
};

struct FramedRequest {
    std::optional<std::vector<std::string>> argv; // exactly one of argv and cmd is set
    std::optional<std::string> cmd;
    std::optional<std::string> token;
    std::optional<uint64_t> timeout_ms;
};

struct RequestParse {
    FramedRequest request;
    std::string error; // empty on success
    [[nodiscard]] bool ok() const { return error.empty(); }
};

// Validates one frame body against the schema above.
[[nodiscard]] RequestParse parse_framed_request(std::string_view body);

} // namespace ringd::remote_cmd
