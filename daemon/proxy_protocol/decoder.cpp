// decode(): picks the version from the first byte and hands over to decode_v1 / decode_v2; the error wording
// helpers they share.
#include "proxy_protocol/decoder.hpp"

#include "proxy_protocol/decoder_parts.hpp"

#include <algorithm>
#include <cstdarg>
#include <cstdio>

namespace ringd::proxy_protocol {

namespace {

constexpr std::size_t max_v2_length_field = 65535;

DecodeResult refuse_first_bytes(std::span<const uint8_t> received, Accept accept)
{
    const unsigned first = received[0];
    if (accept == Accept::v2 && could_start_v1(received))
        return make_error(ErrorKind::version_not_accepted,
                          "a v1 header (\"PROXY ...\") where only v2 is accepted (the first byte is 'P', a v2 "
                          "header starts with \\r)");
    if (accept == Accept::v1 && could_start_v2(received))
        return make_error(ErrorKind::version_not_accepted,
                          "a v2 header (binary signature) where only v1 is accepted (\"PROXY ...\")");
    const char* expected = accept == Accept::v1   ? "a v1 header (\"PROXY \")"
                           : accept == Accept::v2 ? "a v2 header (\\r\\n\\r\\n\\0\\r\\nQUIT\\n)"
                                                  : "a v1 (\"PROXY \") or v2 (\\r\\n\\r\\n\\0\\r\\nQUIT\\n) header";
    return make_error(ErrorKind::not_proxy_protocol,
                      "not a PROXY protocol header: the first byte 0x%02x cannot start %s", first, expected);
}

} // namespace

std::size_t max_header_bytes(const DecodeOptions& options)
{
    const std::size_t v2 = v2_fixed_bytes + std::min(options.max_v2_block, max_v2_length_field);
    switch (options.accept) {
    case Accept::v1:
        return max_v1_bytes;
    case Accept::v2:
        return v2;
    case Accept::any:
        return std::max(max_v1_bytes, v2);
    }
    return v2;
}

DecodeResult decode(std::span<const uint8_t> received, const DecodeOptions& options)
{
    if (received.empty()) return NeedMore{options.accept == Accept::v2 ? v2_fixed_bytes : min_v1_bytes};
    const bool v1_start = received[0] == uint8_t(v1_prefix[0]);
    const bool v2_start = received[0] == v2_signature[0];
    if (v1_start && options.accept != Accept::v2) return decode_v1(received);
    if (v2_start && options.accept != Accept::v1) {
        DecodeOptions capped = options;
        capped.max_v2_block = std::min(options.max_v2_block, max_v2_length_field);
        return decode_v2(received, capped);
    }
    return refuse_first_bytes(received, options.accept);
}

std::string_view describe(ErrorKind kind)
{
    switch (kind) {
    case ErrorKind::not_proxy_protocol:
        return "not_proxy_protocol";
    case ErrorKind::version_not_accepted:
        return "version_not_accepted";
    case ErrorKind::v1_syntax:
        return "v1_syntax";
    case ErrorKind::v1_too_long:
        return "v1_too_long";
    case ErrorKind::v1_address:
        return "v1_address";
    case ErrorKind::v1_port:
        return "v1_port";
    case ErrorKind::v2_signature:
        return "v2_signature";
    case ErrorKind::v2_version:
        return "v2_version";
    case ErrorKind::v2_command:
        return "v2_command";
    case ErrorKind::v2_family:
        return "v2_family";
    case ErrorKind::v2_too_large:
        return "v2_too_large";
    case ErrorKind::v2_address_length:
        return "v2_address_length";
    case ErrorKind::v2_tlv:
        return "v2_tlv";
    case ErrorKind::v2_crc_mismatch:
        return "v2_crc_mismatch";
    }
    return "unknown";
}

DecodeError make_error(ErrorKind kind, const char* format, ...)
{
    char text[256];
    va_list args;
    va_start(args, format);
    std::vsnprintf(text, sizeof text, format, args);
    va_end(args);
    return DecodeError{kind, text};
}

std::string quoted(std::string_view text)
{
    constexpr std::size_t max_shown = 40;
    std::string out = "\"";
    for (std::size_t i = 0; i < text.size() && i < max_shown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out += char(c);
        } else {
            char escaped[5];
            std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
            out += escaped;
        }
    }
    out += text.size() > max_shown ? "\"..." : "\"";
    return out;
}

} // namespace ringd::proxy_protocol
