// Token buckets per source address, and the bounded table's behaviour when full.
#include "rate_limiter.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <netinet/in.h>

using ringd::udp_echo::RateLimiter;
using ringd::udp_echo::source_of;
using ringd::udp_echo::SourceKey;

namespace {

constexpr int64_t ms = 1'000'000;
constexpr int64_t s = 1'000'000'000;

SourceKey v4(const char* dotted, uint16_t port = 40000)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, dotted, &a.sin_addr);
    const auto src = source_of(reinterpret_cast<const sockaddr*>(&a), sizeof a);
    REQUIRE(src);
    CHECK(src->port == port);
    return src->key;
}

SourceKey v6(const char* text, uint16_t port = 40000)
{
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    inet_pton(AF_INET6, text, &a.sin6_addr);
    const auto src = source_of(reinterpret_cast<const sockaddr*>(&a), sizeof a);
    REQUIRE(src);
    CHECK(src->port == port);
    return src->key;
}

SourceKey numbered(uint32_t n)
{
    SourceKey k;
    k.bytes[0] = 0x20;
    k.bytes[12] = static_cast<uint8_t>(n >> 24);
    k.bytes[13] = static_cast<uint8_t>(n >> 16);
    k.bytes[14] = static_cast<uint8_t>(n >> 8);
    k.bytes[15] = static_cast<uint8_t>(n);
    return k;
}

int allowed(RateLimiter& limiter, const SourceKey& key, int count, int64_t now)
{
    int n = 0;
    for (int i = 0; i < count; ++i)
        n += limiter.allow(key, now) ? 1 : 0;
    return n;
}

} // namespace

TEST_CASE("source keys: address only, IPv4 and IPv4-mapped IPv6 alike", "[rate]")
{
    CHECK(v4("192.0.2.1", 1) == v4("192.0.2.1", 2));
    CHECK(v4("192.0.2.1") == v6("::ffff:192.0.2.1"));
    CHECK(!(v4("192.0.2.1") == v4("192.0.2.2")));
    CHECK(!(v6("2001:db8::1") == v6("2001:db8::2")));
    sockaddr_in short_addr{};
    short_addr.sin_family = AF_INET;
    CHECK(!source_of(reinterpret_cast<const sockaddr*>(&short_addr), 4));
    sockaddr unix_addr{};
    unix_addr.sa_family = AF_UNIX;
    CHECK(!source_of(&unix_addr, sizeof unix_addr));
    CHECK(!source_of(nullptr, 0));
}

TEST_CASE("burst, then the rate", "[rate]")
{
    RateLimiter limiter(1000, 200, 1024, 1);
    const SourceKey a = v4("192.0.2.1");
    const int64_t t0 = 5 * s;
    CHECK(allowed(limiter, a, 250, t0) == 200);
    CHECK(allowed(limiter, a, 10, t0 + 1 * ms) == 1);
    CHECK(allowed(limiter, a, 10, t0 + 11 * ms) == 10);
    CHECK(allowed(limiter, a, 1000, t0 + 10 * s) == 200); // refilled, but only up to the burst
    // Another source is unaffected by a's exhaustion.
    CHECK(allowed(limiter, v4("192.0.2.2"), 300, t0 + 10 * s) == 200);
    CHECK(limiter.tracked() == 2);
}

TEST_CASE("a steady flood is cut to the rate", "[rate]")
{
    RateLimiter limiter(1000, 200, 1024, 2);
    const SourceKey a = v6("2001:db8::1");
    int n = 0;
    for (int64_t t = 0; t < 10 * s; t += 100'000)
        n += limiter.allow(a, s + t) ? 1 : 0; // 10 kpps for 10 s
    CHECK(n >= 200 + 9999 - 2);
    CHECK(n <= 200 + 10000 + 1);
}

TEST_CASE("slow rates", "[rate]")
{
    RateLimiter limiter(1.0 / 60, 2, 8, 3); // 1/m, burst 2
    const SourceKey a = v4("198.51.100.7");
    CHECK(allowed(limiter, a, 5, 0) == 2);
    CHECK(allowed(limiter, a, 5, 59 * s) == 0);
    CHECK(allowed(limiter, a, 5, 61 * s) == 1);
}

TEST_CASE("a full table: idle entries are reused, a flood shares one overflow bucket", "[rate]")
{
    RateLimiter limiter(10, 5, 8, 4); // one set of 8; idle after 0.5 s
    REQUIRE(limiter.capacity() == 8);
    int64_t now = s;
    for (uint32_t i = 0; i < 8; ++i)
        CHECK(allowed(limiter, numbered(i), 1, now) == 1);
    CHECK(limiter.tracked() == 8);
    CHECK(limiter.overflowed() == 0);

    // Table full, nobody idle: newcomers share the overflow bucket (burst 5 for all of them together).
    int newcomers = 0;
    for (uint32_t i = 100; i < 120; ++i)
        newcomers += allowed(limiter, numbered(i), 1, now);
    CHECK(newcomers == 5);
    CHECK(limiter.overflowed() == 20);
    // The tracked sources keep their own budgets (4 tokens left each).
    CHECK(allowed(limiter, numbered(3), 10, now) == 4);

    // After 0.5 s every entry would be full again; keep source 3 busy so only the others become reusable.
    now += 600 * ms;
    CHECK(allowed(limiter, numbered(3), 1, now - 200 * ms) == 1);
    CHECK(allowed(limiter, numbered(200), 10, now) == 5); // takes an idle entry: a full bucket of its own
    CHECK(limiter.overflowed() == 20);
    CHECK(limiter.tracked() == 8);
    // A forgotten source comes back with a full bucket, exactly as if it had been remembered.
    CHECK(allowed(limiter, numbered(0), 10, now) == 5);
}

TEST_CASE("many sources stay within the capacity", "[rate]")
{
    RateLimiter limiter(1000, 200, 100, 5); // rounded up to 128
    CHECK(limiter.capacity() == 128);
    for (uint32_t i = 0; i < 10'000; ++i)
        (void)limiter.allow(numbered(i), s);
    CHECK(limiter.tracked() <= 128);
    CHECK(limiter.tracked() >= 100); // the keyed hash spreads sources over the sets
    CHECK(limiter.overflowed() >= 10'000 - 128);
}

TEST_CASE("capacity is at least one set", "[rate]")
{
    CHECK(RateLimiter(1, 1, 0, 0).capacity() == 8);
    CHECK(RateLimiter(1, 1, 9, 0).capacity() == 16);
    CHECK(RateLimiter(1, 1, 16384, 0).capacity() == 16384);
}
