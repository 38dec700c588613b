// SourceTable from several threads at once: no admitted connection is lost or counted twice, no source ever
// has more than max_connections_per_source open, and the table never holds more than its capacity. Bounded in
// time (about a second); meant to be run under TSan/ASan as well (docs/testing.md).
#include "limits/source_table.hpp"

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <random>
#include <thread>
#include <vector>

using namespace ringd::limits;
using namespace std::chrono_literals;

namespace {

constexpr uint32_t sources = 300; // more than the table holds, so eviction and table_full happen
constexpr uint32_t per_source = 3;
constexpr uint32_t max_tracked = 256; // 4 shards of 64
constexpr unsigned threads = 4;
constexpr auto run_time = 800ms;

SourceKey v4(uint32_t n)
{
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl((10u << 24) | n);
    return *source_key_of(reinterpret_cast<const sockaddr*>(&in), {});
}

struct Tally {
    std::array<std::atomic<uint64_t>, 4> by_outcome{}; // indexed by Admission
    std::atomic<bool> over_limit{false};
    std::atomic<bool> bad_release{false};
};

// Admits and releases random sources, holding up to 8 connections at a time, each for a random while.
void churn(SourceTable& table, std::vector<std::atomic<uint32_t>>& open, Tally& tally, unsigned seed,
           std::chrono::steady_clock::time_point until)
{
    std::mt19937 random(seed);
    std::vector<uint32_t> held;
    while (std::chrono::steady_clock::now() < until) {
        for (int round = 0; round < 256; ++round) {
            const bool close = !held.empty() && (held.size() >= 8 || random() % 2 == 0);
            if (close) {
                const size_t i = random() % held.size();
                open[held[i]].fetch_sub(1);
                if (!table.release(v4(held[i]))) tally.bad_release = true;
                held[i] = held.back();
                held.pop_back();
                continue;
            }
            const uint32_t n = random() % sources;
            const Admission a = table.admit(v4(n), std::chrono::steady_clock::now());
            tally.by_outcome[static_cast<size_t>(a)].fetch_add(1);
            if (a != Admission::admitted) continue;
            if (open[n].fetch_add(1) + 1 > per_source) tally.over_limit = true;
            held.push_back(n);
        }
    }
    for (uint32_t n : held) {
        open[n].fetch_sub(1);
        if (!table.release(v4(n))) tally.bad_release = true;
    }
}

} // namespace

TEST_CASE("admit and release from several threads: counts balance, limits hold", "[limits][table][stress]")
{
    // A rate generous enough that most connections pass it but some bursts do not.
    SourceTable table({.max_connections_per_source = per_source,
                       .rate = ConnectionRate{.count = 20000, .period = 1s, .burst = 50},
                       .max_tracked_sources = max_tracked,
                       .seed = std::nullopt});
    std::vector<std::atomic<uint32_t>> open(sources);
    Tally tally;
    const auto until = std::chrono::steady_clock::now() + run_time;
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t)
        workers.emplace_back([&, t] { churn(table, open, tally, 1000 + t, until); });
    // Meanwhile, a reader (as a metrics scrape would be).
    uint64_t max_seen = 0;
    while (std::chrono::steady_clock::now() < until) {
        max_seen = std::max(max_seen, table.counts().tracked);
        std::this_thread::sleep_for(5ms);
    }
    for (std::thread& w : workers)
        w.join();

    const SourceTable::Counts counts = table.counts();
    INFO("admitted " << tally.by_outcome[0] << ", per-source " << tally.by_outcome[1] << ", rate "
                     << tally.by_outcome[2] << ", table full " << tally.by_outcome[3] << ", evictions "
                     << counts.evictions);
    CHECK_FALSE(tally.over_limit);
    CHECK_FALSE(tally.bad_release);
    CHECK(counts.open_connections == 0);
    CHECK(counts.tracked <= max_tracked);
    CHECK(max_seen <= max_tracked);
    CHECK(tally.by_outcome[0] > 10000);
    CHECK(tally.by_outcome[1] > 0); // every path was exercised
    CHECK(counts.evictions > 0);
    for (uint32_t n = 0; n < sources; ++n)
        CHECK(table.open_connections(v4(n)) == 0);
}
