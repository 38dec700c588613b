// The v2 (binary) header: each family and transport, LOCAL and UNSPEC, the TLVs (CRC32C, SSL and its sub-TLVs,
// UNIQUE_ID's bound, unknown types kept raw), each refusal with its kind, and the cap on the length field.
#include "proxy_protocol/crc32c.hpp"
#include "test_support.hpp"

using namespace ringd::proxy_protocol;
using namespace ringd::proxy_protocol::test;

namespace {

// 192.168.0.1:56324 -> 192.168.0.11:443, the spec's v1 example in v2 form.
const Bytes ipv4_block = hex("c0a80001 c0a8000b dc04 01bb");
// [2001:db8::1]:1234 -> [2001:db8::2]:80
const Bytes ipv6_block = hex("20010db8000000000000000000000001 20010db8000000000000000000000002 04d2 0050");

Bytes tlv(uint8_t type, const Bytes& value)
{
    Bytes out{type, uint8_t(value.size() >> 8), uint8_t(value.size() & 0xff)};
    return concat(out, value);
}

Bytes unix_block(std::string_view source, std::string_view destination)
{
    Bytes out(216, 0);
    std::copy(source.begin(), source.end(), out.begin());
    std::copy(destination.begin(), destination.end(), out.begin() + 108);
    return out;
}

Bytes v2(uint8_t version_command, uint8_t family_transport, const Bytes& block)
{
    return concat(v2_head(version_command, family_transport, block.size()), block);
}

// A PROXY TCP4 header with `tlvs` and a CRC32C TLV last, its checksum computed over the whole header.
Bytes with_crc(const Bytes& tlvs)
{
    Bytes header = v2(0x21, 0x11, concat(concat(ipv4_block, tlvs), tlv(0x03, Bytes(4, 0))));
    const uint32_t crc = crc32c(header);
    for (int i = 0; i < 4; ++i)
        header[header.size() - 4 + std::size_t(i)] = uint8_t(crc >> (24 - 8 * i));
    return header;
}

DecodeError error_of(const Bytes& bytes, const DecodeOptions& options = {})
{
    const DecodeError error = require_error(decode(bytes, options));
    INFO(error.message);
    CHECK(!error.message.empty());
    return error;
}

} // namespace

TEST_CASE("v2: PROXY over IPv4 and IPv6, TCP and UDP")
{
    const ProxyHeader tcp4 = check_valid(v2(0x21, 0x11, ipv4_block));
    REQUIRE(tcp4.version == Version::v2);
    REQUIRE(tcp4.command == Command::proxy);
    REQUIRE(tcp4.transport == Transport::stream);
    REQUIRE_FALSE(tcp4.use_socket_addresses);
    REQUIRE(text_of(tcp4.source) == "192.168.0.1:56324");
    REQUIRE(text_of(tcp4.destination) == "192.168.0.11:443");

    const ProxyHeader udp4 = check_valid(v2(0x21, 0x12, ipv4_block));
    REQUIRE(udp4.transport == Transport::dgram);
    REQUIRE(text_of(udp4.source) == "192.168.0.1:56324");

    const ProxyHeader tcp6 = check_valid(v2(0x21, 0x21, ipv6_block));
    REQUIRE(tcp6.transport == Transport::stream);
    REQUIRE(text_of(tcp6.source) == "[2001:db8::1]:1234");
    REQUIRE(text_of(tcp6.destination) == "[2001:db8::2]:80");

    const ProxyHeader udp6 = check_valid(v2(0x21, 0x22, ipv6_block));
    REQUIRE(udp6.transport == Transport::dgram);
}

TEST_CASE("v2: AF_UNIX path names and abstract names, stream and datagram")
{
    const ProxyHeader stream = check_valid(v2(0x21, 0x31, unix_block("/run/src.sock", "/run/dst.sock")));
    REQUIRE(stream.transport == Transport::stream);
    REQUIRE(text_of(stream.source) == "unix:/run/src.sock");
    REQUIRE(text_of(stream.destination) == "unix:/run/dst.sock");
    REQUIRE(stream.source.length == offsetof(sockaddr_un, sun_path) + 14);

    using namespace std::string_view_literals;
    const ProxyHeader dgram = check_valid(v2(0x21, 0x32, unix_block("\0abstract"sv, std::string(108, 'p'))));
    REQUIRE(dgram.transport == Transport::dgram);
    REQUIRE(text_of(dgram.source) == "unix:@abstract");
    REQUIRE(dgram.source.length == offsetof(sockaddr_un, sun_path) + 9);
    // A full 108-byte path has no NUL.
    REQUIRE(dgram.destination.length == offsetof(sockaddr_un, sun_path) + 108);
}

TEST_CASE("v2: LOCAL uses the socket's addresses, whatever the block holds")
{
    const ProxyHeader bare = check_valid(v2(0x20, 0x00, {}));
    REQUIRE(bare.command == Command::local);
    REQUIRE(bare.use_socket_addresses);
    REQUIRE(bare.transport == Transport::unspec);
    REQUIRE(text_of(bare.source) == "none");

    // Addresses sent anyway are skipped, not reported.
    const ProxyHeader with_addresses = check_valid(v2(0x20, 0x11, ipv4_block));
    REQUIRE(with_addresses.use_socket_addresses);
    REQUIRE(text_of(with_addresses.source) == "none");
    // A block shorter than the family's addresses is no error for LOCAL (the family is ignored).
    REQUIRE(check_valid(v2(0x20, 0x21, hex("0102030405"))).use_socket_addresses);
    // TLVs after an UNSPEC LOCAL (a health check with a unique id) are read.
    const ProxyHeader with_tlv = check_valid(v2(0x20, 0x00, tlv(0x05, bytes_of("check-1"))));
    REQUIRE(with_tlv.find(tlv_type::unique_id)->text() == "check-1");
}

TEST_CASE("v2: PROXY with UNSPEC family or transport uses the socket's addresses")
{
    const ProxyHeader unspec = check_valid(v2(0x21, 0x00, {}));
    REQUIRE(unspec.command == Command::proxy);
    REQUIRE(unspec.use_socket_addresses);
    const ProxyHeader inet_unspec = check_valid(v2(0x21, 0x10, ipv4_block));
    REQUIRE(inet_unspec.use_socket_addresses);
    REQUIRE(inet_unspec.transport == Transport::unspec);
    REQUIRE(text_of(inet_unspec.source) == "none");
}

TEST_CASE("v2: registered and unknown TLVs are kept in wire order")
{
    const Bytes tlvs = concat(concat(concat(tlv(0x01, bytes_of("h2")), tlv(0x02, bytes_of("example.com"))),
                                     concat(tlv(0x04, Bytes(3, 0)), tlv(0x05, Bytes(128, 0xab)))),
                              concat(tlv(0x30, bytes_of("blue")), tlv(0xe0, hex("deadbeef"))));
    const ProxyHeader header = check_valid(v2(0x21, 0x11, concat(ipv4_block, tlvs)));
    REQUIRE(text_of(header.source) == "192.168.0.1:56324");
    REQUIRE(header.tlvs.size() == 6);
    REQUIRE(header.tlvs[0].type == tlv_type::alpn);
    REQUIRE(header.find(tlv_type::alpn)->text() == "h2");
    REQUIRE(header.find(tlv_type::authority)->text() == "example.com");
    REQUIRE(header.find(tlv_type::noop)->value.size() == 3);
    REQUIRE(header.find(tlv_type::unique_id)->value == Bytes(128, 0xab));
    REQUIRE(header.find(tlv_type::netns)->text() == "blue");
    REQUIRE(header.find(0xe0)->value == hex("deadbeef"));
    REQUIRE(header.find(0xe1) == nullptr);
    REQUIRE_FALSE(header.ssl);
    // An empty value is a TLV too.
    REQUIRE(check_valid(v2(0x21, 0x11, concat(ipv4_block, tlv(0x01, {})))).tlvs.size() == 1);
}

TEST_CASE("v2: the SSL TLV and its sub-TLVs")
{
    const Bytes subs =
        concat(concat(concat(tlv(0x21, bytes_of("TLSv1.3")), tlv(0x22, bytes_of("client.example"))),
                      concat(tlv(0x23, bytes_of("TLS_AES_128_GCM_SHA256")), tlv(0x24, bytes_of("RSA-SHA256")))),
               tlv(0x25, bytes_of("RSA2048")));
    const Bytes ssl = concat(hex("07 00000000"), subs); // SSL, cert on conn and sess; verified
    const ProxyHeader header = check_valid(v2(0x21, 0x11, concat(ipv4_block, tlv(0x20, ssl))));
    REQUIRE(header.ssl);
    REQUIRE(header.ssl->client == (SslInfo::client_ssl | SslInfo::client_cert_conn | SslInfo::client_cert_sess));
    REQUIRE(header.ssl->verify == 0);
    REQUIRE(header.ssl->sub_tlvs.size() == 5);
    REQUIRE(header.ssl->find(tlv_type::ssl_version)->text() == "TLSv1.3");
    REQUIRE(header.ssl->find(tlv_type::ssl_cn)->text() == "client.example");
    REQUIRE(header.ssl->find(tlv_type::ssl_cipher)->text() == "TLS_AES_128_GCM_SHA256");
    REQUIRE(header.ssl->find(tlv_type::ssl_sig_alg)->text() == "RSA-SHA256");
    REQUIRE(header.ssl->find(tlv_type::ssl_key_alg)->text() == "RSA2048");
    REQUIRE(header.find(tlv_type::ssl)->value == ssl); // also kept raw

    const ProxyHeader unverified = check_valid(v2(0x21, 0x11, concat(ipv4_block, tlv(0x20, hex("01 00000001")))));
    REQUIRE(unverified.ssl->verify == 1);
    REQUIRE(unverified.ssl->sub_tlvs.empty());
}

TEST_CASE("v2: a CRC32C computed elsewhere (Python, bitwise) is accepted: big-endian, over the whole header")
{
    const Bytes header = hex("0d0a0d0a000d0a515549540a 2111 001e c0a80001 c0a8000b dc04 01bb"
                             "01 0008 687474702f312e31 03 0004 0edec6af");
    const ProxyHeader decoded = check_valid(header);
    REQUIRE(decoded.find(tlv_type::crc32c)->value == hex("0edec6af"));
}

TEST_CASE("v2: CRC32C is verified over the whole header")
{
    const Bytes good = with_crc(tlv(0x01, bytes_of("http/1.1")));
    const ProxyHeader header = check_valid(good);
    REQUIRE(header.find(tlv_type::crc32c)->value.size() == 4);
    REQUIRE(header.find(tlv_type::alpn)->text() == "http/1.1");

    // A changed bit in the addresses or in a TLV's value is caught by the checksum alone.
    for (std::size_t i = 16; i < good.size() - 7; ++i) {
        if (i >= 28 && i < 31) continue; // the ALPN TLV's type and length: they change the list's structure
        Bytes bad = good;
        bad[i] ^= 0x40;
        INFO("byte " << i);
        REQUIRE(error_of(bad).kind == ErrorKind::v2_crc_mismatch);
    }
    Bytes bad_checksum = good;
    bad_checksum.back() ^= 1;
    const DecodeError error = error_of(bad_checksum);
    REQUIRE(error.kind == ErrorKind::v2_crc_mismatch);
    REQUIRE_THAT(error.message, Catch::Contains("CRC32C"));
}

TEST_CASE("v2: malformed TLV lists and values")
{
    struct Case {
        const char* what;
        Bytes tlvs;
    };
    const Case cases[] = {
        {"overrun", hex("01 0005 6832")},
        {"two bytes left", hex("01 0002 6832 00 00")},
        {"one byte left", hex("01")},
        {"CRC32C of 3 bytes", tlv(0x03, Bytes(3, 0))},
        {"CRC32C of 5 bytes", tlv(0x03, Bytes(5, 0))},
        {"UNIQUE_ID of 129 bytes", tlv(0x05, Bytes(129, 1))},
        {"SSL shorter than 5", tlv(0x20, hex("01 0000"))},
        {"SSL sub-TLV overrun", tlv(0x20, hex("01 00000000 21 0009 544c53"))},
        {"second SSL malformed", concat(tlv(0x20, hex("01 00000000")), tlv(0x20, hex("01")))},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        REQUIRE(error_of(v2(0x21, 0x11, concat(ipv4_block, c.tlvs))).kind == ErrorKind::v2_tlv);
    }
    // Two CRC32C TLVs (each alone would be checked): refused before any checksum is computed.
    Bytes two = with_crc(tlv(0x03, Bytes(4, 0)));
    REQUIRE(error_of(two).kind == ErrorKind::v2_tlv);
    // TLVs are read after LOCAL's addresses too.
    REQUIRE(error_of(v2(0x20, 0x11, concat(ipv4_block, hex("01 0005")))).kind == ErrorKind::v2_tlv);
}

TEST_CASE("v2: the fixed part is refused at its first wrong byte")
{
    Bytes bad_signature = v2(0x21, 0x11, ipv4_block);
    bad_signature[4] = 0x01;
    REQUIRE(error_of(bad_signature).kind == ErrorKind::v2_signature);
    REQUIRE(error_of(Bytes(bad_signature.begin(), bad_signature.begin() + 5)).kind == ErrorKind::v2_signature);
    REQUIRE(std::holds_alternative<NeedMore>(decode(Bytes(bad_signature.begin(), bad_signature.begin() + 4))));

    const Bytes head = v2_head(0x21, 0x11, 12);
    Bytes version1 = head;
    version1[12] = 0x11;
    REQUIRE(error_of(Bytes(version1.begin(), version1.begin() + 13)).kind == ErrorKind::v2_version);
    Bytes command2 = head;
    command2[12] = 0x22;
    REQUIRE(error_of(Bytes(command2.begin(), command2.begin() + 13)).kind == ErrorKind::v2_command);
    for (const uint8_t family_transport : {0x41, 0xf1, 0x13, 0x1f}) {
        Bytes bad = head;
        bad[13] = family_transport;
        INFO(int(family_transport));
        REQUIRE(error_of(Bytes(bad.begin(), bad.begin() + 14)).kind == ErrorKind::v2_family);
        bad[12] = 0x20; // LOCAL too: unassigned values are refused whatever the command
        REQUIRE(error_of(bad).kind == ErrorKind::v2_family);
    }
}

TEST_CASE("v2: an address block too short for the family is refused with the sizes")
{
    const DecodeError error = error_of(v2_head(0x21, 0x21, 12)); // decided on the 16 fixed bytes
    REQUIRE(error.kind == ErrorKind::v2_address_length);
    REQUIRE(error.message == "v2 header: address length 12 too short for TCP over IPv6 (36)");
    REQUIRE(error_of(v2(0x21, 0x12, hex("01020304"))).kind == ErrorKind::v2_address_length);
    REQUIRE(error_of(v2(0x21, 0x31, Bytes(215, 0))).message ==
            "v2 header: address length 215 too short for UNIX stream (216)");
}

TEST_CASE("v2: the length field is capped, and decided on the fixed part")
{
    DecodeOptions options;
    REQUIRE(options.max_v2_block == 4096);
    REQUIRE(max_header_bytes(options) == 16 + 4096);
    const Bytes tlvs_4096 = tlv(0x04, Bytes(4096 - 12 - 3, 0));
    check_valid(v2(0x21, 0x11, concat(ipv4_block, tlvs_4096)), options);
    const DecodeError too_large = error_of(v2_head(0x21, 0x11, 4097));
    REQUIRE(too_large.kind == ErrorKind::v2_too_large);
    REQUIRE_THAT(too_large.message, Catch::Contains("4097") && Catch::Contains("4096"));

    options.max_v2_block = 300;
    REQUIRE(error_of(v2_head(0x21, 0x11, 301), options).kind == ErrorKind::v2_too_large);
    REQUIRE(require_complete(decode(v2(0x21, 0x31, unix_block("/a", "/b")), options)).consumed == 16 + 216);

    options.max_v2_block = 1'000'000; // the protocol's own limit applies
    REQUIRE(max_header_bytes(options) == 16 + 65535);
    const Bytes largest = v2(0x21, 0x11, concat(ipv4_block, tlv(0x04, Bytes(65535 - 12 - 3, 0))));
    REQUIRE(require_complete(decode(largest, options)).consumed == 16 + 65535);
    const auto more = std::get<NeedMore>(decode(std::span(largest).first(16), options));
    REQUIRE(more.at_least == 65535);
}

TEST_CASE("version detection and the accepted versions")
{
    const Bytes v1_line = bytes_of("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    const Bytes v2_header = v2(0x21, 0x11, ipv4_block);
    DecodeOptions v1_only{Accept::v1};
    DecodeOptions v2_only{Accept::v2};
    check_valid(v1_line, v1_only);
    check_valid(v2_header, v2_only);
    REQUIRE(error_of(v1_line, v2_only).kind == ErrorKind::version_not_accepted);
    REQUIRE(error_of(v2_header, v1_only).kind == ErrorKind::version_not_accepted);
    REQUIRE(error_of(Bytes{'P'}, v2_only).kind == ErrorKind::version_not_accepted);
    REQUIRE(error_of(Bytes{'\r'}, v1_only).kind == ErrorKind::version_not_accepted);
    REQUIRE(std::get<NeedMore>(decode(Bytes{}, v2_only)).at_least == 16);

    // Decided on the first byte: HTTP, TLS, SSH, a NUL.
    for (const Accept accept : {Accept::any, Accept::v1, Accept::v2})
        for (const uint8_t first : {uint8_t('G'), uint8_t(0x16), uint8_t('S'), uint8_t(0)}) {
            const DecodeError error = error_of(Bytes{first}, DecodeOptions{accept});
            REQUIRE(error.kind == ErrorKind::not_proxy_protocol);
        }
    REQUIRE(error_of(bytes_of("GET / HTTP/1.1\r\n\r\n")).message ==
            "not a PROXY protocol header: the first byte 0x47 cannot start a v1 (\"PROXY \") or v2 "
            "(\\r\\n\\r\\n\\0\\r\\nQUIT\\n) header");
}

TEST_CASE("every error kind has a name")
{
    for (int kind = 0; kind <= int(ErrorKind::v2_crc_mismatch); ++kind)
        REQUIRE(describe(ErrorKind(kind)) != "unknown");
}
