// OutputQueue: ordering, coalescing into pooled blocks, owned buffers, partial consumption, and that an
// idle queue holds no memory.
#include "engine/output_queue.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

using ringd::engine::OutputQueue;
using ringd::engine::SegmentPool;

namespace {

std::span<const std::byte> bytes_of(const std::string& s)
{
    return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

// Drains the queue as a kernel would: gather, "send" up to `chunk` bytes, consume.
std::string drain(OutputQueue& q, SegmentPool& pool, std::size_t chunk)
{
    std::string sent;
    while (!q.empty()) {
        iovec iov[8];
        const unsigned n = q.gather(iov, 8);
        REQUIRE(n > 0);
        std::size_t budget = chunk;
        std::size_t taken = 0;
        for (unsigned i = 0; i < n && budget > 0; ++i) {
            const std::size_t k = std::min(budget, iov[i].iov_len);
            sent.append(static_cast<const char*>(iov[i].iov_base), k);
            budget -= k;
            taken += k;
        }
        q.consume(taken, pool);
    }
    return sent;
}

} // namespace

TEST_CASE("bytes come out in the order they were queued, whatever the send sizes")
{
    SegmentPool pool;
    OutputQueue q;
    std::string expected;
    for (int i = 0; i < 2000; ++i) {
        std::string piece = std::to_string(i) + std::string(std::size_t(i % 97), char('a' + i % 26)) + ";";
        q.append(bytes_of(piece), pool);
        expected += piece;
    }
    REQUIRE(q.bytes() == expected.size());
    for (std::size_t chunk : {1u, 7u, 4096u, 70000u}) {
        OutputQueue copy;
        copy.append(bytes_of(expected), pool);
        CHECK(drain(copy, pool, chunk) == expected);
    }
    CHECK(drain(q, pool, 1000) == expected);
}

TEST_CASE("small appends coalesce into one pooled block")
{
    SegmentPool pool;
    OutputQueue q;
    for (int i = 0; i < 100; ++i)
        q.append(bytes_of("0123456789"), pool);
    iovec iov[8];
    CHECK(q.gather(iov, 8) == 1);
    CHECK(iov[0].iov_len == 1000);
    q.clear(pool);
}

TEST_CASE("a drained queue returns its blocks to the pool, so idle connections hold none")
{
    SegmentPool pool;
    OutputQueue q;
    q.append(bytes_of(std::string(40000, 'x')), pool);
    CHECK(pool.cached() == 0);
    q.consume(q.bytes(), pool);
    CHECK(q.empty());
    iovec iov[8];
    CHECK(q.gather(iov, 8) == 0);
    CHECK(pool.cached() == 3); // 40000 bytes took three 16 KiB blocks, all back in the pool
}

TEST_CASE("the pool keeps at most its cap of free blocks")
{
    SegmentPool pool(2);
    OutputQueue q;
    q.append(bytes_of(std::string(5 * SegmentPool::block_size, 'y')), pool);
    q.clear(pool);
    CHECK(pool.cached() == 2);
}

TEST_CASE("owned buffers are sent without copying and freed exactly once")
{
    SegmentPool pool;
    OutputQueue q;
    int freed = 0;
    auto* owned = new std::string("OWNED");
    q.append(bytes_of("before-"), pool);
    q.append_owned(
        reinterpret_cast<std::byte*>(owned->data()), owned->size(),
        [](void*, void* ctx) {
            auto* p = static_cast<std::pair<std::string*, int*>*>(ctx);
            delete p->first;
            ++*p->second;
            delete p;
        },
        new std::pair<std::string*, int*>(owned, &freed));
    q.append(bytes_of("-after"), pool);
    iovec iov[8];
    REQUIRE(q.gather(iov, 8) == 3);
    CHECK(iov[1].iov_base == static_cast<void*>(owned->data()));
    CHECK(drain(q, pool, 3) == "before-OWNED-after");
    CHECK(freed == 1);
}

TEST_CASE("clear frees owned buffers that were never sent")
{
    SegmentPool pool;
    OutputQueue q;
    int freed = 0;
    auto* data = new char[10];
    q.append_owned(
        reinterpret_cast<std::byte*>(data), 10,
        [](void* d, void* ctx) {
            delete[] static_cast<char*>(d);
            ++*static_cast<int*>(ctx);
        },
        &freed);
    q.clear(pool);
    CHECK(freed == 1);
    CHECK(q.empty());
}

TEST_CASE("reserve guarantees the requested room, also beyond one block")
{
    SegmentPool pool;
    OutputQueue q;
    q.append(bytes_of(std::string(SegmentPool::block_size - 3, 'a')), pool);
    std::byte* out = q.reserve(10, pool); // does not fit in the tail's 3 free bytes
    std::memset(out, 'b', 10);
    q.commit(10);
    const std::size_t big = 3 * SegmentPool::block_size + 5;
    out = q.reserve(big, pool);
    std::memset(out, 'c', big);
    q.commit(big);
    const std::string sent = drain(q, pool, 5000);
    CHECK(sent == std::string(SegmentPool::block_size - 3, 'a') + std::string(10, 'b') + std::string(big, 'c'));
}

TEST_CASE("commit may use less than was reserved")
{
    SegmentPool pool;
    OutputQueue q;
    std::byte* out = q.reserve(100, pool);
    std::memcpy(out, "abc", 3);
    q.commit(3);
    CHECK(q.bytes() == 3);
    CHECK(drain(q, pool, 100) == "abc");
}

TEST_CASE("a commit without a reservation changes nothing")
{
    SegmentPool pool;
    OutputQueue q;
    q.commit(100); // a plugin whose send_reserve got NULL
    CHECK(q.bytes() == 0);
    CHECK(q.empty());
    std::memcpy(q.reserve(4, pool), "abcd", 4);
    q.commit(4);
    q.commit(4); // the same reservation twice
    CHECK(q.bytes() == 4);
    q.clear(pool);
}
