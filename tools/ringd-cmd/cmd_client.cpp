// ringd-cmd's protocol side; see cmd_client.hpp.
#include "cmd_client.hpp"

#include "argv_splitter.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace ringd::cmd_client {
namespace {

constexpr std::size_t kJsonHeaderMaxRequest = 4096; // the server reads a json-header request in one read
constexpr uint32_t kMaxReplyHeader = 1 << 20;       // a reply header is a small JSON object

[[noreturn]] void fail(const std::string& message)
{
    throw std::runtime_error(message);
}

std::string errno_text()
{
    return std::strerror(errno);
}

void write_all(int fd, const char* data, std::size_t len, const char* what)
{
    while (len > 0) {
        const ssize_t n = ::write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(std::string("cannot write ") + what + ": " + errno_text());
        data += n;
        len -= static_cast<std::size_t>(n);
    }
}

// Reads exactly len bytes, or fails saying what was being read.
void read_exactly(int fd, char* out, std::size_t len, const char* what)
{
    while (len > 0) {
        const ssize_t n = ::read(fd, out, len);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(std::string("cannot read the reply (") + what + "): " + errno_text());
        if (n == 0) fail(std::string("the server closed the connection in the middle of the reply (") + what + ")");
        out += n;
        len -= static_cast<std::size_t>(n);
    }
}

// Copies `len` reply bytes to out_fd (or drops them when out_fd < 0).
void relay(int fd, uint64_t len, int out_fd, const char* what)
{
    char buffer[65536];
    while (len > 0) {
        const std::size_t chunk = len < sizeof buffer ? static_cast<std::size_t>(len) : sizeof buffer;
        const ssize_t n = ::read(fd, buffer, chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail(std::string("cannot read the reply (") + what + "): " + errno_text());
        if (n == 0) fail(std::string("the server closed the connection in the middle of the reply (") + what + ")");
        if (out_fd >= 0) write_all(out_fd, buffer, static_cast<std::size_t>(n), what);
        len -= static_cast<uint64_t>(n);
    }
}

uint64_t size_field(const nlohmann::json& header, const char* key)
{
    const auto it = header.find(key);
    if (it == header.end() || !it->is_number_unsigned()) {
        fail(std::string("malformed reply header: \"") + key + "\" is missing or not a size");
    }
    return it->get<uint64_t>();
}

bool flag(const nlohmann::json& header, const char* key)
{
    const auto it = header.find(key);
    return it != header.end() && it->is_boolean() && it->get<bool>();
}

int connect_with_timeout(int fd, const sockaddr* addr, socklen_t len, std::chrono::milliseconds timeout)
{
    const int flags = ::fcntl(fd, F_GETFL);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, addr, len);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        rc = ::poll(&p, 1, static_cast<int>(timeout.count()));
        if (rc == 0) {
            errno = ETIMEDOUT;
            rc = -1;
        } else if (rc > 0) {
            int err = 0;
            socklen_t err_len = sizeof err;
            ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len);
            errno = err;
            rc = err == 0 ? 0 : -1;
        }
    }
    ::fcntl(fd, F_SETFL, flags);
    return rc;
}

} // namespace

Target parse_target(std::string_view url)
{
    Target t;
    if (url.starts_with("unix://")) {
        t.kind = Target::Kind::unix_path;
        t.path = std::string(url.substr(7));
        if (t.path.empty() || t.path.front() != '/')
            fail("unix:// needs an absolute path, e.g. unix:///run/ringd/cmd.sock");
    } else if (url.starts_with("unix:@")) {
        t.kind = Target::Kind::unix_abstract;
        t.path = std::string(url.substr(6));
        if (t.path.empty()) fail("unix:@ needs a name");
    } else if (url.starts_with("tcp://")) {
        std::string_view rest = url.substr(6);
        std::size_t colon = std::string_view::npos;
        if (rest.starts_with("[")) {
            const std::size_t close = rest.find(']');
            if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':') {
                fail("expected tcp://[IPv6]:PORT");
            }
            t.host = std::string(rest.substr(1, close - 1));
            colon = close + 1;
        } else {
            colon = rest.rfind(':');
            if (colon == std::string_view::npos) fail("expected tcp://HOST:PORT");
            t.host = std::string(rest.substr(0, colon));
        }
        t.port = std::string(rest.substr(colon + 1));
        if (t.host.empty() || t.port.empty() || t.port.find_first_not_of("0123456789") != std::string::npos) {
            fail("expected tcp://HOST:PORT with a numeric port");
        }
    } else {
        fail("expected tcp://HOST:PORT, unix:///PATH or unix:@NAME, got \"" + std::string(url) + "\"");
    }
    if (t.path.size() >= sizeof(sockaddr_un{}.sun_path)) fail("unix socket path too long");
    return t;
}

int connect_target(const Target& target, std::chrono::milliseconds timeout)
{
    if (target.kind != Target::Kind::tcp) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        const bool abstract = target.kind == Target::Kind::unix_abstract;
        std::memcpy(addr.sun_path + (abstract ? 1 : 0), target.path.data(), target.path.size());
        // A path is NUL-terminated; an abstract name has a leading NUL and no terminator: +1 either way.
        const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.path.size() + 1);
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) fail("socket: " + errno_text());
        if (connect_with_timeout(fd, reinterpret_cast<sockaddr*>(&addr), len, timeout) != 0) {
            const std::string why = errno_text();
            ::close(fd);
            fail("cannot connect to " + std::string(abstract ? "unix:@" : "unix://") + target.path + ": " + why);
        }
        return fd;
    }
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (const int rc = ::getaddrinfo(target.host.c_str(), target.port.c_str(), &hints, &found); rc != 0) {
        fail("cannot resolve " + target.host + ": " + ::gai_strerror(rc));
    }
    std::string why = "no address";
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        const int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        if (connect_with_timeout(fd, ai->ai_addr, ai->ai_addrlen, timeout) == 0) {
            ::freeaddrinfo(found);
            return fd;
        }
        why = errno_text();
        ::close(fd);
    }
    ::freeaddrinfo(found);
    fail("cannot connect to tcp://" + target.host + ":" + target.port + ": " + why);
}

std::optional<WireProtocol> parse_protocol(std::string_view name)
{
    if (name == "framed") return WireProtocol::framed;
    if (name == "json-header") return WireProtocol::json_header;
    return std::nullopt;
}

std::string encode_request(WireProtocol protocol, const Request& request)
{
    if (request.argv.empty()) fail("no command given");
    for (const std::string& arg : request.argv) {
        if (arg.find('\0') != std::string::npos) fail("arguments cannot contain NUL bytes");
    }
    std::string line;
    if (request.as_line) {
        for (const std::string& arg : request.argv)
            line += (line.empty() ? "" : " ") + arg;
    } else if (protocol == WireProtocol::json_header) {
        line = remote_cmd::quote_argv(request.argv);
    }
    if (protocol == WireProtocol::json_header) {
        if (request.token) fail("--token-file needs --protocol framed (json-header requests cannot carry a token)");
        if (request.timeout_ms) fail("--timeout needs --protocol framed");
        if (line.size() > kJsonHeaderMaxRequest) {
            fail("command line too long for json-header (" + std::to_string(line.size()) +
                 " bytes, max 4096); use --protocol framed");
        }
        // An unquoted newline ends a json-header request at once, instead of after the server's
        // request_assembly pause. (Newlines in arguments are inside quotes, and do not end it.)
        return line + "\n";
    }
    nlohmann::json body = nlohmann::json::object();
    if (request.as_line) {
        body["cmd"] = line;
    } else {
        body["argv"] = request.argv;
    }
    if (request.token) body["token"] = *request.token;
    if (request.timeout_ms) body["timeout_ms"] = *request.timeout_ms;
    const std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::string frame;
    const auto n = static_cast<uint32_t>(text.size());
    frame += static_cast<char>(n >> 24);
    frame += static_cast<char>((n >> 16) & 0xff);
    frame += static_cast<char>((n >> 8) & 0xff);
    frame += static_cast<char>(n & 0xff);
    return frame + text;
}

void send_all(int fd, std::string_view bytes)
{
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("cannot send the request: " + errno_text());
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

Reply read_reply(int fd, WireProtocol protocol, int out_fd, int err_fd, const HeaderCallback& on_header)
{
    unsigned char len_bytes[4];
    read_exactly(fd, reinterpret_cast<char*>(len_bytes), sizeof len_bytes, "header length");
    uint32_t len = 0;
    if (protocol == WireProtocol::framed) {
        len = (uint32_t{len_bytes[0]} << 24) | (uint32_t{len_bytes[1]} << 16) | (uint32_t{len_bytes[2]} << 8) |
              len_bytes[3];
    } else {
        len = (uint32_t{len_bytes[3]} << 24) | (uint32_t{len_bytes[2]} << 16) | (uint32_t{len_bytes[1]} << 8) |
              len_bytes[0];
    }
    if (len == 0 || len > kMaxReplyHeader) {
        fail("malformed reply: header length " + std::to_string(static_cast<int32_t>(len)) +
             " (is the listener speaking another protocol? try --protocol)");
    }
    std::string text(len, '\0');
    read_exactly(fd, text.data(), text.size(), "header");
    Reply reply;
    reply.header = nlohmann::json::parse(text, nullptr, false);
    if (!reply.header.is_object()) fail("malformed reply: the header is not a JSON object");
    const uint64_t out_size = size_field(reply.header, "stdout_size");
    const uint64_t err_size = size_field(reply.header, "stderr_size");
    if (on_header) on_header(reply.header);
    relay(fd, out_size, out_fd, "stdout");
    relay(fd, err_size, err_fd, "stderr");
    if (protocol == WireProtocol::framed && reply.header.value("ok", true) == false) {
        const auto it = reply.header.find("error");
        reply.error = it != reply.header.end() && it->is_string() ? it->get<std::string>() : "unknown error";
    }
    reply.exit_status = exit_status_for(protocol, reply.header);
    return reply;
}

int exit_status_for(WireProtocol protocol, const nlohmann::json& header)
{
    if (flag(header, "timed_out")) return 124;
    if (protocol == WireProtocol::framed) {
        if (header.value("ok", true) == false) {
            const auto it = header.find("error_code");
            const std::string code = it != header.end() && it->is_string() ? it->get<std::string>() : "";
            if (code == "not_found") return 127;
            if (code == "not_allowed" || code == "cannot_execute" || code == "unauthorized" || code == "forbidden") {
                return 126;
            }
            return 125;
        }
        const auto sig = header.find("signal");
        if (sig != header.end() && sig->is_number_integer()) return 128 + sig->get<int>();
    }
    const auto code = header.find("exit_code");
    if (code == header.end() || !code->is_number_integer()) return 125;
    const int status = code->get<int>();
    return status >= 0 && status <= 255 ? status : 125;
}

std::string read_token_file(const std::string& path)
{
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open token file " + path + ": " + errno_text());
    std::string data;
    char buffer[4096];
    for (;;) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0 || data.size() > 65536) break;
        data.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(fd);
    std::string token(remote_cmd::trim_blanks(data));
    if (token.empty()) fail("token file " + path + " is empty");
    return token;
}

} // namespace ringd::cmd_client
