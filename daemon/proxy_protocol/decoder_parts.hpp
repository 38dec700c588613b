// The decoder's pieces, shared between its files and not part of its interface: the v1 and v2 decoders that
// decode() dispatches to, the TLV list walker, and the helpers that word the errors.
#pragma once

#include "proxy_protocol/decoder.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::proxy_protocol {

inline constexpr std::string_view v1_prefix = "PROXY ";
// The shortest v1 line: "PROXY UNKNOWN\r\n".
inline constexpr std::size_t min_v1_bytes = 15;
inline constexpr std::array<uint8_t, 12> v2_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                         0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// `received` starts with 'P' (or is being checked as v1 anyway).
[[nodiscard]] DecodeResult decode_v1(std::span<const uint8_t> received);
// `received` starts with '\r'.
[[nodiscard]] DecodeResult decode_v2(std::span<const uint8_t> received, const DecodeOptions& options);

// Whether the bytes so far could still be the start of a v1 line / of a v2 header (used to word the refusal of
// a version the listener does not accept).
[[nodiscard]] bool could_start_v1(std::span<const uint8_t> received);
[[nodiscard]] bool could_start_v2(std::span<const uint8_t> received);

// Walks a TLV list (`bytes`, which begins `offset` bytes into the header) into `out`; `where` names the list in
// messages ("v2 header", "SSL TLV"). When `crc_value_offset` is given, it receives the header offset of the
// CRC32C TLV's value, and a second CRC32C TLV is an error.
[[nodiscard]] std::optional<DecodeError> parse_tlv_list(std::span<const uint8_t> bytes, std::size_t offset,
                                                        std::string_view where, std::vector<Tlv>& out,
                                                        std::optional<std::size_t>* crc_value_offset);

// Checks the values of the registered TLVs whose size the spec fixes, and reads the SSL TLV.
[[nodiscard]] std::optional<DecodeError> check_registered_tlvs(ProxyHeader& header);

// A DecodeError whose message is printf-formatted.
[[nodiscard]] DecodeError make_error(ErrorKind kind, const char* format, ...) __attribute__((format(printf, 2, 3)));

// `text` quoted for a message: printable ASCII as is, other bytes as \xNN, cut after 40 characters.
[[nodiscard]] std::string quoted(std::string_view text);

} // namespace ringd::proxy_protocol
