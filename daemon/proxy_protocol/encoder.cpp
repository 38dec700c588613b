// Writing v1 lines and v2 headers.
#include "proxy_protocol/encoder.hpp"

#include "proxy_protocol/crc32c.hpp"
#include "proxy_protocol/decoder_parts.hpp"
#include "proxy_protocol/inet_text.hpp"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/un.h>

namespace ringd::proxy_protocol {

namespace {

constexpr std::size_t unix_path_bytes = 108;
constexpr std::size_t max_v2_block = 65535;

bool is_ip(const SocketAddress& address)
{
    return (address.family() == AF_INET && address.length >= socklen_t(sizeof(sockaddr_in))) ||
           (address.family() == AF_INET6 && address.length >= socklen_t(sizeof(sockaddr_in6)));
}

bool is_unix(const SocketAddress& address)
{
    return address.family() == AF_UNIX && address.length >= socklen_t(offsetof(sockaddr_un, sun_path));
}

std::string ip_text(const SocketAddress& address)
{
    if (address.family() == AF_INET) {
        std::array<uint8_t, 4> bytes{};
        std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr, 4);
        return format_ipv4_text(bytes);
    }
    std::array<uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), &reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr, 16);
    return format_ipv6_text(bytes);
}

// Network order, as stored in the sockaddr.
std::array<uint8_t, 2> port_bytes(const SocketAddress& address)
{
    std::array<uint8_t, 2> port{};
    const void* from =
        address.family() == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_port)
            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_port);
    std::memcpy(port.data(), from, 2);
    return port;
}

uint16_t port_number(const SocketAddress& address)
{
    const auto port = port_bytes(address);
    return uint16_t(port[0] << 8 | port[1]);
}

void append_ip(std::vector<uint8_t>& out, const SocketAddress& address)
{
    const uint8_t* bytes =
        address.family() == AF_INET
            ? reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(&address.storage)->sin_addr)
            : reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(&address.storage)->sin6_addr);
    out.insert(out.end(), bytes, bytes + (address.family() == AF_INET ? 4 : 16));
}

// sun_path as given (path names with or without their NUL, abstract names), zero-padded to 108 bytes.
void append_unix(std::vector<uint8_t>& out, const SocketAddress& address)
{
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&address.storage);
    const std::size_t used = std::min(std::size_t(address.length) - offsetof(sockaddr_un, sun_path), unix_path_bytes);
    const auto* path = reinterpret_cast<const uint8_t*>(sun->sun_path);
    out.insert(out.end(), path, path + used);
    out.insert(out.end(), unix_path_bytes - used, 0);
}

void append_be16(std::vector<uint8_t>& out, std::size_t value)
{
    out.push_back(uint8_t(value >> 8));
    out.push_back(uint8_t(value & 0xff));
}

// The family/transport byte (spec 2.2) and whether addresses go with it.
uint8_t family_byte(const SocketAddress& source, const SocketAddress& destination, const V2Encoding& encoding)
{
    if (encoding.command != Command::proxy || source.family() != destination.family()) return 0x00;
    const uint8_t transport = encoding.transport == Transport::stream  ? 0x1
                              : encoding.transport == Transport::dgram ? 0x2
                                                                       : 0x0;
    if (transport == 0) return 0x00;
    if (is_ip(source) && is_ip(destination)) return uint8_t((source.family() == AF_INET ? 0x10 : 0x20) | transport);
    if (is_unix(source) && is_unix(destination)) return uint8_t(0x30 | transport);
    return 0x00;
}

} // namespace

std::string encode_v1(const SocketAddress& source, const SocketAddress& destination)
{
    if (!is_ip(source) || !is_ip(destination) || source.family() != destination.family()) return "PROXY UNKNOWN\r\n";
    std::string line = source.family() == AF_INET ? "PROXY TCP4 " : "PROXY TCP6 ";
    line += ip_text(source) + ' ' + ip_text(destination) + ' ';
    line += std::to_string(port_number(source)) + ' ' + std::to_string(port_number(destination)) + "\r\n";
    return line;
}

std::vector<uint8_t> encode_v2(const SocketAddress& source, const SocketAddress& destination,
                               const V2Encoding& encoding)
{
    std::vector<uint8_t> out(v2_signature.begin(), v2_signature.end());
    out.push_back(encoding.command == Command::proxy ? 0x21 : 0x20);
    const uint8_t family = family_byte(source, destination, encoding);
    out.push_back(family);
    append_be16(out, 0); // the length, filled in below
    if ((family >> 4) == 0x3) {
        append_unix(out, source);
        append_unix(out, destination);
    } else if (family != 0x00) {
        append_ip(out, source);
        append_ip(out, destination);
        const auto source_port = port_bytes(source);
        const auto destination_port = port_bytes(destination);
        out.insert(out.end(), source_port.begin(), source_port.end());
        out.insert(out.end(), destination_port.begin(), destination_port.end());
    }
    for (const Tlv& tlv : encoding.tlvs) {
        if (tlv.type == tlv_type::crc32c)
            throw std::invalid_argument(
                "PROXY v2 encoder: a CRC32C TLV is computed by the encoder (V2Encoding::crc32c)");
        if (tlv.value.size() > max_v2_block)
            throw std::invalid_argument("PROXY v2 encoder: a TLV value longer than 65535 bytes");
        out.push_back(tlv.type);
        append_be16(out, tlv.value.size());
        out.insert(out.end(), tlv.value.begin(), tlv.value.end());
    }
    std::size_t crc_at = 0;
    if (encoding.crc32c) {
        out.push_back(tlv_type::crc32c);
        append_be16(out, 4);
        crc_at = out.size();
        out.insert(out.end(), 4, 0);
    }
    const std::size_t block = out.size() - v2_fixed_bytes;
    if (block > max_v2_block)
        throw std::invalid_argument("PROXY v2 encoder: addresses and TLVs exceed the 65535-byte length field");
    out[14] = uint8_t(block >> 8);
    out[15] = uint8_t(block & 0xff);
    if (encoding.crc32c) {
        const uint32_t crc = crc32c(out); // over the whole header, the checksum field still zero
        for (int i = 0; i < 4; ++i)
            out[crc_at + std::size_t(i)] = uint8_t(crc >> (24 - 8 * i));
    }
    return out;
}

} // namespace ringd::proxy_protocol
