// SourceKey: addresses masked to the configured prefix, IPv4-mapped IPv6 peers counted as IPv4.
#include "limits/source_key.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstring>
#include <netinet/in.h>
#include <sys/un.h>

using namespace ringd::limits;

namespace {

sockaddr_storage address_of(const char* text)
{
    sockaddr_storage storage{};
    sockaddr_in in{};
    sockaddr_in6 in6{};
    if (inet_pton(AF_INET, text, &in.sin_addr) == 1) {
        in.sin_family = AF_INET;
        in.sin_port = htons(1234);
        std::memcpy(&storage, &in, sizeof(in));
    } else {
        REQUIRE(inet_pton(AF_INET6, text, &in6.sin6_addr) == 1);
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(4321);
        std::memcpy(&storage, &in6, sizeof(in6));
    }
    return storage;
}

SourceKey key_of(const char* text, SourcePrefixes prefixes = {})
{
    const sockaddr_storage storage = address_of(text);
    const std::optional<SourceKey> key = source_key_of(reinterpret_cast<const sockaddr*>(&storage), prefixes);
    REQUIRE(key.has_value());
    return *key;
}

} // namespace

TEST_CASE("IPv4 sources: /32 by default, /24 aggregates a block", "[limits][source_key]")
{
    CHECK(format_source_key(key_of("192.0.2.77")) == "192.0.2.77");
    CHECK(key_of("192.0.2.77") != key_of("192.0.2.78"));
    const SourcePrefixes by24{.v4 = 24, .v6 = 64};
    CHECK(format_source_key(key_of("192.0.2.77", by24)) == "192.0.2.0");
    CHECK(key_of("192.0.2.77", by24) == key_of("192.0.2.200", by24));
    CHECK(key_of("192.0.2.77", by24) != key_of("192.0.3.77", by24));
    const SourcePrefixes by0{.v4 = 0, .v6 = 64};
    CHECK(key_of("10.0.0.1", by0) == key_of("203.0.113.9", by0)); // every IPv4 client is one source
    const SourcePrefixes by23{.v4 = 23, .v6 = 64};                // a prefix that splits a byte
    CHECK(key_of("192.0.2.1", by23) == key_of("192.0.3.254", by23));
    CHECK(format_source_key(key_of("192.0.3.254", by23)) == "192.0.2.0");
}

TEST_CASE("IPv6 sources: /64 by default, /128 per address", "[limits][source_key]")
{
    CHECK(format_source_key(key_of("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::");
    CHECK(key_of("2001:db8:1:2:aaaa::1") == key_of("2001:db8:1:2:ffff:ffff:ffff:ffff"));
    CHECK(key_of("2001:db8:1:2::1") != key_of("2001:db8:1:3::1"));
    const SourcePrefixes by128{.v4 = 32, .v6 = 128};
    CHECK(key_of("2001:db8::1", by128) != key_of("2001:db8::2", by128));
    CHECK(format_source_key(key_of("2001:db8::1", by128)) == "2001:db8::1");
    const SourcePrefixes by56{.v4 = 32, .v6 = 56};
    CHECK(key_of("2001:db8:0:12::1", by56) == key_of("2001:db8:0:ff::1", by56));
    CHECK(key_of("2001:db8:0:12::1", by56) != key_of("2001:db8:0:100::1", by56));
}

TEST_CASE("an IPv4-mapped IPv6 peer is the IPv4 source, with the IPv4 prefix", "[limits][source_key]")
{
    CHECK(key_of("::ffff:192.0.2.77") == key_of("192.0.2.77"));
    CHECK(format_source_key(key_of("::ffff:192.0.2.77")) == "192.0.2.77");
    const SourcePrefixes by24{.v4 = 24, .v6 = 128};
    CHECK(key_of("::ffff:192.0.2.77", by24) == key_of("192.0.2.1", by24));
    // Not masked with the IPv6 prefix: /64 would have merged every IPv4 client into ::ffff:0.0.0.0.
    CHECK(key_of("::ffff:192.0.2.77") != key_of("::ffff:198.51.100.1"));
    // An IPv6 address that only looks similar (v4-compatible ::a.b.c.d) stays IPv6.
    const SourcePrefixes exact{.v4 = 32, .v6 = 128};
    CHECK(key_of("::192.0.2.77", exact) != key_of("192.0.2.77", exact));
}

TEST_CASE("addresses without an IP are not tracked", "[limits][source_key]")
{
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    CHECK_FALSE(source_key_of(reinterpret_cast<const sockaddr*>(&un), {}).has_value());
    sockaddr_storage unspec{};
    CHECK_FALSE(source_key_of(reinterpret_cast<const sockaddr*>(&unspec), {}).has_value());
    CHECK_FALSE(source_key_of(nullptr, {}).has_value());
}

TEST_CASE("the key hash depends on the seed", "[limits][source_key]")
{
    const SourceKey a = key_of("192.0.2.1");
    const SourceKey b = key_of("192.0.2.2");
    CHECK(hash_source_key(a, 1) == hash_source_key(a, 1));
    CHECK(hash_source_key(a, 1) != hash_source_key(b, 1));
    CHECK(hash_source_key(a, 1) != hash_source_key(a, 2));
}
