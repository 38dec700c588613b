// Parsing --connect and starting non-blocking connects (see endpoint.hpp).
#include "endpoint.hpp"

#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <sys/un.h>

namespace ringd_bench {
namespace {

Endpoint parse_inet(Transport transport, std::string_view text, std::string_view rest)
{
    std::string host;
    std::string_view port;
    if (!rest.empty() && rest.front() == '[') {
        auto close = rest.find(']');
        if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
            throw std::invalid_argument("expected [IPv6]:PORT in '" + std::string(text) + "'");
        host = std::string(rest.substr(1, close - 1));
        port = rest.substr(close + 2);
    } else {
        auto colon = rest.rfind(':');
        if (colon == std::string_view::npos || colon == 0)
            throw std::invalid_argument("expected HOST:PORT in '" + std::string(text) + "'");
        host = std::string(rest.substr(0, colon));
        port = rest.substr(colon + 1);
    }
    if (port.empty() || port.find_first_not_of("0123456789") != std::string_view::npos || port.size() > 5 ||
        std::stoul(std::string(port)) == 0 || std::stoul(std::string(port)) > 65535)
        throw std::invalid_argument("bad port in '" + std::string(text) + "' (expected 1..65535)");

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = transport == Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    int rc = ::getaddrinfo(host.c_str(), std::string(port).c_str(), &hints, &found);
    if (rc != 0 || !found) throw std::invalid_argument("cannot resolve '" + host + "': " + ::gai_strerror(rc));
    Endpoint ep;
    ep.transport = transport;
    ep.text = std::string(text);
    std::memcpy(&ep.address, found->ai_addr, found->ai_addrlen);
    ep.address_len = found->ai_addrlen;
    ::freeaddrinfo(found);
    return ep;
}

Endpoint parse_unix(std::string_view text, std::string_view rest)
{
    Endpoint ep;
    ep.transport = Transport::unix_stream;
    ep.text = std::string(text);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    bool abstract = !rest.empty() && rest.front() == '@';
    std::string_view name = abstract ? rest.substr(1) : rest;
    if (!abstract && (rest.size() < 3 || rest.substr(0, 2) != "//" || rest[2] != '/'))
        throw std::invalid_argument("expected unix:///absolute/path or unix:@name, got '" + std::string(text) + "'");
    if (!abstract) name = rest.substr(2);
    if (name.empty() || name.size() + 1 > sizeof(sun.sun_path))
        throw std::invalid_argument("unix socket name empty or too long in '" + std::string(text) + "'");
    std::memcpy(sun.sun_path + (abstract ? 1 : 0), name.data(), name.size());
    std::memcpy(&ep.address, &sun, sizeof(sun));
    // A path counts its terminating NUL; an abstract name counts its leading NUL and nothing after the name.
    ep.address_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return ep;
}

} // namespace

Endpoint parse_endpoint(std::string_view text)
{
    auto scheme_end = text.find(':');
    if (scheme_end == std::string_view::npos)
        throw std::invalid_argument("expected tcp://H:P, udp://H:P or unix:///path, got '" + std::string(text) + "'");
    std::string_view scheme = text.substr(0, scheme_end);
    std::string_view rest = text.substr(scheme_end + 1);
    if (scheme == "unix") return parse_unix(text, rest);
    if (rest.substr(0, 2) != "//")
        throw std::invalid_argument("expected " + std::string(scheme) + "://H:P, got '" + std::string(text) + "'");
    if (scheme == "tcp") return parse_inet(Transport::tcp, text, rest.substr(2));
    if (scheme == "udp") return parse_inet(Transport::udp, text, rest.substr(2));
    throw std::invalid_argument("unknown scheme '" + std::string(scheme) + "' (tcp, udp or unix)");
}

Fd start_connect(const Endpoint& ep, bool nodelay, bool rst_on_close, bool& in_progress)
{
    in_progress = false;
    int type = (ep.transport == Transport::udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_NONBLOCK | SOCK_CLOEXEC;
    Fd fd(::socket(ep.family(), type, 0));
    if (!fd) return fd;
    if (ep.transport == Transport::tcp) {
        int one = 1;
        if (nodelay) ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (rst_on_close) {
            linger lg{1, 0};
            ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&ep.address), ep.address_len) == 0) return fd;
    if (errno == EINPROGRESS) {
        in_progress = true;
        return fd;
    }
    int saved = errno;
    fd.reset();
    errno = saved;
    return fd;
}

} // namespace ringd_bench
