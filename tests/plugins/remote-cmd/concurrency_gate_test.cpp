// remote-cmd's per-listener concurrency gate (plugins/remote-cmd/concurrency_gate.hpp).
#include "concurrency_gate.hpp"

#include <catch2/catch.hpp>
#include <thread>
#include <vector>

using ringd::remote_cmd::ConcurrencyGate;

TEST_CASE("slots up to the limit, then the queue, then nothing", "[gate]")
{
    ConcurrencyGate gate(2, 2);
    CHECK(gate.try_acquire());
    CHECK(gate.try_acquire());
    CHECK_FALSE(gate.try_acquire());
    auto t1 = gate.enqueue();
    auto t2 = gate.enqueue();
    REQUIRE(t1);
    REQUIRE(t2);
    CHECK_FALSE(gate.enqueue()); // the queue is bounded
    CHECK(gate.waiting() == 2);
    CHECK_FALSE(gate.try_acquire_queued(*t1));
    gate.release();
    // One slot free: only the head of the queue may take it, and newcomers may not overtake.
    CHECK_FALSE(gate.try_acquire());
    CHECK_FALSE(gate.try_acquire_queued(*t2));
    CHECK(gate.try_acquire_queued(*t1));
    CHECK(gate.running() == 2);
    gate.release();
    gate.release();
    // Two free slots: the remaining waiter goes, then the fast path reopens.
    CHECK(gate.try_acquire_queued(*t2));
    CHECK(gate.waiting() == 0);
    CHECK(gate.try_acquire());
    CHECK(gate.running() == 2);
}

TEST_CASE("leaving the queue lets the next waiter through", "[gate]")
{
    ConcurrencyGate gate(1, 4);
    REQUIRE(gate.try_acquire());
    auto t1 = gate.enqueue();
    auto t2 = gate.enqueue();
    gate.release();
    gate.leave_queue(*t1);
    CHECK(gate.try_acquire_queued(*t2));
    CHECK_FALSE(gate.try_acquire_queued(*t1)); // gone
    gate.leave_queue(12345);                   // unknown tickets are ignored
}

TEST_CASE("a zero-length queue refuses at once", "[gate]")
{
    ConcurrencyGate gate(1, 0);
    REQUIRE(gate.try_acquire());
    CHECK_FALSE(gate.enqueue());
}

TEST_CASE("the limit holds under contention", "[gate]")
{
    ConcurrencyGate gate(3, 64);
    std::atomic<int> inside{0};
    std::atomic<int> worst{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 2000; ++i) {
                bool got = gate.try_acquire();
                if (!got) {
                    auto ticket = gate.enqueue();
                    if (!ticket) continue;
                    while (!gate.try_acquire_queued(*ticket))
                        std::this_thread::yield();
                    got = true;
                }
                const int now = ++inside;
                int w = worst.load();
                while (now > w && !worst.compare_exchange_weak(w, now)) {
                }
                --inside;
                gate.release();
            }
        });
    }
    for (auto& t : threads)
        t.join();
    CHECK(worst.load() <= 3);
    CHECK(gate.running() == 0);
    CHECK(gate.waiting() == 0);
}
