// WorkerStats: a worker's own health counters (its io_uring, its buffer rings, its loop), written only by that
// worker (CounterCell), and WorkerReading, the plain numbers a scrape reads from any thread.
#pragma once

#include "engine/counter_cell.hpp"

#include <cstdint>

namespace ringd::engine {

struct alignas(64) WorkerStats {
    CounterCell loop_turns;
    CounterCell busy_ns; // from a turn's start until the loop enters io_uring again
    CounterCell wait_ns; // inside io_uring_enter: submitting, then sleeping until a completion or deadline
    CounterCell stream_buffers_exhausted;   // multishot recv ended with -ENOBUFS: every stream buffer was in use
    CounterCell datagram_buffers_exhausted; // the same for recvmsg and the datagram buffers
    CounterCell accept_rearms;              // a multishot accept the kernel ended, armed again
    CounterCell recv_rearms;                // the same for a connection's multishot recv
    CounterCell recvmsg_rearms;             // the same for a datagram listener's multishot recvmsg
    CounterCell stale_completions;          // completions for a slot that is gone or reused (a bug; logged)
};

// One worker's health as a scrape sees it.
struct WorkerReading {
    unsigned index = 0;
    uint64_t submissions = 0;  // SQEs handed to the kernel
    uint64_t completions = 0;  // CQEs handled
    uint64_t cq_overflows = 0; // the kernel's count of completions it could not post (the CQ ring's overflow)
    uint64_t loop_turns = 0;
    uint64_t busy_ns = 0;
    uint64_t wait_ns = 0;
    uint64_t stream_buffers_exhausted = 0;
    uint64_t datagram_buffers_exhausted = 0;
    uint64_t accept_rearms = 0;
    uint64_t recv_rearms = 0;
    uint64_t recvmsg_rearms = 0;
    uint64_t stale_completions = 0;
    uint64_t plugin_stalls = 0;
    uint64_t connections = 0; // open now (accepted and outbound, until released)
};

} // namespace ringd::engine
