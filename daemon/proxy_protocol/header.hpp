// ProxyHeader: what a PROXY protocol header (HAProxy's doc/proxy-protocol.txt, v1 and v2) says about a
// connection, as the decoder returns it and the encoder takes it. Pure data, no I/O.
//
// Lifetime: a ProxyHeader owns copies of everything it holds (addresses, TLV values); it does not point into
// the bytes it was decoded from, so the receive buffer can be reused as soon as decode() returns. Its size is
// bounded by the decoder's cap (DecodeOptions::max_v2_block).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <sys/socket.h>
#include <vector>

namespace ringd::proxy_protocol {

enum class Version { v1, v2 };

// v2's command. A v1 header is always `proxy` (v1 UNKNOWN is reported as `proxy` with use_socket_addresses).
enum class Command {
    local, // the proxy's own connection (a health check): use the socket's addresses
    proxy, // relayed on behalf of a client: the header's addresses are the client's
};

// The relayed connection's socket type (v2's low nibble of byte 14; v1 is always TCP, so `stream`).
enum class Transport { unspec, stream, dgram };

// A socket address as getpeername() would give it: sockaddr_in, sockaddr_in6 or sockaddr_un.
struct SocketAddress {
    sockaddr_storage storage{};
    socklen_t length = 0;

    [[nodiscard]] int family() const { return storage.ss_family; }
    [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

// Registered TLV types (spec section 2.2) and the SSL TLV's sub-types (2.2.6).
namespace tlv_type {
inline constexpr uint8_t alpn = 0x01;
inline constexpr uint8_t authority = 0x02;
inline constexpr uint8_t crc32c = 0x03;
inline constexpr uint8_t noop = 0x04;
inline constexpr uint8_t unique_id = 0x05;
inline constexpr uint8_t ssl = 0x20;
inline constexpr uint8_t ssl_version = 0x21;
inline constexpr uint8_t ssl_cn = 0x22;
inline constexpr uint8_t ssl_cipher = 0x23;
inline constexpr uint8_t ssl_sig_alg = 0x24;
inline constexpr uint8_t ssl_key_alg = 0x25;
inline constexpr uint8_t ssl_group = 0x26;
inline constexpr uint8_t ssl_sig_scheme = 0x27;
inline constexpr uint8_t ssl_client_cert = 0x28;
inline constexpr uint8_t netns = 0x30;
} // namespace tlv_type

// The most bytes a UNIQUE_ID value may have (2.2.5).
inline constexpr std::size_t max_unique_id_bytes = 128;

// One TLV (type, value), the value copied out of the header.
struct Tlv {
    uint8_t type = 0;
    std::vector<uint8_t> value;

    [[nodiscard]] std::string_view text() const { return {reinterpret_cast<const char*>(value.data()), value.size()}; }
};

// The SSL TLV's fixed part and its sub-TLVs (2.2.6).
struct SslInfo {
    static constexpr uint8_t client_ssl = 0x01;       // the client connected over TLS
    static constexpr uint8_t client_cert_conn = 0x02; // it presented a certificate on this connection
    static constexpr uint8_t client_cert_sess = 0x04; // ... at least once on this TLS session

    uint8_t client = 0;  // the flags above
    uint32_t verify = 0; // 0: the client's certificate was verified
    std::vector<Tlv> sub_tlvs;

    [[nodiscard]] const Tlv* find(uint8_t type) const;
};

struct ProxyHeader {
    Version version = Version::v1;
    Command command = Command::proxy;
    Transport transport = Transport::stream;
    // True when the header carries no usable addresses: v1 UNKNOWN, v2 LOCAL, v2 family or transport UNSPEC.
    // The connection then keeps the socket's own peer and local addresses, and source/destination are empty.
    bool use_socket_addresses = false;
    SocketAddress source;      // the client (getpeername() had there been no proxy)
    SocketAddress destination; // the address the client connected to (getsockname())
    // v2: every TLV in wire order, including ones ringd does not know (kept raw for plugins), NOOP and CRC32C.
    std::vector<Tlv> tlvs;
    // v2: the SSL TLV's content, when there is one (its raw bytes are also in `tlvs`).
    std::optional<SslInfo> ssl;

    // The first TLV of `type`, or nullptr.
    [[nodiscard]] const Tlv* find(uint8_t type) const;
};

} // namespace ringd::proxy_protocol
