// Helpers for the PROXY protocol tests: bytes from text and hex, addresses from text, and the checks every valid
// header goes through (complete in one piece, NeedMore at every shorter prefix, payload left alone).
#pragma once

#include "proxy_protocol/decoder.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/un.h>
#include <vector>

namespace ringd::proxy_protocol::test {

using Bytes = std::vector<uint8_t>;

inline Bytes bytes_of(std::string_view text)
{
    return Bytes(text.begin(), text.end());
}

// "0d 0a 0d 0a" (spaces ignored). No REQUIRE here: it also runs at static initialisation, outside any test.
inline Bytes hex(std::string_view text)
{
    Bytes out;
    std::string digits;
    for (const char c : text)
        if (c != ' ' && c != '\n') digits += c;
    if (digits.size() % 2 != 0) throw std::invalid_argument("hex: odd number of digits");
    for (std::size_t i = 0; i < digits.size(); i += 2)
        out.push_back(uint8_t(std::stoul(digits.substr(i, 2), nullptr, 16)));
    return out;
}

inline Bytes concat(Bytes a, const Bytes& b)
{
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

// The v2 signature, then version/command, family/transport and the big-endian length.
inline Bytes v2_head(uint8_t version_command, uint8_t family_transport, std::size_t length)
{
    Bytes out = hex("0d0a0d0a000d0a515549540a");
    out.push_back(version_command);
    out.push_back(family_transport);
    out.push_back(uint8_t(length >> 8));
    out.push_back(uint8_t(length & 0xff));
    return out;
}

inline SocketAddress inet(const char* ip, uint16_t port)
{
    SocketAddress out;
    if (std::strchr(ip, ':')) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        REQUIRE(inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1);
        out.length = sizeof(sockaddr_in6);
    } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        REQUIRE(inet_pton(AF_INET, ip, &sin->sin_addr) == 1);
        out.length = sizeof(sockaddr_in);
    }
    return out;
}

// A path-name AF_UNIX address, length counting the NUL as getsockname() does.
inline SocketAddress unix_path(std::string_view path)
{
    SocketAddress out;
    auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
    sun->sun_family = AF_UNIX;
    std::memcpy(sun->sun_path, path.data(), path.size());
    out.length = socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + (path.size() < 108 ? 1 : 0));
    return out;
}

// "192.0.2.1:443", "[2001:db8::1]:80", "unix:/path": for comparing in assertions.
inline std::string text_of(const SocketAddress& address)
{
    char ip[INET6_ADDRSTRLEN] = {};
    if (address.family() == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&address.storage);
        inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof ip);
        return std::string(ip) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    if (address.family() == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&address.storage);
        inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof ip);
        return "[" + std::string(ip) + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    if (address.family() == AF_UNIX) {
        const auto* sun = reinterpret_cast<const sockaddr_un*>(&address.storage);
        const std::size_t used = address.length - offsetof(sockaddr_un, sun_path);
        std::string path(sun->sun_path, used);
        if (!path.empty() && path[0] == '\0') path[0] = '@';
        while (!path.empty() && path.back() == '\0')
            path.pop_back();
        return "unix:" + path;
    }
    return address.family() == AF_UNSPEC && address.length == 0 ? "none" : "family " + std::to_string(address.family());
}

inline Complete require_complete(const DecodeResult& result)
{
    if (const auto* error = std::get_if<DecodeError>(&result)) FAIL("decode error: " << error->message);
    REQUIRE(std::holds_alternative<Complete>(result));
    return std::get<Complete>(result);
}

inline DecodeError require_error(const DecodeResult& result)
{
    if (const auto* done = std::get_if<Complete>(&result)) FAIL("complete after " << done->consumed << " bytes");
    if (std::holds_alternative<NeedMore>(result)) FAIL("need more");
    return std::get<DecodeError>(result);
}

inline void require_same(const ProxyHeader& a, const ProxyHeader& b)
{
    REQUIRE(a.version == b.version);
    REQUIRE(a.command == b.command);
    REQUIRE(a.transport == b.transport);
    REQUIRE(a.use_socket_addresses == b.use_socket_addresses);
    REQUIRE(a.source.length == b.source.length);
    REQUIRE(std::memcmp(&a.source.storage, &b.source.storage, sizeof a.source.storage) == 0);
    REQUIRE(a.destination.length == b.destination.length);
    REQUIRE(std::memcmp(&a.destination.storage, &b.destination.storage, sizeof a.destination.storage) == 0);
    REQUIRE(a.tlvs.size() == b.tlvs.size());
    for (std::size_t i = 0; i < a.tlvs.size(); ++i) {
        REQUIRE(a.tlvs[i].type == b.tlvs[i].type);
        REQUIRE(a.tlvs[i].value == b.tlvs[i].value);
    }
    REQUIRE(a.ssl.has_value() == b.ssl.has_value());
}

// The checks every valid header gets: decoded whole, it is complete and consumes all of itself; followed by a
// payload, the payload is not consumed; every shorter prefix (what a connection has after any number of reads
// cut anywhere) is NeedMore with a lower bound that the header honours; fed in two pieces cut at every point,
// or one byte at a time, as a caller would accumulate them, it ends complete with the same header.
inline ProxyHeader check_valid(const Bytes& header, const DecodeOptions& options = {})
{
    const Complete whole = require_complete(decode(header, options));
    REQUIRE(whole.consumed == header.size());

    using namespace std::string_view_literals;
    const Bytes with_payload = concat(header, bytes_of("GET / HTTP/1.1\r\n\r\nPROXY TCP4 \r\n\0\r\n"sv));
    const Complete followed = require_complete(decode(with_payload, options));
    REQUIRE(followed.consumed == header.size());
    require_same(followed.header, whole.header);

    for (std::size_t cut = 0; cut < header.size(); ++cut) {
        INFO("prefix of " << cut << " bytes of " << header.size());
        const DecodeResult partial = decode(std::span(header).first(cut), options);
        if (const auto* error = std::get_if<DecodeError>(&partial)) FAIL("error on a prefix: " << error->message);
        const auto* more = std::get_if<NeedMore>(&partial);
        REQUIRE(more != nullptr);
        REQUIRE(more->at_least >= 1);
        REQUIRE(cut + more->at_least <= header.size());
        // Two reads: the prefix, then the rest (with the payload behind it).
        Bytes received(header.begin(), header.begin() + std::ptrdiff_t(cut));
        received.insert(received.end(), with_payload.begin() + std::ptrdiff_t(cut), with_payload.end());
        const Complete two_pieces = require_complete(decode(received, options));
        REQUIRE(two_pieces.consumed == header.size());
        require_same(two_pieces.header, whole.header);
    }
    return whole.header;
}

} // namespace ringd::proxy_protocol::test
