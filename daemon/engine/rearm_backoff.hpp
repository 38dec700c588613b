// RearmBackoff: when to re-arm a multishot that ended with an error, and when to say so in the log.
//
// A multishot recvmsg ends at its first error. Re-arming it at once is right for an error that happens once
// (the next datagram is waiting), but a persistent one (EBADF, ENOTCONN on a socket that is no longer what the
// listener thinks it is, a kernel that refuses the request) then fails again at once, and the worker spins
// on it, logging a line per turn. So: the first error after a success re-arms at once; each further one waits
// `pause` first (datagrams meanwhile wait in the socket's receive buffer). The log gets the first error at once,
// then at most one line per `log_interval`, with the number of errors since the last line.
#pragma once

#include "engine/timer_queue.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>

namespace ringd::engine {

class RearmBackoff {
public:
    static constexpr auto pause = std::chrono::milliseconds(100);
    static constexpr auto log_interval = std::chrono::seconds(10);

    struct Decision {
        std::optional<Clock::time_point> rearm_at; // nullopt: re-arm now
        uint64_t log_count = 0;                    // > 0: log now, this many errors since the last line
    };

    // An error completion ended the multishot at `now`.
    [[nodiscard]] Decision on_error(Clock::time_point now)
    {
        Decision d;
        if (in_a_row_++ > 0) d.rearm_at = now + pause;
        ++unlogged_;
        if (!logged_ || now - last_log_ >= log_interval) {
            d.log_count = unlogged_;
            unlogged_ = 0;
            last_log_ = now;
            logged_ = true;
        }
        return d;
    }

    // A successful completion: the errors are over. Returns how many were not logged yet (for a last line).
    [[nodiscard]] uint64_t on_success()
    {
        in_a_row_ = 0;
        return std::exchange(unlogged_, 0);
    }

    [[nodiscard]] unsigned errors_in_a_row() const { return in_a_row_; }

private:
    unsigned in_a_row_ = 0;
    uint64_t unlogged_ = 0;
    bool logged_ = false;
    Clock::time_point last_log_{};
};

} // namespace ringd::engine
