// Socket activation through sd_listen_fds_with_names(3); see socket_activation.hpp.
#include "service/socket_activation.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <sys/un.h>
#include <system_error>
#include <systemd/sd-daemon.h>

namespace ringd::service {

InheritedSockets InheritedSockets::from_environment()
{
    char** names = nullptr;
    // unset_environment=1: once taken, the fds are ours; a spawned child or a later call must not see them.
    const int n = sd_listen_fds_with_names(1, &names);
    if (n < 0) throw std::system_error(-n, std::generic_category(), "reading LISTEN_FDS from systemd");
    std::vector<Entry> sockets;
    sockets.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        std::string name = names != nullptr && names[i] != nullptr ? names[i] : "unknown";
        sockets.push_back({std::move(name), UniqueFd(SD_LISTEN_FDS_START + i)});
    }
    if (names != nullptr) {
        for (int i = 0; i < n; ++i)
            std::free(names[i]);
        std::free(names);
    }
    return InheritedSockets(std::move(sockets));
}

std::optional<UniqueFd> InheritedSockets::claim(const std::string& name)
{
    for (auto it = sockets_.begin(); it != sockets_.end(); ++it) {
        if (it->name == name) {
            UniqueFd fd = std::move(it->fd);
            sockets_.erase(it);
            return fd;
        }
    }
    return std::nullopt;
}

std::vector<std::string> InheritedSockets::unclaimed() const
{
    std::vector<std::string> names;
    names.reserve(sockets_.size());
    for (const auto& s : sockets_)
        names.push_back(s.name);
    return names;
}

std::string describe_address(const sockaddr* address, socklen_t len)
{
    char text[INET6_ADDRSTRLEN] = {};
    switch (address->sa_family) {
    case AF_INET: {
        const auto* in = reinterpret_cast<const sockaddr_in*>(address);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
    }
    case AF_INET6: {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        // Built by appending: GCC 12 reports a false -Wrestrict for `"[" + std::string&&` at -O3.
        std::string out = "[";
        out.append(text).append("]:").append(std::to_string(ntohs(in6->sin6_port)));
        return out;
    }
    case AF_UNIX: {
        const auto* un = reinterpret_cast<const sockaddr_un*>(address);
        const std::size_t path_len = len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
        if (path_len == 0) return "an unbound unix socket";
        // Abstract names start with a NUL byte and are not NUL-terminated; the usual notation is a leading '@'.
        if (un->sun_path[0] == '\0') return std::string("@").append(un->sun_path + 1, path_len - 1);
        return std::string(un->sun_path, strnlen(un->sun_path, path_len));
    }
    default:
        return "an address of family " + std::to_string(address->sa_family);
    }
}

namespace {

std::string family_name(int family)
{
    switch (family) {
    case AF_INET:
        return "IPv4";
    case AF_INET6:
        return "IPv6";
    case AF_UNIX:
        return "unix";
    default:
        return "family " + std::to_string(family);
    }
}

// "TCP (IPv4)", "UDP (IPv6)", "unix stream", ...
std::string kind_name(int family, int type)
{
    if (family == AF_UNIX) return type == SOCK_STREAM ? "unix stream" : type == SOCK_DGRAM ? "unix datagram" : "unix";
    const std::string proto = type == SOCK_STREAM ? "TCP" : type == SOCK_DGRAM ? "UDP" : "type " + std::to_string(type);
    return proto + " (" + family_name(family) + ")";
}

// What an inherited fd really is (only for the mismatch message).
struct ActualSocket {
    int family = 0;
    int type = 0;
    bool listening = false;
    sockaddr_storage address{};
    socklen_t address_len = sizeof(sockaddr_storage);
};

// nullopt (and errno in `error`) if `fd` is not a socket at all.
std::optional<ActualSocket> inspect(int fd, int& error)
{
    ActualSocket s;
    socklen_t l = sizeof s.type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &s.type, &l) < 0) {
        error = errno;
        return std::nullopt;
    }
    l = sizeof s.family;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &s.family, &l) < 0) s.family = 0;
    int accepting = 0;
    l = sizeof accepting;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &l) == 0) s.listening = accepting != 0;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&s.address), &s.address_len) < 0) s.address_len = 0;
    return s;
}

std::string describe_expected(const SocketExpectation& e)
{
    std::string text = e.type == SOCK_STREAM ? "a listening " : "a ";
    text += kind_name(e.family, e.type) + " socket";
    if (e.address != nullptr) text += " bound to " + describe_address(e.address, e.address_len);
    return text;
}

} // namespace

std::optional<std::string> check_inherited_socket(int fd, const SocketExpectation& expected)
{
    int error = 0;
    const auto actual = inspect(fd, error);
    if (!actual) return "is not a socket (" + std::string(std::strerror(error)) + ")";

    // sd_is_socket / sd_is_socket_sockaddr / sd_is_socket_unix are the authoritative checks (they know the
    // address-comparison rules, e.g. for unix paths); `actual` only feeds the message.
    const bool must_listen = expected.type == SOCK_STREAM;
    int r = 0;
    if (expected.address == nullptr) {
        r = sd_is_socket(fd, expected.family, expected.type, must_listen ? 1 : -1);
    } else if (expected.family == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(expected.address);
        const std::size_t path_len = expected.address_len - offsetof(sockaddr_un, sun_path);
        // sd_is_socket_unix takes the length of an abstract name including its leading NUL, and 0 for a
        // NUL-terminated filesystem path.
        r = sd_is_socket_unix(fd, expected.type, must_listen ? 1 : -1, un->sun_path,
                              un->sun_path[0] == '\0' ? path_len : 0);
    } else {
        r = sd_is_socket_sockaddr(fd, expected.type, expected.address, expected.address_len, must_listen ? 1 : -1);
    }
    if (r > 0) return std::nullopt;
    if (r < 0 && r != -EINVAL) return "could not be inspected (" + std::string(std::strerror(-r)) + ")";

    std::string is = "is a ";
    if (actual->type == SOCK_STREAM && !actual->listening) is += "non-listening ";
    is += kind_name(actual->family, actual->type) + " socket";
    if (actual->address_len > 0)
        is += " bound to " + describe_address(reinterpret_cast<const sockaddr*>(&actual->address), actual->address_len);
    return is + ", but the listener needs " + describe_expected(expected);
}

} // namespace ringd::service
