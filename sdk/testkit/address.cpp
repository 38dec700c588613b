// Socket addresses as tests write them: "127.0.0.1:40000", "[::1]:50000", "unix:/run/x.sock", "unix:".
#include "kit_state.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/un.h>

namespace ringd::testkit::detail {

namespace {

uint16_t parse_port(std::string_view text, std::string_view whole)
{
    unsigned port = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (ec != std::errc() || end != text.data() + text.size() || port > 65535 || text.empty()) {
        throw std::invalid_argument("bad port in address \"" + std::string(whole) + "\"");
    }
    return static_cast<uint16_t>(port);
}

} // namespace

Address parse_address(std::string_view text)
{
    Address a;
    if (text.starts_with("unix:")) {
        const std::string_view path = text.substr(5);
        auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
        if (path.size() >= sizeof un->sun_path) throw std::invalid_argument("unix path too long: " + std::string(text));
        un->sun_family = AF_UNIX;
        std::memcpy(un->sun_path, path.data(), path.size());
        // An unnamed socket's address is the family alone, as getpeername reports it.
        a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + (path.empty() ? 0 : path.size() + 1));
        return a;
    }
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) throw std::invalid_argument("address without a port: " + std::string(text));
    std::string host(text.substr(0, colon));
    const uint16_t port = parse_port(text.substr(colon + 1), text);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6->sin6_addr) != 1) {
            throw std::invalid_argument("bad IPv6 address: " + std::string(text));
        }
        a.len = sizeof(sockaddr_in6);
        return a;
    }
    auto* in = reinterpret_cast<sockaddr_in*>(&a.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
        throw std::invalid_argument("bad IPv4 address: " + std::string(text));
    }
    a.len = sizeof(sockaddr_in);
    return a;
}

std::string format_address(const sockaddr* address, socklen_t len)
{
    if (address == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t))) return "?";
    char text[INET6_ADDRSTRLEN] = {};
    if (address->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(address);
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
    }
    if (address->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
    }
    if (address->sa_family == AF_UNIX) {
        const auto* un = reinterpret_cast<const sockaddr_un*>(address);
        const std::size_t max = std::min<std::size_t>(len - offsetof(sockaddr_un, sun_path), sizeof un->sun_path);
        return "unix:" + std::string(un->sun_path, strnlen(un->sun_path, max));
    }
    return "?";
}

} // namespace ringd::testkit::detail
