// RateGate: the per-source token bucket, stepped through time by hand.
#include "limits/rate_gate.hpp"

#include <catch2/catch.hpp>

using namespace ringd::limits;
using namespace std::chrono_literals;

namespace {

constexpr int64_t ms = 1'000'000; // ns
constexpr int64_t start = 1'000'000 * ms;

int takes(const RateGate& gate, int64_t& tat, int64_t now, int tries)
{
    int taken = 0;
    for (int i = 0; i < tries; ++i)
        taken += gate.try_take(tat, now) ? 1 : 0;
    return taken;
}

} // namespace

TEST_CASE("a full bucket gives `burst` at once, then nothing at the same instant", "[limits][rate]")
{
    const RateGate gate({.count = 10, .period = 1s, .burst = 5});
    int64_t tat = start; // a new source: full
    CHECK(RateGate::is_full(tat, start));
    CHECK(takes(gate, tat, start, 100) == 5);
    CHECK_FALSE(RateGate::is_full(tat, start));
}

TEST_CASE("after the burst, tokens come back at the rate", "[limits][rate]")
{
    const RateGate gate({.count = 10, .period = 1s, .burst = 5}); // one per 100 ms
    CHECK(gate.interval_ns() == 100 * ms);
    int64_t tat = start;
    REQUIRE(takes(gate, tat, start, 5) == 5);
    CHECK(takes(gate, tat, start + 99 * ms, 1) == 0);
    CHECK(takes(gate, tat, start + 100 * ms, 2) == 1);
    // Steady state: one per interval, over ten seconds.
    int admitted = 0;
    for (int64_t now = start + 110 * ms; now < start + 10'110 * ms; now += 10 * ms)
        admitted += takes(gate, tat, now, 3);
    CHECK(admitted == 100);
    // Refill is capped at the burst: a long pause gives back 5, not more.
    CHECK(takes(gate, tat, start + 100'000 * ms, 100) == 5);
}

TEST_CASE("the bucket is full again `burst` intervals after its last use", "[limits][rate]")
{
    const RateGate gate({.count = 3000, .period = 1min, .burst = 100}); // 3000/m: one per 20 ms
    CHECK(gate.interval_ns() == 20 * ms);
    int64_t tat = start;
    REQUIRE(takes(gate, tat, start, 100) == 100);
    CHECK_FALSE(RateGate::is_full(tat, start + 1999 * ms));
    CHECK(RateGate::is_full(tat, start + 2000 * ms));
    CHECK(takes(gate, tat, start + 2000 * ms, 1000) == 100);
}

TEST_CASE("a refused take leaves the bucket as it was", "[limits][rate]")
{
    const RateGate gate({.count = 1, .period = 1s, .burst = 1});
    int64_t tat = start;
    REQUIRE(gate.try_take(tat, start));
    const int64_t before = tat;
    for (int i = 0; i < 10; ++i)
        CHECK_FALSE(gate.try_take(tat, start + 500 * ms));
    CHECK(tat == before); // hammering does not push the next token further away
    CHECK(gate.try_take(tat, start + 1000 * ms));
}

TEST_CASE("intervals round to the nearest nanosecond", "[limits][rate]")
{
    CHECK(RateGate({.count = 3, .period = 1s, .burst = 1}).interval_ns() == 333'333'333);
    CHECK(RateGate({.count = 2, .period = 1ns, .burst = 1}).interval_ns() == 1); // at least 1
    CHECK(RateGate({.count = 1, .period = 1h, .burst = 1}).interval_ns() == 3'600'000'000'000);
}
