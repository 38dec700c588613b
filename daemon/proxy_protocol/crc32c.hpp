// CRC32C (Castagnoli, RFC 3720 / RFC 4960 appendix B): the checksum of the PROXY protocol v2 CRC32C TLV.
#pragma once

#include <cstdint>
#include <span>

namespace ringd::proxy_protocol {

// The CRC32C of `bytes`. To checksum in pieces, pass the previous result as `crc`:
// crc32c(b, crc32c(a)) == crc32c(a followed by b).
[[nodiscard]] uint32_t crc32c(std::span<const uint8_t> bytes, uint32_t crc = 0);

} // namespace ringd::proxy_protocol
