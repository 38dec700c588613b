// The v1 (text) header: the spec's examples byte for byte, each refusal with its kind, refusals decided before
// the CRLF arrives, and the 107-byte bound.
#include "test_support.hpp"

using namespace ringd::proxy_protocol;
using namespace ringd::proxy_protocol::test;

namespace {

ErrorKind kind_of(std::string_view text, const DecodeOptions& options = {})
{
    const DecodeError error = require_error(decode(bytes_of(text), options));
    INFO(error.message);
    CHECK(!error.message.empty());
    return error.kind;
}

bool needs_more(std::string_view text, const DecodeOptions& options = {})
{
    const DecodeResult result = decode(bytes_of(text), options);
    if (const auto* error = std::get_if<DecodeError>(&result)) FAIL_CHECK(error->message);
    return std::holds_alternative<NeedMore>(result);
}

} // namespace

TEST_CASE("v1: the spec's TCP4 example, with the HTTP request after it left alone")
{
    const Bytes line = bytes_of("PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n");
    const ProxyHeader header = check_valid(line);
    REQUIRE(header.version == Version::v1);
    REQUIRE(header.command == Command::proxy);
    REQUIRE(header.transport == Transport::stream);
    REQUIRE_FALSE(header.use_socket_addresses);
    REQUIRE(text_of(header.source) == "192.168.0.1:56324");
    REQUIRE(text_of(header.destination) == "192.168.0.11:443");
    REQUIRE(header.tlvs.empty());

    const Bytes request = bytes_of("GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");
    const Complete done = require_complete(decode(concat(line, request)));
    REQUIRE(done.consumed == line.size());
}

TEST_CASE("v1: the spec's longest lines for each protocol")
{
    const std::string tcp4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
    REQUIRE(tcp4.size() == 56);
    const ProxyHeader h4 = check_valid(bytes_of(tcp4));
    REQUIRE(text_of(h4.source) == "255.255.255.255:65535");

    const std::string f8 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    const std::string tcp6 = "PROXY TCP6 " + f8 + " " + f8 + " 65535 65535\r\n";
    REQUIRE(tcp6.size() == 104);
    const ProxyHeader h6 = check_valid(bytes_of(tcp6));
    REQUIRE(text_of(h6.destination) == "[" + f8 + "]:65535");

    const ProxyHeader unknown_short = check_valid(bytes_of("PROXY UNKNOWN\r\n"));
    REQUIRE(unknown_short.use_socket_addresses);
    REQUIRE(text_of(unknown_short.source) == "none");

    const std::string worst = "PROXY UNKNOWN " + f8 + " " + f8 + " 65535 65535\r\n";
    REQUIRE(worst.size() == max_v1_bytes);
    REQUIRE(check_valid(bytes_of(worst)).use_socket_addresses);
}

TEST_CASE("v1: TCP6 with compressed addresses, ports 0")
{
    const ProxyHeader header = check_valid(bytes_of("PROXY TCP6 2001:db8::1 ::1 0 8080\r\n"));
    REQUIRE(text_of(header.source) == "[2001:db8::1]:0");
    REQUIRE(text_of(header.destination) == "[::1]:8080");
}

TEST_CASE("v1: UNKNOWN ignores whatever precedes the CRLF")
{
    REQUIRE(check_valid(bytes_of("PROXY UNKNOWN whatever, even  two spaces\r\n")).use_socket_addresses);
    REQUIRE(kind_of("PROXY UNKNOWNX\r\n") == ErrorKind::v1_syntax);
}

TEST_CASE("v1: syntax errors")
{
    for (const char* bad : {
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\n",     // bare LF
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\rX",    // CR without LF
             "PROXY TCP4 192.168.0.1  192.168.0.11 56324 443\r\n",  // two spaces
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 \r\n",  // trailing space
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443 1\r\n", // a fifth field
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324\r\n",       // a field missing
             "PROXY TCP4\r\n",                                      // no fields
             "PROXY  TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",  // two spaces after PROXY
             "PROXY TCP5 192.168.0.1 192.168.0.11 56324 443\r\n",   // unknown protocol
             "PROXY tcp4 192.168.0.1 192.168.0.11 56324 443\r\n",   // keywords are upper case
             "PROXY UDP4 192.168.0.1 192.168.0.11 56324 443\r\n",   // v1 is TCP only
             "PROXY\r\n",
             "PROXY \r\n",
             "PROXX TCP4\r\n",
             "PROXY\tTCP4\r\n",
         }) {
        INFO(bad);
        REQUIRE(kind_of(bad) == ErrorKind::v1_syntax);
    }
}

TEST_CASE("v1: bad addresses and ports")
{
    for (const char* bad : {
             "PROXY TCP4 192.168.0.01 192.168.0.11 56324 443\r\n", // leading zero
             "PROXY TCP4 192.168.0.1 192.168.0.256 56324 443\r\n", // octet > 255
             "PROXY TCP4 ::1 192.168.0.11 56324 443\r\n",          // IPv6 in TCP4
             "PROXY TCP6 192.168.0.1 ::1 56324 443\r\n",           // IPv4 in TCP6
             "PROXY TCP6 ::ffff:192.168.0.1 ::1 56324 443\r\n",    // dotted tail
             "PROXY TCP6 1::2::3 ::1 56324 443\r\n",               // two ::
             "PROXY TCP4 1.2.3 192.168.0.11 56324 443\r\n",        // three octets
         }) {
        INFO(bad);
        REQUIRE(kind_of(bad) == ErrorKind::v1_address);
    }
    for (const char* bad : {
             "PROXY TCP4 192.168.0.1 192.168.0.11 056324 443\r\n", // leading zero
             "PROXY TCP4 192.168.0.1 192.168.0.11 65536 443\r\n",  // too large
             "PROXY TCP4 192.168.0.1 192.168.0.11 56324 00\r\n",   // "00"
             "PROXY TCP4 192.168.0.1 192.168.0.11 5632x 443\r\n",  // not a number
             "PROXY TCP4 192.168.0.1 192.168.0.11 -1 443\r\n",
         }) {
        INFO(bad);
        REQUIRE(kind_of(bad) == ErrorKind::v1_port);
    }
}

TEST_CASE("v1: refused at the first impossible character, before the CRLF")
{
    REQUIRE(kind_of("PROXX") == ErrorKind::v1_syntax);
    REQUIRE(needs_more("PROXY T"));
    REQUIRE(kind_of("PROXY TCPX") == ErrorKind::v1_syntax);
    REQUIRE(kind_of("PROXY  ") == ErrorKind::v1_syntax);
    REQUIRE(kind_of("PROXY TCP4 1.2.3.4  ") == ErrorKind::v1_syntax);
    REQUIRE(kind_of("PROXY TCP4 1.2.3.x") == ErrorKind::v1_address);
    REQUIRE(kind_of("PROXY TCP4 1.2.3.4 5.6.7.8.9.10.11.12") == ErrorKind::v1_address); // longer than 15
    REQUIRE(kind_of("PROXY TCP6 ::g") == ErrorKind::v1_address);
    REQUIRE(needs_more("PROXY TCP4 1.2.3.4 5.6.7.8 0"));
    REQUIRE(kind_of("PROXY TCP4 1.2.3.4 5.6.7.8 01") == ErrorKind::v1_port);
    REQUIRE(kind_of("PROXY TCP4 1.2.3.4 5.6.7.8 123456") == ErrorKind::v1_port);
    REQUIRE(kind_of("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ") == ErrorKind::v1_syntax);
    // A complete line's CR: the line is judged before its LF arrives.
    REQUIRE(kind_of("PROXY TCP4 1.2.3.4\r") == ErrorKind::v1_syntax);
    REQUIRE(needs_more("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r"));
}

TEST_CASE("v1: no CRLF within 107 bytes")
{
    std::string line = "PROXY UNKNOWN ";
    line.append(max_v1_bytes - 2 - line.size(), 'x'); // 105 bytes: room left for the CRLF only
    REQUIRE(needs_more(line));
    REQUIRE(needs_more(line + "\r"));
    REQUIRE(kind_of(line + "x") == ErrorKind::v1_too_long); // decided at byte 106
    REQUIRE(kind_of(line + "x\r\n") == ErrorKind::v1_too_long);
    REQUIRE(kind_of(line + std::string(200, 'x')) == ErrorKind::v1_too_long);
}

TEST_CASE("v1: need-more lower bounds")
{
    REQUIRE(std::get<NeedMore>(decode(Bytes{})).at_least == 15); // "PROXY UNKNOWN\r\n"
    REQUIRE(std::get<NeedMore>(decode(bytes_of("PROXY"))).at_least == 10);
    REQUIRE(std::get<NeedMore>(decode(bytes_of("PROXY TCP4 1.2.3.4 5.6.7.8 1 2"))).at_least == 2);
}
