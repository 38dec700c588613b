// libFuzzer target: the PROXY protocol decoder and encoder (daemon/proxy_protocol).
//
// The first input byte picks the options (accepted versions, the v2 cap) and a cut point; the rest is what a
// connection received. Beyond "no crash, no sanitizer report", it checks that
//   - a complete header consumes at most the input, at most its version's bound, and exactly the same bytes
//     and header whatever follows it; one byte fewer is NeedMore (the header never ends early);
//   - a verdict never goes back: a prefix of complete or refused input is never complete with another length;
//   - NeedMore's lower bound stays within max_header_bytes(); an error has a name and a message;
//   - re-encoding a decoded header (v1 or v2, its addresses, command, transport, TLVs, a CRC32C if it had one)
//     decodes to the same addresses and TLVs.
#include "proxy_protocol/decoder.hpp"
#include "proxy_protocol/encoder.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

using namespace ringd::proxy_protocol;

namespace {

void check(bool condition)
{
    if (!condition) std::abort();
}

bool same_address(const SocketAddress& a, const SocketAddress& b)
{
    return a.length == b.length && std::memcmp(&a.storage, &b.storage, a.length) == 0;
}

// The TLVs other than CRC32C, which the encoder writes itself (last).
std::vector<Tlv> tlvs_without_crc(const ProxyHeader& header)
{
    std::vector<Tlv> out;
    for (const Tlv& tlv : header.tlvs)
        if (tlv.type != tlv_type::crc32c) out.push_back(tlv);
    return out;
}

void check_round_trip(const ProxyHeader& header)
{
    std::vector<uint8_t> encoded;
    const std::vector<Tlv> tlvs = tlvs_without_crc(header);
    if (header.version == Version::v1) {
        const std::string line = encode_v1(header.source, header.destination);
        encoded.assign(line.begin(), line.end());
    } else {
        V2Encoding encoding;
        encoding.command = header.command;
        encoding.transport = header.transport;
        encoding.tlvs = tlvs;
        encoding.crc32c = header.find(tlv_type::crc32c) != nullptr;
        encoded = encode_v2(header.source, header.destination, encoding);
    }
    DecodeOptions options;
    options.max_v2_block = 65535;
    const DecodeResult again = decode(encoded, options);
    const auto* done = std::get_if<Complete>(&again);
    check(done != nullptr && done->consumed == encoded.size());
    const ProxyHeader& copy = done->header;
    check(copy.version == header.version && copy.use_socket_addresses == header.use_socket_addresses);
    check(same_address(copy.source, header.source) && same_address(copy.destination, header.destination));
    if (header.version == Version::v2) {
        check(copy.command == header.command);
        const std::vector<Tlv> copied = tlvs_without_crc(copy);
        check(copied.size() == tlvs.size());
        for (std::size_t i = 0; i < tlvs.size(); ++i)
            check(copied[i].type == tlvs[i].type && copied[i].value == tlvs[i].value);
        check(copy.ssl.has_value() == header.ssl.has_value());
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size == 0) return 0;
    static constexpr std::size_t caps[] = {4096, 0, 12, 216, 300, 65535, 1 << 20, 4096};
    DecodeOptions options;
    options.accept = Accept(data[0] % 3);
    options.max_v2_block = caps[(data[0] >> 2) & 7];
    const std::size_t cut_selector = data[0] >> 5;
    const std::span<const uint8_t> input(data + 1, size - 1);

    const DecodeResult result = decode(input, options);
    if (const auto* done = std::get_if<Complete>(&result)) {
        const std::size_t consumed = done->consumed;
        check(consumed <= input.size());
        check(consumed <= max_header_bytes(options));
        check(done->header.version == Version::v1 ? consumed >= 15 && consumed <= max_v1_bytes : consumed >= 16);
        const DecodeResult exact = decode(input.first(consumed), options);
        check(std::holds_alternative<Complete>(exact) && std::get<Complete>(exact).consumed == consumed);
        check(std::holds_alternative<NeedMore>(decode(input.first(consumed - 1), options)));
        check_round_trip(done->header);
    } else if (const auto* more = std::get_if<NeedMore>(&result)) {
        check(more->at_least >= 1);
        check(input.size() + more->at_least <= max_header_bytes(options));
    } else {
        const auto& error = std::get<DecodeError>(result);
        check(!error.message.empty() && describe(error.kind) != "unknown");
    }

    // A prefix (cut at one of eight points) never contradicts the whole input's verdict.
    const std::size_t cut = input.size() * cut_selector / 8;
    const DecodeResult prefix = decode(input.first(cut), options);
    if (const auto* done = std::get_if<Complete>(&prefix)) {
        const auto* whole = std::get_if<Complete>(&result);
        check(whole != nullptr && whole->consumed == done->consumed);
    }
    if (std::holds_alternative<DecodeError>(prefix)) check(std::holds_alternative<DecodeError>(result));
    return 0;
}
