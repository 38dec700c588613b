// TimerQueue: deadline order, cancellation, and that cancelled timers do not pile up.
#include "engine/timer_queue.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using ringd::engine::Clock;
using ringd::engine::TimerQueue;

TEST_CASE("timers fire in deadline order and only when due")
{
    TimerQueue q;
    const auto t0 = Clock::now();
    const auto late = q.start(t0 + 30ms, {3, 0, nullptr});
    const auto early = q.start(t0 + 10ms, {1, 0, nullptr});
    const auto middle = q.start(t0 + 20ms, {2, 0, nullptr});
    CHECK(q.next_deadline() == t0 + 10ms);
    CHECK_FALSE(q.pop_due(t0 + 5ms));
    auto a = q.pop_due(t0 + 25ms);
    REQUIRE(a);
    CHECK(a->first == early);
    auto b = q.pop_due(t0 + 25ms);
    REQUIRE(b);
    CHECK(b->first == middle);
    CHECK(b->second.conn_index == 2);
    CHECK_FALSE(q.pop_due(t0 + 25ms));
    auto c = q.pop_due(t0 + 30ms);
    REQUIRE(c);
    CHECK(c->first == late);
    CHECK_FALSE(q.next_deadline());
}

TEST_CASE("a cancelled timer never fires and no longer sets the deadline")
{
    TimerQueue q;
    const auto t0 = Clock::now();
    const auto first = q.start(t0 + 1ms, {});
    [[maybe_unused]] auto later = q.start(t0 + 50ms, {});
    CHECK(q.cancel(first));
    CHECK_FALSE(q.cancel(first));
    CHECK(q.next_deadline() == t0 + 50ms);
    CHECK_FALSE(q.pop_due(t0 + 10ms));
    CHECK(q.size() == 1);
}

TEST_CASE("many start/cancel cycles with far deadlines keep the heap bounded")
{
    TimerQueue q;
    const auto far = Clock::now() + 1h;
    for (int i = 0; i < 100000; ++i)
        CHECK(q.cancel(q.start(far, {})));
    CHECK(q.size() == 0);
    CHECK_FALSE(q.next_deadline());
}

TEST_CASE("a timer's delay is capped at a year, so a huge delay cannot wrap round and fire at once")
{
    using ringd::engine::deadline_after;
    const auto t0 = Clock::now();
    CHECK(deadline_after(t0, 250) == t0 + 250ms);
    const auto year = t0 + std::chrono::hours(24 * 365);
    CHECK(deadline_after(t0, UINT64_MAX) == year);
    CHECK(deadline_after(t0, uint64_t(INT64_MAX)) == year);
    CHECK(deadline_after(t0, UINT64_MAX) > t0);
}
