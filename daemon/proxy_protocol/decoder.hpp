// The PROXY protocol decoder: given the bytes a connection (or datagram) has received so far, it says whether
// they start with a complete, valid header (and how long it is), need more bytes, or can never become one.
//
// It is a pure function of the bytes: the caller keeps the received prefix and calls decode() again with more.
// It decides as early as the bytes allow (a first byte that cannot start a header is an error at once, a v2
// signature mismatch at its first wrong byte, a v1 line at its first character that cannot fit the grammar),
// and it never looks past the end of the header: what follows belongs to the plugin.
//
// Bounds: a v1 line is at most 107 bytes with its CRLF (spec 2.1); a v2 header is 16 bytes plus its length
// field, which must not exceed DecodeOptions::max_v2_block. So the caller never needs to hold more than
// max_header_bytes(options) bytes for it.
//
// What is accepted and refused, exactly: docs/proxy-protocol.md.
#pragma once

#include "proxy_protocol/header.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace ringd::proxy_protocol {

// Which header versions a listener accepts. `any` tells them apart by the first byte ('P' or '\r').
enum class Accept { v1, v2, any };

struct DecodeOptions {
    Accept accept = Accept::any;
    // The most bytes of addresses and TLVs (v2's length field) accepted. The protocol allows 65535; the default
    // is plenty for addresses (at most 216 bytes, for AF_UNIX) and the usual TLVs. Values above 65535 mean 65535.
    std::size_t max_v2_block = 4096;
};

// The longest a v1 line may be, CRLF included ("PROXY UNKNOWN" with two full IPv6 addresses and ports).
inline constexpr std::size_t max_v1_bytes = 107;
// The fixed part of a v2 header: 12 bytes of signature, version and command, family and transport, length.
inline constexpr std::size_t v2_fixed_bytes = 16;

// The most bytes decode() may need before it decides, under `options`.
[[nodiscard]] std::size_t max_header_bytes(const DecodeOptions& options);

// Why bytes were refused. Each kind has a stable name (describe()) for logs and metrics; the message of a
// DecodeError says precisely what was wrong.
enum class ErrorKind {
    not_proxy_protocol,   // the first bytes start neither a v1 nor a v2 header
    version_not_accepted, // a valid start of the version this listener does not accept
    v1_syntax,            // a v1 line that does not match the grammar (spaces, keywords, CRLF, fields)
    v1_too_long,          // no CRLF within 107 bytes
    v1_address,           // a v1 address that is not a valid one of the announced family
    v1_port,              // a v1 port that is not a decimal 0..65535 without leading zeros
    v2_signature,         // bytes 1..12 are not the v2 signature
    v2_version,           // the version nibble is not 2
    v2_command,           // a command other than LOCAL and PROXY
    v2_family,            // an address family or transport byte the spec does not assign
    v2_too_large,         // the length field exceeds the configured cap
    v2_address_length,    // the length field is too short for the announced addresses
    v2_tlv,               // a TLV overruns the header, or a registered TLV's value has the wrong size
    v2_crc_mismatch,      // the CRC32C TLV does not match the header
};

[[nodiscard]] std::string_view describe(ErrorKind kind);

// The bytes so far are a valid start; at least `at_least` more are needed (a lower bound, at least 1).
struct NeedMore {
    std::size_t at_least = 1;
};

// A complete header: the first `consumed` bytes of the input; the rest (if any) is payload.
struct Complete {
    std::size_t consumed = 0;
    ProxyHeader header;
};

struct DecodeError {
    ErrorKind kind = ErrorKind::not_proxy_protocol;
    std::string message; // e.g. "v2 header: address length 12 too short for TCP over IPv6 (36)"
};

using DecodeResult = std::variant<NeedMore, Complete, DecodeError>;

// Decodes the header at the start of `received` (all bytes received so far on the connection, or one datagram).
// A datagram is complete by definition: for UDP, a NeedMore result means the datagram is truncated.
[[nodiscard]] DecodeResult decode(std::span<const uint8_t> received, const DecodeOptions& options = {});

} // namespace ringd::proxy_protocol
