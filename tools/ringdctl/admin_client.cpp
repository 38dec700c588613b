// One HTTP GET to the admin listener over a non-blocking socket, every wait bounded by poll(2); see
// admin_client.hpp.
#include "admin_client.hpp"

#include "util/unique_fd.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

namespace ringd::ctl {
namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err)
{
    return std::strerror(err);
}

// Milliseconds left until `deadline`, for poll(2): 0 once it has passed.
int millis_until(Clock::time_point deadline)
{
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    return left.count() > 0 ? static_cast<int>(std::min<long long>(left.count(), 60'000)) : 0;
}

// Waits for `events` on fd until `deadline`; false on timeout. An interrupted poll waits again.
bool wait_for(int fd, short events, Clock::time_point deadline)
{
    for (;;) {
        pollfd p{fd, events, 0};
        const int n = ::poll(&p, 1, millis_until(deadline));
        if (n > 0) return true;
        if (n == 0 && Clock::now() >= deadline) return false;
        if (n < 0 && errno != EINTR) throw Unreachable("poll: " + errno_text(errno));
    }
}

UniqueFd connect_to(const config::Endpoint& where, std::chrono::milliseconds timeout)
{
    UniqueFd fd(::socket(where.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) throw Unreachable("socket: " + errno_text(errno));
    const auto* address = reinterpret_cast<const sockaddr*>(&where.address);
    if (::connect(fd.get(), address, where.address_len) == 0) return fd;
    // A unix socket whose backlog is full answers EAGAIN instead of completing later: the listener is there but
    // not accepting, which for ringdctl is as good as unreachable.
    if (errno != EINPROGRESS) throw Unreachable("cannot connect to " + where.text + ": " + errno_text(errno));
    if (!wait_for(fd.get(), POLLOUT, Clock::now() + timeout))
        throw Unreachable("cannot connect to " + where.text + ": no answer within " + std::to_string(timeout.count()) +
                          " ms");
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err != 0) throw Unreachable("cannot connect to " + where.text + ": " + errno_text(err));
    return fd;
}

void send_request(int fd, std::string_view request, const std::string& url, Clock::time_point deadline)
{
    while (!request.empty()) {
        const ssize_t n = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
        if (n > 0) {
            request.remove_prefix(static_cast<std::size_t>(n));
        } else if (errno == EAGAIN || errno == EINTR) {
            if (!wait_for(fd, POLLOUT, deadline)) throw Unreachable(url + ": timed out sending the request");
        } else {
            throw Unreachable(url + ": cannot send the request: " + errno_text(errno));
        }
    }
}

HttpResponse read_response(int fd, const std::string& url, std::chrono::milliseconds timeout,
                           Clock::time_point deadline)
{
    std::string received;
    char buffer[16384];
    for (;;) {
        if (!wait_for(fd, POLLIN, deadline))
            throw Unreachable(url + ": no complete response within " + std::to_string(timeout.count()) + " ms");
        const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        const int recv_errno = n < 0 ? errno : 0;
        if (recv_errno == EAGAIN || recv_errno == EINTR) continue;
        // A reset after a complete close-delimited body is still the end of the body; before it, parse_response
        // says what was missing.
        const bool closed = n <= 0;
        if (n > 0) received.append(buffer, static_cast<std::size_t>(n));
        try {
            if (auto response = parse_response(received, closed)) return std::move(*response);
        } catch (const BadResponse& e) {
            throw BadResponse(url + ": " + e.what() +
                              (recv_errno != 0 ? " (" + errno_text(recv_errno) + ")" : std::string()));
        }
    }
}

} // namespace

HttpResponse http_get(const config::Endpoint& where, std::string_view path, const Timeouts& timeouts)
{
    const std::string url = where.text + std::string(path);
    UniqueFd fd = connect_to(where, timeouts.connect);
    const auto deadline = Clock::now() + timeouts.response;
    // A unix socket has no host; HTTP/1.1 requires the header all the same.
    const std::string host = where.is_unix() ? "localhost" : where.text.substr(where.text.find("//") + 2);
    send_request(fd.get(), get_request(path, host, "ringdctl/" RINGD_VERSION), url, deadline);
    return read_response(fd.get(), url, timeouts.response, deadline);
}

bool is_local(const config::Endpoint& endpoint)
{
    if (endpoint.is_unix()) return true;
    UniqueFd probe(::socket(endpoint.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return false;
    sockaddr_storage address = endpoint.address;
    // Port 0: only the address is being asked about, and the admin listener holds its own port.
    if (address.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&address)->sin_port = 0;
    if (address.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = 0;
    return ::bind(probe.get(), reinterpret_cast<const sockaddr*>(&address), endpoint.address_len) == 0;
}

} // namespace ringd::ctl
