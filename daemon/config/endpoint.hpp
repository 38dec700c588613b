// Listener endpoints (`listen:` values) and CIDR ranges (`allow:`/`deny:` entries): parsing and matching.
// Pure logic with no I/O, so it is unit-tested directly (tests/config/endpoint_test.cpp).
#pragma once

#include <array>
#include <cstdint>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>

namespace ringd::config {

// Thrown by the parsers below with a message saying what was expected; the config loader adds file:line:col.
class ParseError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class Transport { tcp, udp, unix_stream };

// A parsed `listen:` value. Accepted forms:
//   tcp://H:P  udp://H:P   H = dotted IPv4, or [IPv6] in brackets; P = 1..65535 (0 is refused)
//   unix:///absolute/path  unix:@abstract-name
struct Endpoint {
    Transport transport = Transport::tcp;
    sockaddr_storage address{};
    socklen_t address_len = 0;
    std::string text; // as written by the user, for messages

    [[nodiscard]] int family() const { return address.ss_family; }
    [[nodiscard]] bool is_unix() const { return transport == Transport::unix_stream; }
    [[nodiscard]] bool is_abstract_unix() const;
    [[nodiscard]] std::string unix_path() const; // filesystem path (empty for abstract)
    [[nodiscard]] bool is_stream() const { return transport != Transport::udp; }
    // True if both would bind the same socket (same transport and byte-identical address).
    [[nodiscard]] bool same_address(const Endpoint& other) const;
};

// Throws ParseError.
[[nodiscard]] Endpoint parse_endpoint(std::string_view text);

// An IPv4 or IPv6 prefix, e.g. 127.0.0.0/8 or ::1/128. A bare address means a full-length prefix.
// IPv4-mapped IPv6 peers (::ffff:a.b.c.d) are matched against IPv4 ranges.
struct Cidr {
    int family = AF_INET;
    std::array<uint8_t, 16> bytes{};
    unsigned prefix_len = 0;
    [[nodiscard]] bool contains(const sockaddr* address) const;
};

// Throws ParseError. Address bits beyond the prefix are cleared: "10.1.2.3/8" is 10.0.0.0/8.
[[nodiscard]] Cidr parse_cidr(std::string_view text);

// True when `text` has address bits set beyond its prefix ("10.1.2.3/8"), which parse_cidr clears. Such a range
// is valid but almost never what was meant (a host address with a wrong prefix length). Throws ParseError.
[[nodiscard]] bool cidr_has_host_bits(std::string_view text);

// "10.0.0.0/8", "fd00::/8": the range in canonical form.
[[nodiscard]] std::string format_cidr(const Cidr& cidr);

} // namespace ringd::config
