// Micro-benchmark: nanoseconds per admit + release of SourceTable, from 1 and 2 threads, each thread cycling
// over its own 1000 sources (a warm table: no allocation). Prints one line per thread count; not a test.
//   build/tests/limits/source_table_bench
#include "limits/source_table.hpp"

#include <chrono>
#include <cstdio>
#include <netinet/in.h>
#include <thread>
#include <vector>

using namespace ringd::limits;

namespace {

constexpr int rounds = 2'000'000;

SourceKey v4(uint32_t n)
{
    sockaddr_in in{};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl((10u << 24) | n);
    return *source_key_of(reinterpret_cast<const sockaddr*>(&in), {});
}

void loop(SourceTable& table, uint32_t base, int& refused)
{
    std::vector<SourceKey> keys;
    for (uint32_t i = 0; i < 1000; ++i)
        keys.push_back(v4(base + i));
    for (int i = 0; i < rounds; ++i) {
        const SourceKey& key = keys[static_cast<size_t>(i) % keys.size()];
        if (table.admit(key, SourceTable::Clock::now()) == Admission::admitted)
            (void)table.release(key);
        else
            ++refused;
    }
}

} // namespace

int main()
{
    for (unsigned threads : {1u, 2u}) {
        SourceTable table({.max_connections_per_source = 10,
                           .rate = ConnectionRate{.count = 1'000'000, .period = std::chrono::seconds(1), .burst = 1000},
                           .max_tracked_sources = 65536,
                           .seed = std::nullopt});
        std::vector<int> refused(threads, 0);
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        for (unsigned t = 0; t < threads; ++t)
            workers.emplace_back([&, t] { loop(table, t * 100'000, refused[t]); });
        for (std::thread& w : workers)
            w.join();
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        int total_refused = 0;
        for (int r : refused)
            total_refused += r;
        std::printf("%u thread(s): %.1f ns per admit+release per thread (%d refused of %d)\n", threads, ns / rounds,
                    total_refused, rounds * static_cast<int>(threads));
    }
    return 0;
}
