// Ring: which io_uring_enter failures the loop must treat as a broken ring, and that a full submission queue
// over a broken ring ends in RingError instead of a spin.
#include "engine/ring.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <thread>
#include <unistd.h>

using ringd::engine::is_transient_ring_error;
using ringd::engine::Ring;
using ringd::engine::RingError;
using namespace std::chrono_literals;

namespace {

// Points the ring's descriptor at /dev/null: every later io_uring_enter fails with EOPNOTSUPP, while the
// mappings keep the ring's memory valid.
void break_ring(Ring& ring)
{
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(devnull >= 0);
    REQUIRE(::dup3(devnull, ring.raw()->ring_fd, O_CLOEXEC) >= 0);
    ::close(devnull);
}

} // namespace

TEST_CASE("a timeout or a completion is not a ring error")
{
    Ring ring(8, 16);
    CHECK(ring.submit_and_wait(1ms) == 0); // nothing to complete: times out

    io_uring_prep_nop(ring.sqe());
    CHECK(ring.submit_and_wait(std::nullopt) == 0);
    CHECK(ring.drain([](const io_uring_cqe&) {}) == 1);
}

TEST_CASE("a broken ring is reported, not hidden")
{
    Ring ring(8, 16);
    break_ring(ring);
    io_uring_prep_nop(ring.sqe());
    const int err = ring.submit_and_wait(1ms);
    CHECK(err == -EOPNOTSUPP);
    CHECK_FALSE(is_transient_ring_error(err));
}

TEST_CASE("a ring not yet enabled refuses submissions for good")
{
    Ring ring(8, 16, /*start_disabled=*/true);
    io_uring_prep_nop(ring.sqe());
    const int err = ring.submit_and_wait(1ms);
    CHECK(err == -EBADFD);
    CHECK_FALSE(is_transient_ring_error(err));
}

TEST_CASE("a single-issuer ring refuses a thread that does not own it")
{
    Ring ring(8, 16, /*start_disabled=*/true);
    if (ring.setup_description().find("single-issuer") == std::string::npos) {
        WARN("this kernel gave a " << ring.setup_description() << " ring: no owner to check");
        return;
    }
    std::thread([&] { ring.enable(); }).join();
    io_uring_prep_nop(ring.sqe());
    const int err = ring.submit_and_wait(1ms);
    CHECK(err == -EEXIST);
    CHECK_FALSE(is_transient_ring_error(err));
}

TEST_CASE("a full submission queue over a broken ring throws instead of spinning")
{
    Ring ring(4, 16);
    for (unsigned i = 0; i < 4; ++i)
        io_uring_prep_nop(ring.sqe());
    break_ring(ring);
    try {
        (void)ring.sqe();
        FAIL("sqe() returned although nothing could be submitted");
    } catch (const RingError& e) {
        CHECK(e.error() == -EOPNOTSUPP);
        CHECK(std::string(e.what()).find("Operation not supported") != std::string::npos);
    }
}

TEST_CASE("only allocation failures and an overflowing completion queue are worth a retry")
{
    for (int err : {EAGAIN, ENOMEM, EBUSY, EINTR})
        CHECK(is_transient_ring_error(-err));
    for (int err : {EBADF, EBADFD, EEXIST, EFAULT, EINVAL, EOPNOTSUPP, EBADR})
        CHECK_FALSE(is_transient_ring_error(-err));
}

TEST_CASE("linked SQEs are never split across submissions")
{
    Ring ring(8, 16);
    for (int i = 0; i < 7; ++i) // one SQE left: the pair does not fit, so the seven go first
        io_uring_prep_nop(ring.sqe());
    auto [first, second] = ring.linked_sqes();
    CHECK(io_uring_sq_ready(ring.raw()) == 2);
    io_uring_prep_nop(first);
    first->flags |= IOSQE_IO_LINK;
    io_uring_prep_nop(second);
    CHECK(ring.submit_and_wait(std::nullopt) == 0);
    unsigned completions = 0;
    for (int i = 0; i < 10 && completions < 9; ++i) {
        completions += ring.drain([](const io_uring_cqe& cqe) { CHECK(cqe.res == 0); });
        if (completions < 9) (void)ring.submit_and_wait(1ms);
    }
    CHECK(completions == 9);
}
