// `listen:` endpoints and `allow:`/`deny:` CIDR ranges: parsing into socket addresses, and peer matching.
#include "config/endpoint.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <string>

using namespace ringd::config;

namespace {

// The host and port of an IP endpoint, as text, to compare against the table.
std::string host_of(const Endpoint& endpoint)
{
    char text[INET6_ADDRSTRLEN] = {};
    if (endpoint.family() == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &endpoint.address, sizeof(in));
        inet_ntop(AF_INET, &in.sin_addr, text, sizeof(text));
    } else {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &endpoint.address, sizeof(in6));
        inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof(text));
    }
    return text;
}

unsigned port_of(const Endpoint& endpoint)
{
    sockaddr_in6 in6{}; // sin_port and sin6_port share their offset
    std::memcpy(&in6, &endpoint.address, sizeof(in6));
    return ntohs(in6.sin6_port);
}

// A peer as the engine would see it from accept()/recvfrom().
sockaddr_storage peer(const char* text)
{
    sockaddr_storage storage{};
    if (std::string(text) == "unix") {
        storage.ss_family = AF_UNIX;
    } else if (std::strchr(text, ':') != nullptr) {
        sockaddr_in6 in6{};
        in6.sin6_family = AF_INET6;
        REQUIRE(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
        std::memcpy(&storage, &in6, sizeof(in6));
    } else {
        sockaddr_in in{};
        in.sin_family = AF_INET;
        REQUIRE(inet_pton(AF_INET, text, &in.sin_addr) == 1);
        std::memcpy(&storage, &in, sizeof(in));
    }
    return storage;
}

} // namespace

TEST_CASE("parse_endpoint accepts TCP and UDP over IPv4 and IPv6", "[config][endpoint]")
{
    struct Case {
        const char* text;
        Transport transport;
        int family;
        const char* host;
        unsigned port;
    };
    const auto c = GENERATE(values<Case>({
        {"tcp://127.0.0.1:8080", Transport::tcp, AF_INET, "127.0.0.1", 8080},
        {"udp://0.0.0.0:53", Transport::udp, AF_INET, "0.0.0.0", 53},
        {"tcp://255.255.255.255:65535", Transport::tcp, AF_INET, "255.255.255.255", 65535},
        {"tcp://10.1.2.3:1", Transport::tcp, AF_INET, "10.1.2.3", 1},
        {"tcp://[::1]:8080", Transport::tcp, AF_INET6, "::1", 8080},
        {"udp://[::]:5353", Transport::udp, AF_INET6, "::", 5353},
        {"tcp://[fd00::1:2]:443", Transport::tcp, AF_INET6, "fd00::1:2", 443},
        {"tcp://[::ffff:127.0.0.1]:80", Transport::tcp, AF_INET6, "::ffff:127.0.0.1", 80},
        {"tcp://127.0.0.1:08080", Transport::tcp, AF_INET, "127.0.0.1", 8080},
    }));
    CAPTURE(c.text);
    const Endpoint endpoint = parse_endpoint(c.text);
    CHECK(endpoint.transport == c.transport);
    CHECK(endpoint.family() == c.family);
    CHECK(endpoint.address_len == (c.family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6)));
    CHECK(host_of(endpoint) == c.host);
    CHECK(port_of(endpoint) == c.port);
    CHECK(endpoint.text == c.text);
    CHECK(endpoint.is_stream() == (c.transport == Transport::tcp));
    CHECK_FALSE(endpoint.is_unix());
    CHECK(endpoint.unix_path().empty());
}

TEST_CASE("parse_endpoint accepts unix paths and abstract names", "[config][endpoint]")
{
    SECTION("a filesystem path")
    {
        const Endpoint endpoint = parse_endpoint("unix:///run/ringd/echo.sock");
        CHECK(endpoint.transport == Transport::unix_stream);
        CHECK(endpoint.family() == AF_UNIX);
        CHECK(endpoint.is_unix());
        CHECK(endpoint.is_stream());
        CHECK_FALSE(endpoint.is_abstract_unix());
        CHECK(endpoint.unix_path() == "/run/ringd/echo.sock");
        CHECK(endpoint.address_len == offsetof(sockaddr_un, sun_path) + sizeof("/run/ringd/echo.sock"));
    }
    SECTION("an abstract name: a leading NUL, and a length that counts only the name")
    {
        const Endpoint endpoint = parse_endpoint("unix:@ringd-echo");
        CHECK(endpoint.is_abstract_unix());
        CHECK(endpoint.unix_path().empty());
        CHECK(endpoint.address_len == offsetof(sockaddr_un, sun_path) + 1 + 10);
        const auto* bytes = reinterpret_cast<const char*>(&endpoint.address) + offsetof(sockaddr_un, sun_path);
        CHECK(bytes[0] == '\0');
        CHECK(std::string(bytes + 1, 10) == "ringd-echo");
    }
    SECTION("the longest path and name that fit")
    {
        const std::string longest(sizeof(sockaddr_un::sun_path) - 2, 'p'); // plus '/' and the NUL
        CHECK(parse_endpoint("unix:///" + longest).unix_path() == "/" + longest);
        const std::string name(sizeof(sockaddr_un::sun_path) - 1, 'n'); // plus the leading NUL
        CHECK(parse_endpoint("unix:@" + name).address_len == sizeof(sockaddr_un));
    }
}

TEST_CASE("parse_endpoint rejects bad endpoints with what was expected", "[config][endpoint]")
{
    struct Case {
        std::string text;
        const char* message;
    };
    const auto c = GENERATE(values<Case>({
        {"tcp://127.0.0.1:0", "expected a port from 1 to 65535, got \"0\""},
        {"tcp://127.0.0.1:65536", "got \"65536\""},
        {"tcp://127.0.0.1:99999999999", "got \"99999999999\""},
        {"tcp://127.0.0.1:-1", "got \"-1\""},
        {"tcp://127.0.0.1:80x", "got \"80x\""},
        {"tcp://127.0.0.1:", "got \"\""},
        {"tcp://127.0.0.1", "missing :PORT"},
        {"tcp://localhost:80", "host names are not resolved"},
        {"tcp://example.com:80", "got host \"example.com\""},
        {"tcp://127.1:80", "got host \"127.1\""},
        {"tcp://256.0.0.1:80", "got host \"256.0.0.1\""},
        {"tcp://::1:8080", "IPv6 addresses must be in brackets"},
        {"tcp://[::1:8080", "missing ']'"},
        {"tcp://[::1]8080", "missing :PORT"},
        {"tcp://[::1]", "missing :PORT"},
        {"tcp://[127.0.0.1]:80", "expected a numeric IPv6 address inside [ ]"},
        {"tcp://[fe80::1%eth0]:80", "expected a numeric IPv6 address inside [ ]"},
        {"tcp://:80", "missing host"},
        {"http://127.0.0.1:80", "expected a listen address like tcp://127.0.0.1:8080"},
        {"TCP://127.0.0.1:80", "expected a listen address like"},
        {"127.0.0.1:80", "expected a listen address like"},
        {"", "expected a listen address like"},
        {"unix://run/ringd.sock", "expected an absolute unix socket path"},
        {"unix:/run/ringd.sock", "expected a listen address like"},
        {"unix:@", "missing the abstract socket name"},
        {"unix:///" + std::string(sizeof(sockaddr_un::sun_path) - 1, 'p'), "at most 107 fit"},
        {"unix:@" + std::string(sizeof(sockaddr_un::sun_path), 'n'), "is 108 bytes long"},
        {std::string("unix:///a\0b", 11), "NUL byte"},
    }));
    CAPTURE(c.text);
    CHECK_THROWS_WITH(parse_endpoint(c.text), Catch::Contains(c.message));
}

TEST_CASE("Endpoint::same_address compares transport and address", "[config][endpoint]")
{
    CHECK(parse_endpoint("tcp://127.0.0.1:80").same_address(parse_endpoint("tcp://127.0.0.1:0080")));
    CHECK_FALSE(parse_endpoint("tcp://127.0.0.1:80").same_address(parse_endpoint("udp://127.0.0.1:80")));
    CHECK_FALSE(parse_endpoint("tcp://127.0.0.1:80").same_address(parse_endpoint("tcp://127.0.0.1:81")));
    CHECK_FALSE(parse_endpoint("tcp://0.0.0.0:80").same_address(parse_endpoint("tcp://[::]:80")));
    CHECK(parse_endpoint("unix:///run/a").same_address(parse_endpoint("unix:///run/a")));
    CHECK(parse_endpoint("unix:@a").same_address(parse_endpoint("unix:@a")));
    CHECK_FALSE(parse_endpoint("unix:@a").same_address(parse_endpoint("unix:@ab")));
    CHECK_FALSE(parse_endpoint("unix:@a").same_address(parse_endpoint("unix:///a")));
}

TEST_CASE("parse_cidr reads ranges and masks host bits", "[config][cidr]")
{
    struct Case {
        const char* text;
        int family;
        unsigned prefix_len;
        const char* network;
    };
    const auto c = GENERATE(values<Case>({
        {"127.0.0.0/8", AF_INET, 8, "127.0.0.0"},
        {"10.1.2.3/8", AF_INET, 8, "10.0.0.0"},
        {"192.168.1.77/26", AF_INET, 26, "192.168.1.64"},
        {"1.2.3.4", AF_INET, 32, "1.2.3.4"},
        {"0.0.0.0/0", AF_INET, 0, "0.0.0.0"},
        {"::1/128", AF_INET6, 128, "::1"},
        {"::1", AF_INET6, 128, "::1"},
        {"fd12:3456::1/16", AF_INET6, 16, "fd12::"},
        {"2001:db8:ffff::/33", AF_INET6, 33, "2001:db8:8000::"},
        {"::/0", AF_INET6, 0, "::"},
    }));
    CAPTURE(c.text);
    const Cidr cidr = parse_cidr(c.text);
    CHECK(cidr.family == c.family);
    CHECK(cidr.prefix_len == c.prefix_len);
    char text[INET6_ADDRSTRLEN] = {};
    inet_ntop(cidr.family, cidr.bytes.data(), text, sizeof(text));
    CHECK(std::string(text) == c.network);
}

TEST_CASE("parse_cidr rejects bad ranges", "[config][cidr]")
{
    struct Case {
        const char* text;
        const char* message;
    };
    const auto c = GENERATE(values<Case>({
        {"10.0.0.0/33", "expected a prefix length from 0 to 32 after '/', got \"10.0.0.0/33\""},
        {"::/129", "from 0 to 128"},
        {"10.0.0.0/", "after '/'"},
        {"10.0.0.0/-1", "after '/'"},
        {"10.0.0.0/8/8", "after '/'"},
        {"10.0.0/8", "expected an IPv4 or IPv6 range like 10.0.0.0/8"},
        {"localhost", "got \"localhost\""},
        {"[::1]/128", "got \"[::1]/128\""},
        {"", "got \"\""},
    }));
    CAPTURE(c.text);
    CHECK_THROWS_WITH(parse_cidr(c.text), Catch::Contains(c.message));
}

TEST_CASE("Cidr::contains matches IPv4, IPv6 and IPv4-mapped peers", "[config][cidr]")
{
    struct Case {
        const char* cidr;
        const char* peer;
        bool contained;
    };
    const auto c = GENERATE(values<Case>({
        {"127.0.0.0/8", "127.0.0.1", true},
        {"127.0.0.0/8", "127.255.255.255", true},
        {"127.0.0.0/8", "128.0.0.1", false},
        {"192.168.1.64/26", "192.168.1.127", true},
        {"192.168.1.64/26", "192.168.1.128", false},
        {"192.168.1.64/26", "192.168.1.63", false},
        {"0.0.0.0/0", "8.8.8.8", true},
        {"1.2.3.4", "1.2.3.4", true},
        {"1.2.3.4", "1.2.3.5", false},
        {"::1/128", "::1", true},
        {"::1/128", "::2", false},
        {"2001:db8::/32", "2001:db8:ffff::1", true},
        {"2001:db8::/33", "2001:db8:8000::1", false},
        {"::/0", "fe80::1", true},
        // A peer on a dual-stack IPv6 socket arrives as ::ffff:a.b.c.d and must match the IPv4 ranges.
        {"127.0.0.0/8", "::ffff:127.0.0.1", true},
        {"127.0.0.0/8", "::ffff:10.0.0.1", false},
        {"127.0.0.0/8", "::1", false},
        // ...and the other way round: an IPv4 peer matches IPv6 ranges in its mapped form.
        {"::ffff:0:0/96", "10.0.0.1", true},
        {"::/0", "10.0.0.1", true},
        {"::1/128", "127.0.0.1", false},
        {"0.0.0.0/0", "unix", false},
        {"::/0", "unix", false},
    }));
    CAPTURE(c.cidr, c.peer);
    const sockaddr_storage address = peer(c.peer);
    CHECK(parse_cidr(c.cidr).contains(reinterpret_cast<const sockaddr*>(&address)) == c.contained);
}

TEST_CASE("Cidr::contains refuses a null address", "[config][cidr]")
{
    CHECK_FALSE(parse_cidr("0.0.0.0/0").contains(nullptr));
}
