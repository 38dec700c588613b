// Ring setup with graceful fallback, and the submit/wait primitive every worker loop is built on.
#include "engine/ring.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <sys/syscall.h>
#include <thread>
#include <unistd.h>

namespace ringd::engine {

namespace {

int try_init(io_uring& ring, unsigned sq_entries, unsigned cq_entries, unsigned flags)
{
    io_uring_params params{};
    params.flags = flags | IORING_SETUP_CQSIZE;
    params.cq_entries = cq_entries;
    return io_uring_queue_init_params(sq_entries, &ring, &params);
}

} // namespace

std::string describe_io_uring_error(int err)
{
    switch (err) {
    case ENOSYS:
        return "io_uring is not available: the kernel lacks it (ENOSYS); ringd needs Linux 6.0 or newer";
    case EPERM:
        return "io_uring is not permitted (EPERM): check the sysctl kernel.io_uring_disabled, a seccomp "
               "filter (container runtimes often block io_uring_setup) or the io_uring_group sysctl";
    case ENOMEM:
        return "io_uring setup ran out of memory (ENOMEM): raise RLIMIT_MEMLOCK (LimitMEMLOCK=) or the "
               "kernel's memory for rings";
    case EMFILE:
    case ENFILE:
        return "io_uring setup failed: too many open files";
    default:
        return std::string("io_uring setup failed: ") + std::strerror(err);
    }
}

Ring::Ring(unsigned sq_entries, unsigned cq_entries, bool start_disabled)
{
    const unsigned extra = start_disabled ? IORING_SETUP_R_DISABLED : 0u;
    struct Attempt {
        unsigned flags;
        const char* name;
    };
    // DEFER_TASKRUN runs completion work only when this thread waits, which both saves IPIs and matches our
    // one-thread-per-ring model. Older kernels reject the flags with EINVAL, so fall back step by step.
    const Attempt attempts[] = {
        {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
         "single-issuer, deferred task-run"},
        {IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN, "cooperative task-run"},
        {0, "plain"},
    };
    int err = 0;
    for (const Attempt& attempt : attempts) {
        err = try_init(ring_, sq_entries, cq_entries, attempt.flags | extra);
        if (err == 0) {
            setup_description_ = attempt.name;
            return;
        }
        if (err != -EINVAL) break; // only "flags not supported" is worth another attempt
    }
    throw std::runtime_error(describe_io_uring_error(-err));
}

Ring::~Ring()
{
    io_uring_queue_exit(&ring_);
}

void Ring::enable()
{
    // liburing 2.3 declares io_uring_enable_rings() but its shared library does not export it.
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) < 0) {
        throw std::runtime_error(std::string("enabling io_uring: ") + std::strerror(errno));
    }
}

io_uring_sqe* Ring::sqe()
{
    io_uring_sqe* s = io_uring_get_sqe(&ring_);
    if (s != nullptr) return s;
    make_room(1);
    return io_uring_get_sqe(&ring_);
}

std::pair<io_uring_sqe*, io_uring_sqe*> Ring::linked_sqes()
{
    make_room(2);
    io_uring_sqe* first = io_uring_get_sqe(&ring_);
    return {first, io_uring_get_sqe(&ring_)};
}

void Ring::make_room(unsigned free_sqes)
{
    // The SQ is full only when one turn of the loop prepares more requests than it holds. The kernel takes
    // them all (SUBMIT_ALL) unless it cannot allocate requests; give that a second, then give up loudly
    // instead of spinning.
    constexpr int max_attempts = 1000;
    constexpr auto pause = std::chrono::milliseconds(1);
    for (int attempt = 1; io_uring_sq_space_left(&ring_) < free_sqes; ++attempt) {
        const int submitted = submit();
        if (submitted < 0 && (!is_transient_ring_error(submitted) || attempt == max_attempts)) {
            throw RingError(submitted, std::string("io_uring submission failed: ") + std::strerror(-submitted));
        }
        if (submitted < 0) std::this_thread::sleep_for(pause);
    }
}

int Ring::submit()
{
    const int submitted = io_uring_submit(&ring_);
    if (submitted > 0) submitted_.add(unsigned(submitted));
    return submitted;
}

int Ring::submit_and_wait(std::optional<std::chrono::nanoseconds> timeout)
{
    // Only the timed wait's liburing call hides how many SQEs went in (it returns the wait's result): count what
    // is pending, which SUBMIT_ALL submits whole unless the call fails.
    const unsigned pending = io_uring_sq_ready(&ring_);
    int result = 0;
    if (!timeout) {
        result = io_uring_submit_and_wait(&ring_, 1);
    } else {
        const auto ns = timeout->count() < 0 ? 0 : timeout->count();
        __kernel_timespec ts{};
        ts.tv_sec = ns / 1'000'000'000;
        ts.tv_nsec = ns % 1'000'000'000;
        io_uring_cqe* cqe = nullptr;
        result = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (result >= 0 || result == -ETIME || result == -EINTR) {
        submitted_.add(pending);
        return 0;
    }
    return result;
}

bool is_transient_ring_error(int err)
{
    return err == -EAGAIN || err == -ENOMEM || err == -EBUSY || err == -EINTR;
}

} // namespace ringd::engine
