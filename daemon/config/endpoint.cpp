// Parsing of `listen:` endpoints and `allow:`/`deny:` CIDR ranges into socket addresses, and peer matching.
// Only numeric addresses are accepted: resolving host names at config time would make the daemon's behaviour
// depend on DNS at start-up, and a name can resolve to several addresses.
#include "config/endpoint.hpp"

#include <arpa/inet.h>
#include <charconv>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

namespace ringd::config {
namespace {

constexpr std::string_view endpoint_forms =
    "expected a listen address like tcp://127.0.0.1:8080, udp://[::1]:5353, unix:///run/ringd.sock or unix:@name";

std::string quoted(std::string_view text)
{
    return '"' + std::string(text) + '"';
}

// The longest name that fits in sun_path: a filesystem path needs its terminating NUL, and an abstract name
// needs the leading NUL that marks it abstract, so both get one byte less than sun_path.
constexpr size_t max_unix_name = sizeof(sockaddr_un::sun_path) - 1;

template <typename SockAddr> void store(Endpoint& endpoint, const SockAddr& address, socklen_t length)
{
    static_assert(sizeof(SockAddr) <= sizeof(sockaddr_storage));
    std::memcpy(&endpoint.address, &address, sizeof(SockAddr));
    endpoint.address_len = length;
}

// Decimal 1..65535; "0" is refused because binding port 0 picks a random port nobody could connect to.
uint16_t parse_port(std::string_view port, std::string_view text)
{
    unsigned value = 0;
    const char* end = port.data() + port.size();
    auto [rest, ec] = std::from_chars(port.data(), end, value);
    const bool digits_only = !port.empty() && port.front() >= '0' && port.front() <= '9' && rest == end;
    if (ec != std::errc{} || !digits_only || value == 0 || value > 65535)
        throw ParseError("expected a port from 1 to 65535, got " + quoted(port) + " in " + quoted(text));
    return static_cast<uint16_t>(value);
}

void parse_ipv6_host(Endpoint& endpoint, std::string_view host, uint16_t port, std::string_view text)
{
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_port = htons(port);
    if (inet_pton(AF_INET6, std::string(host).c_str(), &address.sin6_addr) != 1)
        throw ParseError("expected a numeric IPv6 address inside [ ], got " + quoted(host) + " in " + quoted(text));
    store(endpoint, address, sizeof(address));
}

void parse_ipv4_host(Endpoint& endpoint, std::string_view host, uint16_t port, std::string_view text)
{
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    if (inet_pton(AF_INET, std::string(host).c_str(), &address.sin_addr) != 1)
        throw ParseError("expected a numeric IPv4 address or a bracketed IPv6 address like [::1], got host " +
                         quoted(host) + " in " + quoted(text) + " (host names are not resolved)");
    store(endpoint, address, sizeof(address));
}

// "H:P" or "[H6]:P" after the tcp:// or udp:// scheme.
void parse_host_port(Endpoint& endpoint, std::string_view rest, std::string_view text)
{
    if (rest.starts_with('[')) {
        const size_t close = rest.find(']');
        if (close == std::string_view::npos) throw ParseError("missing ']' after the IPv6 address in " + quoted(text));
        if (close + 1 >= rest.size() || rest[close + 1] != ':') throw ParseError("missing :PORT in " + quoted(text));
        const uint16_t port = parse_port(rest.substr(close + 2), text);
        parse_ipv6_host(endpoint, rest.substr(1, close - 1), port, text);
        return;
    }
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) throw ParseError("missing :PORT in " + quoted(text));
    const std::string_view host = rest.substr(0, colon);
    if (host.find(':') != std::string_view::npos)
        throw ParseError("IPv6 addresses must be in brackets, like tcp://[::1]:8080, got " + quoted(text));
    if (host.empty()) throw ParseError("missing host in " + quoted(text) + "; use 0.0.0.0 or [::] for all addresses");
    parse_ipv4_host(endpoint, host, parse_port(rest.substr(colon + 1), text), text);
}

// `name` is the path of unix:///path (leading slash included) or the name of unix:@name.
void parse_unix(Endpoint& endpoint, std::string_view name, bool abstract, std::string_view text)
{
    if (abstract && name.empty()) throw ParseError("missing the abstract socket name after unix:@ in " + quoted(text));
    if (!abstract && !name.starts_with('/'))
        throw ParseError("expected an absolute unix socket path like unix:///run/ringd.sock, got " + quoted(text));
    if (name.find('\0') != std::string_view::npos) throw ParseError("NUL byte in unix socket address " + quoted(text));
    if (name.size() > max_unix_name)
        throw ParseError("unix socket name in " + quoted(text) + " is " + std::to_string(name.size()) +
                         " bytes long; at most " + std::to_string(max_unix_name) + " fit in sockaddr_un");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    // Abstract: sun_path[0] stays 0 and the length counts exactly the name (the kernel compares all of it).
    // Path: the length includes the terminating NUL, as getsockname() reports it.
    std::memcpy(address.sun_path + (abstract ? 1 : 0), name.data(), name.size());
    store(endpoint, address, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size()));
}

// sun_path of a unix endpoint, read through char so no sockaddr_un object needs to be aliased.
const char* sun_path_of(const Endpoint& endpoint)
{
    return reinterpret_cast<const char*>(&endpoint.address) + offsetof(sockaddr_un, sun_path);
}

constexpr std::string_view cidr_forms =
    "expected an IPv4 or IPv6 range like 10.0.0.0/8 or fd00::/8, or a single address";

// The prefix length after '/': decimal, at most `max_len` (32 or 128).
unsigned parse_prefix_len(std::string_view digits, unsigned max_len, std::string_view text)
{
    unsigned value = 0;
    const char* end = digits.data() + digits.size();
    auto [rest, ec] = std::from_chars(digits.data(), end, value);
    const bool digits_only = !digits.empty() && digits.front() >= '0' && digits.front() <= '9' && rest == end;
    if (ec != std::errc{} || !digits_only || value > max_len)
        throw ParseError("expected a prefix length from 0 to " + std::to_string(max_len) + " after '/', got " +
                         quoted(text));
    return value;
}

// Zeroes the bits beyond the prefix, so "10.1.2.3/8" means 10.0.0.0/8 (lenient, like most firewalls).
void mask_host_bits(Cidr& cidr)
{
    for (size_t i = 0; i < cidr.bytes.size(); ++i) {
        const unsigned bit = static_cast<unsigned>(i) * 8;
        if (bit >= cidr.prefix_len)
            cidr.bytes[i] = 0;
        else if (cidr.prefix_len - bit < 8)
            cidr.bytes[i] &= static_cast<uint8_t>(0xff00u >> (cidr.prefix_len - bit));
    }
}

bool prefix_matches(const std::array<uint8_t, 16>& range, const uint8_t* peer, unsigned prefix_len)
{
    const unsigned whole = prefix_len / 8;
    if (std::memcmp(range.data(), peer, whole) != 0) return false;
    const unsigned rest = prefix_len % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<uint8_t>(0xff00u >> rest);
    return (peer[whole] & mask) == range[whole];
}

// The address and prefix length of a range exactly as written, host bits included.
Cidr parse_cidr_as_written(std::string_view text)
{
    const size_t slash = text.find('/');
    const std::string_view host = text.substr(0, slash);
    Cidr cidr;
    cidr.family = host.find(':') != std::string_view::npos ? AF_INET6 : AF_INET;
    if (inet_pton(cidr.family, std::string(host).c_str(), cidr.bytes.data()) != 1)
        throw ParseError(std::string(cidr_forms) + ", got " + quoted(text));
    const unsigned max_len = cidr.family == AF_INET ? 32 : 128;
    cidr.prefix_len =
        slash == std::string_view::npos ? max_len : parse_prefix_len(text.substr(slash + 1), max_len, text);
    return cidr;
}

// A peer address in both forms a range may need: IPv4 (also for ::ffff:a.b.c.d) and IPv6 (IPv4 as mapped).
struct Peer {
    bool has_v4 = false;
    std::array<uint8_t, 4> v4{};
    std::array<uint8_t, 16> v6{};
};

constexpr std::array<uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

std::optional<Peer> peer_of(const sockaddr* address)
{
    Peer peer;
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof(in));
        peer.has_v4 = true;
        std::memcpy(peer.v4.data(), &in.sin_addr, 4);
        std::memcpy(peer.v6.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size());
        std::memcpy(peer.v6.data() + 12, peer.v4.data(), 4);
        return peer;
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof(in6));
        std::memcpy(peer.v6.data(), &in6.sin6_addr, 16);
        peer.has_v4 = std::memcmp(peer.v6.data(), v4_mapped_prefix.data(), v4_mapped_prefix.size()) == 0;
        std::memcpy(peer.v4.data(), peer.v6.data() + 12, 4);
        return peer;
    }
    return std::nullopt; // AF_UNIX and anything else: not an IP peer
}

} // namespace

bool Endpoint::is_abstract_unix() const
{
    return is_unix() && address_len > offsetof(sockaddr_un, sun_path) && sun_path_of(*this)[0] == '\0';
}

std::string Endpoint::unix_path() const
{
    if (!is_unix() || is_abstract_unix()) return {};
    // Bounded read, so that even an Endpoint filled in by hand with a full sun_path cannot overrun it.
    const char* path = sun_path_of(*this);
    return std::string(path, strnlen(path, sizeof(sockaddr_un::sun_path)));
}

bool Endpoint::same_address(const Endpoint& other) const
{
    return transport == other.transport && address_len == other.address_len &&
           std::memcmp(&address, &other.address, address_len) == 0;
}

Endpoint parse_endpoint(std::string_view text)
{
    Endpoint endpoint;
    endpoint.text = std::string(text);
    if (text.starts_with("tcp://") || text.starts_with("udp://")) {
        endpoint.transport = text.starts_with("tcp") ? Transport::tcp : Transport::udp;
        parse_host_port(endpoint, text.substr(6), text);
    } else if (text.starts_with("unix://")) {
        endpoint.transport = Transport::unix_stream;
        parse_unix(endpoint, text.substr(7), false, text);
    } else if (text.starts_with("unix:@")) {
        endpoint.transport = Transport::unix_stream;
        parse_unix(endpoint, text.substr(6), true, text);
    } else {
        throw ParseError(std::string(endpoint_forms) + ", got " + quoted(text));
    }
    return endpoint;
}

Cidr parse_cidr(std::string_view text)
{
    Cidr cidr = parse_cidr_as_written(text);
    mask_host_bits(cidr);
    return cidr;
}

bool cidr_has_host_bits(std::string_view text)
{
    const Cidr written = parse_cidr_as_written(text);
    Cidr masked = written;
    mask_host_bits(masked);
    return masked.bytes != written.bytes;
}

std::string format_cidr(const Cidr& cidr)
{
    char text[INET6_ADDRSTRLEN] = {};
    if (inet_ntop(cidr.family, cidr.bytes.data(), text, sizeof(text)) == nullptr) return "?";
    return std::string(text) + "/" + std::to_string(cidr.prefix_len);
}

bool Cidr::contains(const sockaddr* address) const
{
    if (address == nullptr) return false;
    const std::optional<Peer> peer = peer_of(address);
    if (!peer) return false;
    if (family == AF_INET) return peer->has_v4 && prefix_matches(bytes, peer->v4.data(), prefix_len);
    return prefix_matches(bytes, peer->v6.data(), prefix_len);
}

} // namespace ringd::config
