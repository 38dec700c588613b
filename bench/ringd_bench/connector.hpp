// Connector: opens many stream connections at once, ramping them up with a bounded number of handshakes in
// flight (a burst of thousands of SYNs would overflow the server's accept backlog and stall on the 1 s SYN
// retransmit), bounded by a deadline. Used by every mode that keeps connections open.
#pragma once

#include "endpoint.hpp"
#include "fd.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace ringd_bench {

struct ConnectOutcome {
    std::vector<Fd> connections; // established, non-blocking; fewer than asked if `error` is set
    std::string error;           // empty on full success
    double seconds = 0;          // time to establish them all
};

[[nodiscard]] ConnectOutcome connect_all(const Endpoint& ep, unsigned count, unsigned max_pending,
                                         uint64_t deadline_ns);

} // namespace ringd_bench
