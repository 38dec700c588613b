// The PROXY protocol encoder, for the sending side (tcp-proxy's `send_proxy: v1 | v2`): the header that
// tells the next hop the addresses of the client's connection.
#pragma once

#include "proxy_protocol/header.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace ringd::proxy_protocol {

// The v1 line, CRLF included: "PROXY TCP4 ..." when both addresses are IPv4, "PROXY TCP6 ..." when both are
// IPv6 (written in hex groups, never with a dotted IPv4 tail), "PROXY UNKNOWN\r\n" otherwise (families differ,
// or are not IP). At most 107 bytes.
[[nodiscard]] std::string encode_v1(const SocketAddress& source, const SocketAddress& destination);

struct V2Encoding {
    Command command = Command::proxy;
    Transport transport = Transport::stream;
    // Appended in this order, after the addresses. A CRC32C TLV here is refused: ask for `crc32c` instead.
    std::span<const Tlv> tlvs;
    // Append a CRC32C TLV last, computed over the whole header (spec 2.2.3).
    bool crc32c = false;
};

// The v2 header. With Command::proxy and two addresses of the same family (IPv4, IPv6 or AF_UNIX), they are
// sent; otherwise (LOCAL, families that differ or are not supported) the family/transport byte is 0x00 UNSPEC
// and no addresses are sent, so the receiver uses the connection's own. Throws std::invalid_argument when the
// TLVs would not fit the 65535-byte length field or include a CRC32C TLV.
[[nodiscard]] std::vector<uint8_t> encode_v2(const SocketAddress& source, const SocketAddress& destination,
                                             const V2Encoding& encoding = {});

} // namespace ringd::proxy_protocol
