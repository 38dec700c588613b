// tcp-proxy's upstream choice: round robin, least connections, down marking, one try per upstream per client.
#include "upstream_set.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <vector>

using namespace ringd::tcp_proxy;
using namespace std::chrono_literals;

namespace {

constexpr UpstreamSet::Time t0 = 1'000'000'000;
constexpr UpstreamSet::Time ten_s = std::chrono::nanoseconds(10s).count();

std::vector<std::size_t> every_try(UpstreamSet& set, UpstreamSet::Time now)
{
    std::vector<std::size_t> order;
    auto attempt = set.attempt();
    while (auto i = attempt.next(now))
        order.push_back(*i);
    return order;
}

} // namespace

TEST_CASE("round robin spreads first choices evenly and tries each upstream once", "[tcp_proxy]")
{
    UpstreamSet set(3, Balance::round_robin, 10s);
    std::map<std::size_t, int> first;
    for (int client = 0; client < 300; ++client) {
        const auto order = every_try(set, t0);
        REQUIRE(order.size() == 3);
        CHECK(order[0] != order[1]);
        CHECK(order[1] != order[2]);
        CHECK(order[0] != order[2]);
        ++first[order[0]];
    }
    CHECK(first[0] == 100);
    CHECK(first[1] == 100);
    CHECK(first[2] == 100);
}

TEST_CASE("a down upstream is skipped until its down time is over", "[tcp_proxy]")
{
    UpstreamSet set(2, Balance::round_robin, 10s);
    set.mark_down(0, t0);
    for (int client = 0; client < 10; ++client)
        CHECK(every_try(set, t0 + 1) == std::vector<std::size_t>{1});
    CHECK(set.is_down(0, t0 + ten_s - 1));
    CHECK_FALSE(set.is_down(0, t0 + ten_s));
    CHECK(every_try(set, t0 + ten_s).size() == 2);
}

TEST_CASE("a successful connect marks an upstream up at once", "[tcp_proxy]")
{
    UpstreamSet set(2, Balance::round_robin, 10s);
    set.mark_down(1, t0);
    set.mark_up(1);
    CHECK_FALSE(set.is_down(1, t0 + 1));
}

TEST_CASE("every upstream down: nothing to try, so the client is closed at once", "[tcp_proxy]")
{
    UpstreamSet set(3, Balance::least_connections, 5s);
    for (std::size_t i = 0; i < 3; ++i)
        set.mark_down(i, t0);
    CHECK(every_try(set, t0 + 1).empty());
}

TEST_CASE("least connections picks the upstream with the fewest open connections", "[tcp_proxy]")
{
    UpstreamSet set(3, Balance::least_connections, 10s);
    for (int i = 0; i < 5; ++i)
        set.opened(0);
    for (int i = 0; i < 2; ++i)
        set.opened(1);
    set.opened(2);
    CHECK(every_try(set, t0) == std::vector<std::size_t>{2, 1, 0});
    set.closed(0);
    set.closed(0);
    set.closed(0);
    set.closed(0); // 0 now has 1, like 2: ties go round
    std::map<std::size_t, int> first;
    for (int client = 0; client < 100; ++client)
        ++first[every_try(set, t0).front()];
    CHECK(first[1] == 0);
    CHECK(first[0] > 30);
    CHECK(first[2] > 30);
}

TEST_CASE("least connections balances a stream of long-lived clients", "[tcp_proxy]")
{
    UpstreamSet set(4, Balance::least_connections, 10s);
    for (int client = 0; client < 400; ++client) {
        auto attempt = set.attempt();
        set.opened(*attempt.next(t0));
    }
    for (std::size_t i = 0; i < 4; ++i)
        CHECK(set.active(i) == 100);
}

TEST_CASE("each outage is reported once: down when it starts, up when a connect succeeds again", "[tcp_proxy]")
{
    UpstreamSet set(2, Balance::round_robin, 10s);
    CHECK(set.mark_down(0, t0));                   // up -> down: log and count it
    CHECK_FALSE(set.mark_down(0, t0 + 1));         // another client's failure in the same outage
    CHECK_FALSE(set.mark_down(0, t0 + ten_s + 1)); // retried after down_time and failed: the same outage
    CHECK(set.is_down(0, t0 + ten_s + 2));         // but skipped for another down_time from now
    CHECK(set.mark_up(0));                         // down -> up
    CHECK_FALSE(set.mark_up(0));                   // already up
    CHECK_FALSE(set.mark_up(1));                   // never down
    CHECK(set.mark_down(0, t0 + 2 * ten_s));       // a new outage
}
