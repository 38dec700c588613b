// SourceTable: per-source connection counts and rates, eviction of idle sources, and a full table.
#include "limits/source_table.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <netinet/in.h>
#include <vector>

using namespace ringd::limits;
using namespace std::chrono_literals;

namespace {

using Clock = SourceTable::Clock;
const Clock::time_point t0 = Clock::time_point{} + 1000s;

// The IPv4 source 10.x.y.z for n = x*65536 + y*256 + z.
SourceKey v4(uint32_t n)
{
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl((10u << 24) | n);
    return *source_key_of(reinterpret_cast<const sockaddr*>(&in), {});
}

SourceTable::Settings settings(std::optional<uint32_t> per_source, std::optional<ConnectionRate> rate,
                               uint32_t max_tracked = 65536)
{
    return SourceTable::Settings{
        .max_connections_per_source = per_source, .rate = rate, .max_tracked_sources = max_tracked, .seed = 42};
}

} // namespace

TEST_CASE("a source is refused at max_connections_per_source and admitted again after a release", "[limits][table]")
{
    SourceTable table(settings(3, std::nullopt));
    for (int i = 0; i < 3; ++i)
        CHECK(table.admit(v4(1), t0) == Admission::admitted);
    CHECK(table.admit(v4(1), t0) == Admission::refused_per_source_limit);
    CHECK(table.admit(v4(1), t0 + 1h) == Admission::refused_per_source_limit); // time alone does not help
    CHECK(table.admit(v4(2), t0) == Admission::admitted);                      // another source is apart
    CHECK(table.open_connections(v4(1)) == 3);
    CHECK(table.release(v4(1)));
    CHECK(table.open_connections(v4(1)) == 2);
    CHECK(table.admit(v4(1), t0) == Admission::admitted);
    CHECK(table.admit(v4(1), t0) == Admission::refused_per_source_limit);
}

TEST_CASE("a release without an admit changes nothing", "[limits][table]")
{
    SourceTable table(settings(1, std::nullopt));
    CHECK_FALSE(table.release(v4(7)));
    REQUIRE(table.admit(v4(7), t0) == Admission::admitted);
    CHECK(table.release(v4(7)));
    CHECK_FALSE(table.release(v4(7)));
    CHECK(table.counts().open_connections == 0);
}

TEST_CASE("the rate: a burst, then one per interval; a refused connection costs no token", "[limits][table]")
{
    SourceTable table(settings(std::nullopt, ConnectionRate{.count = 10, .period = 1s, .burst = 3}));
    for (int i = 0; i < 3; ++i) {
        REQUIRE(table.admit(v4(1), t0) == Admission::admitted);
        REQUIRE(table.release(v4(1))); // closing does not give the token back
    }
    CHECK(table.admit(v4(1), t0) == Admission::refused_rate);
    CHECK(table.admit(v4(1), t0 + 99ms) == Admission::refused_rate);
    CHECK(table.admit(v4(1), t0 + 100ms) == Admission::admitted);
    CHECK(table.admit(v4(1), t0 + 100ms) == Admission::refused_rate);
    CHECK(table.admit(v4(2), t0 + 100ms) == Admission::admitted); // buckets are per source
    CHECK(table.admit(v4(1), t0 + 400ms) == Admission::admitted); // 300 ms: 3 tokens back, capped at burst
    CHECK(table.admit(v4(1), t0 + 400ms) == Admission::admitted);
    CHECK(table.admit(v4(1), t0 + 400ms) == Admission::admitted);
    CHECK(table.admit(v4(1), t0 + 400ms) == Admission::refused_rate);
}

TEST_CASE("the count is checked before the rate, so a refused connection does not spend a token", "[limits][table]")
{
    SourceTable table(settings(1, ConnectionRate{.count = 1, .period = 1s, .burst = 2}));
    REQUIRE(table.admit(v4(1), t0) == Admission::admitted);
    for (int i = 0; i < 5; ++i)
        CHECK(table.admit(v4(1), t0) == Admission::refused_per_source_limit);
    REQUIRE(table.release(v4(1)));
    CHECK(table.admit(v4(1), t0) == Admission::admitted); // the second token of the burst is still there
}

TEST_CASE("idle sources are evicted, least recently used first, to make room", "[limits][table]")
{
    SourceTable table(settings(2, std::nullopt, 4));
    REQUIRE(table.shard_count() == 1);
    for (uint32_t n = 1; n <= 4; ++n) {
        REQUIRE(table.admit(v4(n), t0) == Admission::admitted);
        REQUIRE(table.release(v4(n)));
    }
    CHECK(table.counts().tracked == 4);
    REQUIRE(table.admit(v4(1), t0) == Admission::admitted); // 1 is in use again: 2 is now the oldest idle one
    REQUIRE(table.release(v4(1)));
    CHECK(table.admit(v4(5), t0) == Admission::admitted);
    CHECK_FALSE(table.is_tracked(v4(2)));
    CHECK(table.is_tracked(v4(1)));
    CHECK(table.is_tracked(v4(3)));
    CHECK(table.counts().tracked == 4);
    CHECK(table.counts().evictions == 1);
    // An evicted source starts afresh.
    CHECK(table.admit(v4(2), t0) == Admission::admitted);
    CHECK_FALSE(table.is_tracked(v4(3)));
}

TEST_CASE("a source with tokens to regain is not idle: it is kept until its bucket is full", "[limits][table]")
{
    SourceTable table(settings(std::nullopt, ConnectionRate{.count = 1, .period = 1s, .burst = 1}, 2));
    REQUIRE(table.admit(v4(1), t0) == Admission::admitted);
    REQUIRE(table.release(v4(1)));
    REQUIRE(table.admit(v4(2), t0) == Admission::admitted);
    REQUIRE(table.release(v4(2)));
    // Both closed, but both spent their only token: forgetting one would hand it a fresh bucket.
    CHECK(table.admit(v4(3), t0 + 500ms) == Admission::refused_table_full);
    CHECK(table.admit(v4(1), t0 + 500ms) == Admission::refused_rate);
    // Both full again at t0 + 1s; 1 was touched by its refused attempt, so 2 is the least recently used.
    CHECK(table.admit(v4(3), t0 + 1s) == Admission::admitted);
    CHECK(table.is_tracked(v4(1)));
    CHECK_FALSE(table.is_tracked(v4(2)));
}

TEST_CASE("a table full of sources with open connections refuses new sources", "[limits][table]")
{
    SourceTable table(settings(5, std::nullopt, 8));
    for (uint32_t n = 0; n < 8; ++n)
        REQUIRE(table.admit(v4(n), t0) == Admission::admitted);
    CHECK(table.admit(v4(100), t0) == Admission::refused_table_full);
    CHECK(table.admit(v4(100), t0 + 1h) == Admission::refused_table_full);
    CHECK(table.admit(v4(3), t0) == Admission::admitted); // tracked sources go on as before
    CHECK_FALSE(table.is_tracked(v4(100)));
    CHECK(table.counts().tracked == 8);
    REQUIRE(table.release(v4(5))); // 5 goes idle: its place can be taken
    CHECK(table.admit(v4(100), t0) == Admission::admitted);
    CHECK_FALSE(table.is_tracked(v4(5)));
}

TEST_CASE("the table holds at most max_tracked_sources, across its shards", "[limits][table]")
{
    for (uint32_t max : {1u, 63u, 64u, 1000u, 65536u, 100'000u}) {
        SourceTable table(settings(1, std::nullopt, max));
        INFO("max_tracked_sources " << max << ", " << table.shard_count() << " shards");
        CHECK(table.shard_count() <= SourceTable::max_shards);
        uint32_t admitted = 0;
        for (uint32_t n = 0; n < 2 * max + 100; ++n)
            admitted += table.admit(v4(n), t0) == Admission::admitted ? 1 : 0;
        CHECK(admitted == max); // every shard filled to its part of the capacity, none beyond
        CHECK(table.counts().tracked == max);
        CHECK(table.counts().open_connections == max);
    }
}

TEST_CASE("many sources: every admitted one is found again after the index grows and entries are evicted",
          "[limits][table]")
{
    SourceTable table(settings(1, std::nullopt, 512)); // 8 shards of 64
    std::vector<uint32_t> open;
    for (uint32_t n = 0; open.size() < 64; ++n) {
        REQUIRE(table.admit(v4(n), t0) == Admission::admitted); // the idle ones make room
        if (n % 64 == 0)
            open.push_back(n); // kept open: pinned
        else
            REQUIRE(table.release(v4(n)));
    }
    CHECK(table.counts().evictions > 3000);
    for (uint32_t n : open) {
        CHECK(table.open_connections(v4(n)) == 1);
        CHECK(table.admit(v4(n), t0) == Admission::refused_per_source_limit);
        CHECK(table.release(v4(n)));
    }
    CHECK(table.counts().open_connections == 0);
}

TEST_CASE("refusal reasons are named after the key that refused", "[limits][table]")
{
    CHECK(describe(Admission::refused_per_source_limit) == "max_connections_per_source");
    CHECK(describe(Admission::refused_rate) == "connection_rate_per_source");
    CHECK(describe(Admission::refused_table_full) == "source_table_full");
}
