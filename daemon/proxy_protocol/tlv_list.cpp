// v2 TLVs (spec 2.2): a list of (type: 1 byte, length: 2 bytes big-endian, value), exactly filling the rest of
// the header, and the checks on the registered types whose value the spec constrains.
#include "proxy_protocol/decoder_parts.hpp"

namespace ringd::proxy_protocol {

namespace {

constexpr std::size_t tlv_head_bytes = 3;
constexpr std::size_t ssl_fixed_bytes = 5; // client (1) + verify (4)

std::optional<DecodeError> read_ssl(const Tlv& tlv, SslInfo& ssl)
{
    if (tlv.value.size() < ssl_fixed_bytes)
        return make_error(ErrorKind::v2_tlv, "v2 header: SSL TLV of %zu bytes, shorter than its fixed part (%zu)",
                          tlv.value.size(), ssl_fixed_bytes);
    const uint8_t* v = tlv.value.data();
    ssl.client = v[0];
    ssl.verify = uint32_t(v[1]) << 24 | uint32_t(v[2]) << 16 | uint32_t(v[3]) << 8 | v[4];
    // Sub-TLV offsets in messages are relative to the SSL TLV's value.
    return parse_tlv_list(std::span(tlv.value).subspan(ssl_fixed_bytes), ssl_fixed_bytes, "SSL TLV", ssl.sub_tlvs,
                          nullptr);
}

} // namespace

std::optional<DecodeError> parse_tlv_list(std::span<const uint8_t> bytes, std::size_t offset, std::string_view where,
                                          std::vector<Tlv>& out, std::optional<std::size_t>* crc_value_offset)
{
    const std::string place(where);
    while (!bytes.empty()) {
        if (bytes.size() < tlv_head_bytes)
            return make_error(ErrorKind::v2_tlv, "%s: %zu bytes at offset %zu, too few for a TLV's type and length (3)",
                              place.c_str(), bytes.size(), offset);
        const uint8_t type = bytes[0];
        const std::size_t length = std::size_t(bytes[1]) << 8 | bytes[2];
        if (tlv_head_bytes + length > bytes.size())
            return make_error(ErrorKind::v2_tlv,
                              "%s: TLV 0x%02x at offset %zu has length %zu, %zu bytes more than are left",
                              place.c_str(), unsigned(type), offset, length, tlv_head_bytes + length - bytes.size());
        if (crc_value_offset && type == tlv_type::crc32c) {
            if (*crc_value_offset)
                return make_error(ErrorKind::v2_tlv, "%s: a second CRC32C TLV at offset %zu", place.c_str(), offset);
            if (length != 4)
                return make_error(ErrorKind::v2_tlv, "%s: CRC32C TLV of length %zu (it is 4)", place.c_str(), length);
            *crc_value_offset = offset + tlv_head_bytes;
        }
        const auto value = bytes.subspan(tlv_head_bytes, length);
        out.push_back(Tlv{type, std::vector<uint8_t>(value.begin(), value.end())});
        bytes = bytes.subspan(tlv_head_bytes + length);
        offset += tlv_head_bytes + length;
    }
    return std::nullopt;
}

std::optional<DecodeError> check_registered_tlvs(ProxyHeader& header)
{
    for (const Tlv& tlv : header.tlvs) {
        if (tlv.type == tlv_type::unique_id && tlv.value.size() > max_unique_id_bytes)
            return make_error(ErrorKind::v2_tlv, "v2 header: UNIQUE_ID TLV of %zu bytes (at most %zu)",
                              tlv.value.size(), max_unique_id_bytes);
        if (tlv.type == tlv_type::ssl) {
            // Every SSL TLV must be well formed; the first one is the one reported.
            SslInfo ssl;
            if (auto error = read_ssl(tlv, ssl)) return error;
            if (!header.ssl) header.ssl = std::move(ssl);
        }
    }
    return std::nullopt;
}

} // namespace ringd::proxy_protocol
