// The worker mailbox (engine/mailbox.hpp): many producers and one consumer, FIFO per producer, bounded in bytes,
// closable, and one wake per batch.
#include "engine/mailbox.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <thread>
#include <vector>

using namespace ringd::engine;

namespace {

// A message whose payload says who sent it and its sequence number among that producer's messages.
MessagePtr numbered(uint32_t producer, uint32_t seq, std::size_t extra = 0)
{
    MessagePtr m = Message::make(MessageKind::send, 8 + extra);
    std::memcpy(m->payload(), &producer, 4);
    std::memcpy(m->payload() + 4, &seq, 4);
    return m;
}

std::pair<uint32_t, uint32_t> decode(Message& m)
{
    uint32_t producer = 0;
    uint32_t seq = 0;
    std::memcpy(&producer, m.payload(), 4);
    std::memcpy(&seq, m.payload() + 4, 4);
    return {producer, seq};
}

} // namespace

TEST_CASE("one producer's messages come out in the order they went in")
{
    Mailbox box(1 << 20);
    for (uint32_t i = 0; i < 100; ++i) {
        MessagePtr m = numbered(0, i);
        REQUIRE(box.push(m) == Mailbox::Push::ok);
    }
    MessageBatch batch = box.take_all();
    for (uint32_t i = 0; i < 100; ++i) {
        REQUIRE_FALSE(batch.empty());
        CHECK(decode(*batch.pop()).second == i);
    }
    CHECK(batch.empty());
    CHECK(box.looks_empty());
    CHECK(box.queued_bytes() == 0);
}

TEST_CASE("a full mailbox refuses, hands the message back, and takes again once emptied")
{
    const std::size_t one = sizeof(Message) + 8;
    Mailbox box(3 * one);
    for (uint32_t i = 0; i < 3; ++i) {
        MessagePtr m = numbered(0, i);
        REQUIRE(box.push(m) == Mailbox::Push::ok);
        CHECK(m == nullptr);
    }
    CHECK(box.queued_bytes() == 3 * one);
    MessagePtr refused = numbered(0, 3);
    CHECK(box.push(refused) == Mailbox::Push::full);
    REQUIRE(refused != nullptr); // still the caller's
    CHECK(decode(*refused).second == 3);
    CHECK(box.queued_bytes() == 3 * one);
    MessageBatch batch = box.take_all();
    CHECK(box.queued_bytes() == 0);
    CHECK(box.push(refused) == Mailbox::Push::ok);
    // A message bigger than the whole capacity never fits.
    MessagePtr huge = numbered(0, 4, 3 * one);
    CHECK(box.push(huge) == Mailbox::Push::full);
}

TEST_CASE("a closed mailbox gives back what it held and refuses everything after")
{
    Mailbox box(1 << 20);
    MessagePtr a = numbered(0, 0);
    REQUIRE(box.push(a) == Mailbox::Push::ok);
    MessageBatch rest = box.close();
    REQUIRE_FALSE(rest.empty());
    CHECK(decode(*rest.pop()).second == 0);
    CHECK(rest.empty());
    MessagePtr b = numbered(0, 1);
    CHECK(box.push(b) == Mailbox::Push::closed);
    CHECK(b != nullptr);
    CHECK(box.queued_bytes() == 0);
    CHECK(box.take_all().empty());
    CHECK(box.looks_empty());
}

TEST_CASE("one wake per batch: the first push claims it, the consumer's clear re-opens it")
{
    Mailbox box(1 << 20);
    CHECK(box.claim_wake());
    CHECK_FALSE(box.claim_wake());
    CHECK_FALSE(box.claim_wake());
    box.clear_wake();
    CHECK(box.claim_wake());
}

TEST_CASE("many producers against one consumer: nothing lost, nothing twice, FIFO per producer, bounded")
{
    constexpr uint32_t producers = 4;
    constexpr uint32_t per_producer = 50'000;
    const std::size_t capacity = 1024 * (sizeof(Message) + 8); // small: producers hit the cap often
    Mailbox box(capacity);
    std::atomic<uint64_t> refusals{0};
    std::atomic<uint32_t> wakes{0};
    std::atomic<uint32_t> unexpected{0};
    std::size_t largest_batch = 0;
    uint64_t out_of_order = 0;
    std::vector<std::thread> threads;
    for (uint32_t p = 0; p < producers; ++p) {
        threads.emplace_back([&, p] {
            for (uint32_t seq = 0; seq < per_producer;) {
                MessagePtr m = numbered(p, seq);
                const Mailbox::Push r = box.push(m);
                if (r == Mailbox::Push::full) {
                    refusals.fetch_add(1, std::memory_order_relaxed);
                    std::this_thread::yield();
                    continue; // the same sequence number again
                }
                if (r != Mailbox::Push::ok) {
                    unexpected.fetch_add(1);
                    return;
                }
                if (box.claim_wake()) wakes.fetch_add(1, std::memory_order_relaxed);
                ++seq;
            }
        });
    }
    std::vector<uint32_t> next(producers, 0);
    uint64_t received = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (received < uint64_t(producers) * per_producer && std::chrono::steady_clock::now() < deadline) {
        box.clear_wake();
        MessageBatch batch = box.take_all();
        std::size_t in_batch = 0;
        while (!batch.empty()) {
            ++in_batch;
            MessagePtr m = batch.pop();
            const auto [producer, seq] = decode(*m);
            // In order, none lost, none twice (checked once below: Catch2 is slow per assertion).
            if (producer >= producers || seq != next[producer]) {
                ++out_of_order;
                continue;
            }
            ++next[producer];
            ++received;
        }
        largest_batch = std::max(largest_batch, in_batch);
    }
    for (auto& t : threads)
        t.join();
    CHECK(unexpected == 0);
    CHECK(out_of_order == 0);
    CHECK(received == uint64_t(producers) * per_producer);
    CHECK(largest_batch <= 1024); // never more queued than the capacity holds
    CHECK(box.queued_bytes() == 0);
    CHECK(wakes.load() >= 1);
    INFO("refusals " << refusals.load() << ", wakes " << wakes.load());
    CHECK(refusals.load() > 0); // the cap was really in play
}
