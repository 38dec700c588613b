// ringd-cmd's protocol side: where to connect, the request bytes, and reading one reply (streaming the
// command's output as it arrives). Written against the wire layouts documented in
// plugins/remote-cmd/response_encoder.hpp and frame_decoder.hpp; errors are std::runtime_error with a message
// fit for the user.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::cmd_client {

// tcp://HOST:PORT (HOST a name, an IPv4 address or [IPv6]), unix:///absolute/path, unix:@abstract-name.
struct Target {
    enum class Kind { tcp, unix_path, unix_abstract } kind = Kind::tcp;
    std::string host; // tcp
    std::string port; // tcp
    std::string path; // unix (without the @ for abstract names)
};

[[nodiscard]] Target parse_target(std::string_view url);

// A connected stream socket (close it yourself). Throws std::runtime_error.
[[nodiscard]] int connect_target(const Target& target, std::chrono::milliseconds timeout);

enum class WireProtocol { framed, json_header };

[[nodiscard]] std::optional<WireProtocol> parse_protocol(std::string_view name);

struct Request {
    std::vector<std::string> argv;
    bool as_line = false;               // send argv joined with spaces as a command line, unquoted
    std::optional<std::string> token;   // framed only
    std::optional<uint64_t> timeout_ms; // framed only
};

// The bytes to send. json-header requests are one command line of at most 4096 bytes (arguments quoted so
// the server's splitter gives back exactly argv). Throws std::runtime_error.
[[nodiscard]] std::string encode_request(WireProtocol protocol, const Request& request);

// Sends all of `bytes` (one send call when possible: a json-header request then reaches the server at once,
// and is not split over pauses that the server's request_assembly window would take as its end).
void send_all(int fd, std::string_view bytes);

struct Reply {
    nlohmann::json header;
    int exit_status = 125; // what ringd-cmd should exit with
    std::string error;     // the server's error message (framed ok=false), else empty
};

// Reads one reply from `fd`, writing the command's stdout to out_fd and its stderr to err_fd as they arrive.
// `on_header` (if set) sees the header before any output is written. Throws std::runtime_error.
using HeaderCallback = std::function<void(const nlohmann::json& header)>;
[[nodiscard]] Reply read_reply(int fd, WireProtocol protocol, int out_fd, int err_fd,
                               const HeaderCallback& on_header = {});

// The exit status for a reply header, like timeout(1): 124 timed out, 125 ringd could not run it, 126 not
// allowed or not executable, 127 not found, 128+N killed by signal N, else the command's own status.
[[nodiscard]] int exit_status_for(WireProtocol protocol, const nlohmann::json& header);

// Reads a token file: its contents without surrounding blanks. Throws std::runtime_error.
[[nodiscard]] std::string read_token_file(const std::string& path);

} // namespace ringd::cmd_client
