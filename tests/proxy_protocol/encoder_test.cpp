// The encoder: v1 lines and v2 headers written as the spec shows them, and decoded back to what was encoded.
#include "proxy_protocol/encoder.hpp"
#include "test_support.hpp"

#include <stdexcept>

using namespace ringd::proxy_protocol;
using namespace ringd::proxy_protocol::test;

TEST_CASE("encode_v1: TCP4, TCP6, UNKNOWN")
{
    REQUIRE(encode_v1(inet("192.168.0.1", 56324), inet("192.168.0.11", 443)) ==
            "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    REQUIRE(encode_v1(inet("2001:db8::1", 0), inet("::1", 65535)) == "PROXY TCP6 2001:db8::1 ::1 0 65535\r\n");
    // A mapped IPv4 address stays in hex groups, which strict receivers (and ours) read.
    REQUIRE(encode_v1(inet("::ffff:192.0.2.1", 1), inet("::1", 2)) == "PROXY TCP6 ::ffff:c000:201 ::1 1 2\r\n");
    REQUIRE(encode_v1(inet("192.168.0.1", 1), inet("::1", 2)) == "PROXY UNKNOWN\r\n");
    REQUIRE(encode_v1(unix_path("/run/a"), unix_path("/run/b")) == "PROXY UNKNOWN\r\n");
    REQUIRE(encode_v1(SocketAddress{}, SocketAddress{}) == "PROXY UNKNOWN\r\n");
}

TEST_CASE("encode_v1 round-trips through the decoder")
{
    const std::pair<const char*, const char*> pairs[] = {{"0.0.0.0", "255.255.255.255"},
                                                         {"10.1.2.3", "10.1.2.4"},
                                                         {"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
                                                         {"fe80::1", "2001:db8:0:1:0:0:0:1"},
                                                         {"1:0:0:2:0:0:3:4", "::ffff:10.0.0.1"}};
    for (const auto& [source, destination] : pairs) {
        const SocketAddress s = inet(source, 40000);
        const SocketAddress d = inet(destination, 8443);
        const std::string line = encode_v1(s, d);
        INFO(line);
        REQUIRE(line.size() <= max_v1_bytes);
        const ProxyHeader header = check_valid(bytes_of(line));
        REQUIRE(text_of(header.source) == text_of(s));
        REQUIRE(text_of(header.destination) == text_of(d));
    }
}

TEST_CASE("encode_v2: the spec's layout, byte for byte")
{
    const Bytes tcp4 = encode_v2(inet("192.168.0.1", 56324), inet("192.168.0.11", 443));
    REQUIRE(tcp4 == concat(v2_head(0x21, 0x11, 12), hex("c0a80001 c0a8000b dc04 01bb")));

    V2Encoding udp;
    udp.transport = Transport::dgram;
    const Bytes udp6 = encode_v2(inet("2001:db8::1", 1234), inet("2001:db8::2", 80), udp);
    REQUIRE(udp6 == concat(v2_head(0x21, 0x22, 36), hex("20010db8000000000000000000000001 "
                                                        "20010db8000000000000000000000002 04d2 0050")));

    V2Encoding local;
    local.command = Command::local;
    REQUIRE(encode_v2(inet("192.168.0.1", 1), inet("192.168.0.11", 2), local) == v2_head(0x20, 0x00, 0));
    // Families that differ: UNSPEC, no addresses.
    REQUIRE(encode_v2(inet("192.168.0.1", 1), inet("::1", 2)) == v2_head(0x21, 0x00, 0));
}

TEST_CASE("encode_v2 round-trips: IPv4, IPv6, AF_UNIX, LOCAL, TLVs, CRC32C")
{
    const std::vector<Tlv> tlvs = {{tlv_type::alpn, {'h', '2'}},
                                   {tlv_type::authority, {'a', '.', 'e', 'x'}},
                                   {tlv_type::unique_id, std::vector<uint8_t>(128, 7)},
                                   {tlv_type::ssl, {0x01, 0, 0, 0, 0, 0x21, 0, 3, 'T', 'L', 'S'}},
                                   {0xe5, {}}};
    for (const bool crc : {false, true}) {
        for (const Transport transport : {Transport::stream, Transport::dgram}) {
            V2Encoding encoding;
            encoding.transport = transport;
            encoding.tlvs = tlvs;
            encoding.crc32c = crc;
            const std::pair<SocketAddress, SocketAddress> pairs[] = {
                {inet("203.0.113.9", 61000), inet("198.51.100.1", 25)},
                {inet("2001:db8::9", 61000), inet("2001:db8::1", 25)},
                {unix_path("/run/client.sock"), unix_path("/run/ringd.sock")},
            };
            for (const auto& [source, destination] : pairs) {
                INFO("crc " << crc << ", " << text_of(source));
                const ProxyHeader header = check_valid(encode_v2(source, destination, encoding));
                REQUIRE(header.transport == transport);
                REQUIRE(text_of(header.source) == text_of(source));
                REQUIRE(text_of(header.destination) == text_of(destination));
                REQUIRE(header.tlvs.size() == tlvs.size() + (crc ? 1 : 0));
                for (std::size_t i = 0; i < tlvs.size(); ++i) {
                    REQUIRE(header.tlvs[i].type == tlvs[i].type);
                    REQUIRE(header.tlvs[i].value == tlvs[i].value);
                }
                REQUIRE(header.ssl);
                REQUIRE(header.ssl->find(tlv_type::ssl_version)->text() == "TLS");
            }
        }
    }
    V2Encoding local;
    local.command = Command::local;
    local.crc32c = true;
    const ProxyHeader header = check_valid(encode_v2(SocketAddress{}, SocketAddress{}, local));
    REQUIRE(header.command == Command::local);
    REQUIRE(header.use_socket_addresses);
    REQUIRE(header.tlvs.size() == 1);
}

TEST_CASE("encode_v2 refuses what cannot be sent")
{
    V2Encoding encoding;
    const std::vector<Tlv> crc = {{tlv_type::crc32c, {0, 0, 0, 0}}};
    encoding.tlvs = crc;
    REQUIRE_THROWS_AS(encode_v2(inet("1.2.3.4", 1), inet("1.2.3.4", 2), encoding), std::invalid_argument);
    const std::vector<Tlv> huge = {{0xe0, std::vector<uint8_t>(65535 - 12 - 3 + 1, 0)}};
    encoding.tlvs = huge;
    REQUIRE_THROWS_AS(encode_v2(inet("1.2.3.4", 1), inet("1.2.3.4", 2), encoding), std::invalid_argument);
    const std::vector<Tlv> largest = {{0xe0, std::vector<uint8_t>(65535 - 12 - 3, 0)}};
    encoding.tlvs = largest;
    REQUIRE(encode_v2(inet("1.2.3.4", 1), inet("1.2.3.4", 2), encoding).size() == 16 + 65535);
}
