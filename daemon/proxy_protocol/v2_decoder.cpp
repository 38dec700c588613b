// The v2 (binary) header (spec 2.2): 12 bytes of signature, version/command, family/transport, a big-endian
// length, then that many bytes of addresses and TLVs.
//
// Each fixed byte is checked as soon as it arrives, and the length against the cap and the family's address
// size as soon as the 16 fixed bytes are there, so a bad header is refused before its block is waited for.
#include "proxy_protocol/crc32c.hpp"
#include "proxy_protocol/decoder_parts.hpp"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>
#include <sys/un.h>

namespace ringd::proxy_protocol {

namespace {

enum class Family : uint8_t { unspec = 0, inet = 1, inet6 = 2, unix_path = 3 };

constexpr std::size_t unix_path_bytes = 108;

// The bytes a family's addresses take in the block: two addresses, then two ports for IP (spec 2.2).
std::size_t address_block_bytes(Family family)
{
    switch (family) {
    case Family::unspec:
        return 0;
    case Family::inet:
        return 2 * 4 + 2 * 2;
    case Family::inet6:
        return 2 * 16 + 2 * 2;
    case Family::unix_path:
        return 2 * unix_path_bytes;
    }
    return 0;
}

// "TCP over IPv6", "UNIX datagram", ...: the names the spec gives the family/transport combinations.
std::string family_name(Family family, Transport transport)
{
    const char* over = family == Family::inet ? "IPv4" : family == Family::inet6 ? "IPv6" : nullptr;
    if (over) {
        const char* protocol = transport == Transport::stream  ? "TCP"
                               : transport == Transport::dgram ? "UDP"
                                                               : "UNSPEC";
        return std::string(protocol) + " over " + over;
    }
    if (family == Family::unix_path)
        return transport == Transport::stream  ? "UNIX stream"
               : transport == Transport::dgram ? "UNIX datagram"
                                               : "UNIX with unspecified transport";
    return "UNSPEC";
}

uint16_t read_be16(const uint8_t* bytes)
{
    return uint16_t(bytes[0] << 8 | bytes[1]);
}

SocketAddress ip_address(Family family, const uint8_t* address, const uint8_t* port)
{
    SocketAddress out;
    if (family == Family::inet) {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, address, 4);
        std::memcpy(&sin->sin_port, port, 2); // both in network order
        out.length = sizeof(sockaddr_in);
    } else {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
        sin6->sin6_family = AF_INET6;
        std::memcpy(&sin6->sin6_addr, address, 16);
        std::memcpy(&sin6->sin6_port, port, 2);
        out.length = sizeof(sockaddr_in6);
    }
    return out;
}

// A 108-byte, zero-padded sun_path. A path name ends at its first NUL; an abstract name (first byte NUL) has no
// terminator, so it is taken to end at its last non-NUL byte (trailing NULs of an abstract name are lost).
SocketAddress unix_address(const uint8_t* path)
{
    SocketAddress out;
    auto* sun = reinterpret_cast<sockaddr_un*>(&out.storage);
    static_assert(sizeof(sun->sun_path) == unix_path_bytes);
    sun->sun_family = AF_UNIX;
    std::memcpy(sun->sun_path, path, unix_path_bytes);
    std::size_t used = 0;
    if (path[0] != 0) {
        used = strnlen(sun->sun_path, unix_path_bytes);
        if (used < unix_path_bytes) ++used; // the terminating NUL, as getsockname() counts it
    } else {
        for (std::size_t i = unix_path_bytes; i > 0; --i)
            if (path[i - 1] != 0) {
                used = i;
                break;
            }
    }
    out.length = socklen_t(offsetof(sockaddr_un, sun_path) + used);
    return out;
}

void read_addresses(Family family, const uint8_t* block, ProxyHeader& header)
{
    if (family == Family::unix_path) {
        header.source = unix_address(block);
        header.destination = unix_address(block + unix_path_bytes);
        return;
    }
    const std::size_t size = family == Family::inet ? 4 : 16;
    const uint8_t* ports = block + 2 * size;
    header.source = ip_address(family, block, ports);
    header.destination = ip_address(family, block + size, ports + 2);
}

// Bytes 1..16: signature, version, command, family, transport, as far as they have arrived.
std::optional<DecodeError> check_fixed_part(std::span<const uint8_t> received)
{
    const std::size_t n = std::min(received.size(), v2_signature.size());
    for (std::size_t i = 0; i < n; ++i)
        if (received[i] != v2_signature[i])
            return make_error(ErrorKind::v2_signature,
                              "v2 header: byte %zu is 0x%02x, the v2 signature has 0x%02x there", i + 1,
                              unsigned(received[i]), unsigned(v2_signature[i]));
    if (received.size() > 12) {
        const unsigned version = received[12] >> 4;
        const unsigned command = received[12] & 0x0f;
        if (version != 2)
            return make_error(ErrorKind::v2_version, "v2 header: version %u (only 2 is defined)", version);
        if (command > 1)
            return make_error(ErrorKind::v2_command, "v2 header: command %u (only 0 LOCAL and 1 PROXY are defined)",
                              command);
    }
    if (received.size() > 13) {
        const unsigned family = received[13] >> 4;
        const unsigned transport = received[13] & 0x0f;
        if (family > 3)
            return make_error(ErrorKind::v2_family,
                              "v2 header: address family %u (0 UNSPEC, 1 INET, 2 INET6, 3 UNIX are defined)", family);
        if (transport > 2)
            return make_error(ErrorKind::v2_family, "v2 header: transport %u (0 UNSPEC, 1 STREAM, 2 DGRAM are defined)",
                              transport);
    }
    return std::nullopt;
}

// Recomputes the CRC32C of the whole header with the CRC TLV's value taken as zeros (spec 2.2.3).
std::optional<DecodeError> verify_crc(std::span<const uint8_t> header_bytes, std::size_t value_offset)
{
    const uint8_t* value = header_bytes.data() + value_offset;
    const uint32_t sent = uint32_t(value[0]) << 24 | uint32_t(value[1]) << 16 | uint32_t(value[2]) << 8 | value[3];
    const std::array<uint8_t, 4> zeros{};
    uint32_t crc = crc32c(header_bytes.first(value_offset));
    crc = crc32c(zeros, crc);
    crc = crc32c(header_bytes.subspan(value_offset + 4), crc);
    if (crc != sent)
        return make_error(ErrorKind::v2_crc_mismatch, "v2 header: CRC32C TLV says 0x%08x, the header's is 0x%08x", sent,
                          crc);
    return std::nullopt;
}

} // namespace

bool could_start_v2(std::span<const uint8_t> received)
{
    const std::size_t n = std::min(received.size(), v2_signature.size());
    return std::equal(received.begin(), received.begin() + std::ptrdiff_t(n), v2_signature.begin());
}

DecodeResult decode_v2(std::span<const uint8_t> received, const DecodeOptions& options)
{
    if (auto error = check_fixed_part(received)) return *error;
    if (received.size() < v2_fixed_bytes) return NeedMore{v2_fixed_bytes - received.size()};

    const auto command = (received[12] & 0x0f) == 0 ? Command::local : Command::proxy;
    const auto family = Family(received[13] >> 4);
    const auto transport = Transport(received[13] & 0x0f); // 0, 1, 2 as the enum's order
    const std::size_t length = read_be16(&received[14]);
    if (length > options.max_v2_block)
        return make_error(ErrorKind::v2_too_large,
                          "v2 header: length %zu exceeds the configured maximum of %zu bytes of addresses and TLVs",
                          length, options.max_v2_block);
    const std::size_t addresses = address_block_bytes(family);
    // LOCAL ignores the family, so a short block is no error there (spec 2.2: "must not assume zero").
    if (command == Command::proxy && length < addresses)
        return make_error(ErrorKind::v2_address_length, "v2 header: address length %zu too short for %s (%zu)", length,
                          family_name(family, transport).c_str(), addresses);
    const std::size_t total = v2_fixed_bytes + length;
    if (received.size() < total) return NeedMore{total - received.size()};

    const std::span<const uint8_t> header_bytes = received.first(total);
    ProxyHeader header;
    header.version = Version::v2;
    header.command = command;
    header.transport = transport;
    header.use_socket_addresses =
        command == Command::local || family == Family::unspec || transport == Transport::unspec;
    if (!header.use_socket_addresses) read_addresses(family, &header_bytes[v2_fixed_bytes], header);

    const std::size_t tlv_start = v2_fixed_bytes + std::min(addresses, length);
    std::optional<std::size_t> crc_value_offset;
    if (auto error =
            parse_tlv_list(header_bytes.subspan(tlv_start), tlv_start, "v2 header", header.tlvs, &crc_value_offset))
        return *error;
    if (auto error = check_registered_tlvs(header)) return *error;
    if (crc_value_offset)
        if (auto error = verify_crc(header_bytes, *crc_value_offset)) return *error;
    return Complete{total, std::move(header)};
}

} // namespace ringd::proxy_protocol
