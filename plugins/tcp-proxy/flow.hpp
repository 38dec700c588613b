// Flow: one direction of a proxied pair (client -> upstream, or upstream -> client), as bookkeeping without I/O.
//
// The receiving connection's queue in the host never holds more than `buffer` bytes. What a read brings beyond
// that is kept here (at most one read's worth: the sender is paused at once, and input already on its way
// waits in the host until reading resumes), and the sender stays paused until the receiver's queue has drained
// to buffer / 2 and everything kept has been queued. While an upstream connects, everything the client sends is
// kept here (up to `buffer`, then the client is paused): a failed connect drops the queue of the connection
// that failed, and these bytes must reach the next upstream tried.
//
// Why exactly `buffer`, and not "pause once the queue is over it": ringd also pauses reading, on its own, a
// connection whose own queued output is above the listener's max_output_buffer. For a proxy that is the wrong
// connection (its input goes to the other peer), and with an upstream that reads only while its writes go
// through, it deadlocks: ringd stops reading the upstream because the upstream does not read, and the upstream
// does not read because ringd stops reading it. A queue that never exceeds `buffer` <= max_output_buffer never
// triggers that pause (README.md: "Backpressure").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ringd::tcp_proxy {

class Flow {
public:
    explicit Flow(uint64_t buffer) : buffer_(buffer) {}

    // A read from the sender, while the receiver takes bytes and has `queued` bytes queued. Returns the leading
    // part to queue on it now and keeps the rest; then stalled() is true: pause the sender, and watch the
    // receiver's queue for low_water().
    [[nodiscard]] std::span<const std::byte> take(std::span<const std::byte> bytes, uint64_t queued);
    // A read while the receiver cannot take bytes yet (an upstream still connecting): all of it is kept. True
    // when more than `buffer` is kept: pause the sender.
    [[nodiscard]] bool keep(std::span<const std::byte> bytes);
    // The receiver takes bytes again (connected, or drained to low_water()) with `queued` bytes queued: the kept
    // bytes that fit, to queue on it now. If stalled() is still true, watch its queue again.
    [[nodiscard]] std::string release(uint64_t queued);
    // Everything kept, whatever the receiver holds: the sender is gone, and the receiver closes after a flush.
    [[nodiscard]] std::string release_all();

    [[nodiscard]] bool stalled() const { return !kept_.empty(); }
    [[nodiscard]] uint64_t low_water() const { return buffer_ / 2; }
    [[nodiscard]] std::size_t kept() const { return kept_.size(); }

    // The sender's FIN was read. It is passed on (shutdown_write of the receiver, after what is queued) once
    // nothing is kept: fin_to_pass() says when, once.
    void sender_finished() { fin_read_ = true; }
    [[nodiscard]] bool fin_to_pass();
    // The FIN has been passed on: this direction carries nothing more.
    [[nodiscard]] bool done() const { return fin_passed_; }

private:
    uint64_t buffer_;
    std::string kept_;
    bool fin_read_ = false;
    bool fin_passed_ = false;
};

} // namespace ringd::tcp_proxy
