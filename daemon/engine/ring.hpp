// Ring: one io_uring instance, owned by one worker thread.
#pragma once

#include "engine/counter_cell.hpp"

#include <chrono>
#include <cstdint>
#include <liburing.h>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace ringd::engine {

class Ring {
public:
    // Throws std::runtime_error naming the cause when io_uring cannot be used (kernel, sysctl, seccomp,
    // memlock). Tries SINGLE_ISSUER|DEFER_TASKRUN first, then COOP_TASKRUN, then plain.
    // A ring created with `start_disabled` accepts registrations but no submissions until enable() is called
    // on the thread that will own it: SINGLE_ISSUER binds the ring to the thread that enables it.
    Ring(unsigned sq_entries, unsigned cq_entries, bool start_disabled = false);

    // Makes a ring created with start_disabled usable, owned by the calling thread.
    void enable();
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // A free SQE; submits pending ones first if the SQ is full. Never returns null: throws RingError when the
    // kernel keeps refusing the submission (a broken ring, or memory pressure lasting about a second).
    [[nodiscard]] io_uring_sqe* sqe();
    // Two free SQEs next to each other, for a request and the one it links to (IOSQE_IO_LINK): a link only
    // reaches the next SQE of the same submission, so pending SQEs are submitted first if fewer than two are
    // free. Throws like sqe().
    [[nodiscard]] std::pair<io_uring_sqe*, io_uring_sqe*> linked_sqes();

    // Submits pending SQEs and waits for at least one completion, or until `timeout` (if given) passes.
    // Returns 0, or the negative errno of a failed io_uring_enter. A timeout or a signal is not a failure.
    // Errors of single requests come in their CQEs, not here; see is_transient_ring_error().
    [[nodiscard]] int submit_and_wait(std::optional<std::chrono::nanoseconds> timeout);

    // Calls f(cqe) for every completion ready now, then marks them seen.
    template <class F> unsigned drain(F&& f)
    {
        unsigned head = 0;
        unsigned count = 0;
        io_uring_cqe* cqe = nullptr;
        io_uring_for_each_cqe(&ring_, head, cqe)
        {
            f(*cqe);
            ++count;
        }
        io_uring_cq_advance(&ring_, count);
        completed_.add(count);
        return count;
    }

    [[nodiscard]] io_uring* raw() { return &ring_; }
    // The ring's descriptor: what another ring's IORING_OP_MSG_RING names. Fixed for the ring's life.
    [[nodiscard]] int fd() const { return ring_.ring_fd; }
    [[nodiscard]] const std::string& setup_description() const { return setup_description_; }

    // Counted by the thread that owns the ring, read by any: SQEs handed to the kernel, CQEs drained, and the
    // kernel's own count of completions it could not post (the CQ ring's overflow field).
    [[nodiscard]] uint64_t submitted() const { return submitted_.read(); }
    [[nodiscard]] uint64_t completed() const { return completed_.read(); }
    [[nodiscard]] uint64_t cq_overflows() const { return __atomic_load_n(ring_.cq.koverflow, __ATOMIC_RELAXED); }
    // io_uring_submit() with the count: for a submission outside submit_and_wait (a worker's last one).
    int submit();

private:
    // Submits pending SQEs until at least `free_sqes` are free.
    void make_room(unsigned free_sqes);

    io_uring ring_{};
    std::string setup_description_;
    CounterCell submitted_;
    CounterCell completed_;
};

// A submission the kernel refused for good (see Ring::sqe).
class RingError : public std::runtime_error {
public:
    RingError(int err, const std::string& what) : std::runtime_error(what), err_(err) {}
    [[nodiscard]] int error() const { return err_; } // negative errno
private:
    int err_;
};

// Whether a negative errno from submit_and_wait() may go away by itself: the kernel could not allocate a
// request (EAGAIN, ENOMEM) or its completion queue is overflowing (EBUSY). Anything else (EBADF, EBADFD,
// EEXIST from a thread that does not own the ring, EFAULT, EBADR = completions were lost) means the ring
// cannot be trusted any more.
[[nodiscard]] bool is_transient_ring_error(int err);

// Why io_uring_queue_init failed, in words an operator can act on.
[[nodiscard]] std::string describe_io_uring_error(int err);

} // namespace ringd::engine
