// Micro-benchmark: nanoseconds per admit + release of SourceTable, from 1 and 2 threads cycling over 1000
// sources each (a warm table: no allocation): their own sources, or the same ones (both threads then meet in
// the same shards). Each admit reads steady_clock, as the engine's would. Prints one line per case; not a test.
//   build/tests/limits/source_table_bench
#include "limits/source_table.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <netinet/in.h>
#include <thread>
#include <utility>
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

double thread_cpu_ns()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Returns the thread's CPU time for the loop: on a shared machine, wall time also counts time not scheduled.
double loop(SourceTable& table, uint32_t base, int& refused)
{
    std::vector<SourceKey> keys;
    for (uint32_t i = 0; i < 1000; ++i)
        keys.push_back(v4(base + i));
    const double start = thread_cpu_ns();
    for (int i = 0; i < rounds; ++i) {
        const SourceKey& key = keys[static_cast<size_t>(i) % keys.size()];
        if (table.admit(key, SourceTable::Clock::now()) == Admission::admitted)
            (void)table.release(key);
        else
            ++refused;
    }
    return thread_cpu_ns() - start;
}

} // namespace

int main()
{
    for (const auto& [threads, shared] : {std::pair{1u, false}, std::pair{2u, false}, std::pair{2u, true}}) {
        SourceTable table({.max_connections_per_source = 10,
                           .rate = ConnectionRate{.count = 1'000'000, .period = std::chrono::seconds(1), .burst = 1000},
                           .max_tracked_sources = 65536,
                           .seed = std::nullopt});
        std::vector<int> refused(threads, 0);
        std::vector<double> cpu(threads, 0);
        const auto start = std::chrono::steady_clock::now();
        std::vector<std::thread> workers;
        for (unsigned t = 0; t < threads; ++t)
            workers.emplace_back([&, t] { cpu[t] = loop(table, shared ? 0 : t * 100'000, refused[t]); });
        for (std::thread& w : workers)
            w.join();
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
        int total_refused = 0;
        double total_cpu = 0;
        for (unsigned t = 0; t < threads; ++t) {
            total_refused += refused[t];
            total_cpu += cpu[t];
        }
        std::printf(
            "%u thread(s), %s sources: %.1f ns wall, %.1f ns CPU per admit+release per thread (%d refused of %d)\n",
            threads, shared ? "the same" : "their own", ns / rounds, total_cpu / threads / rounds, total_refused,
            rounds * static_cast<int>(threads));
    }
    return 0;
}
