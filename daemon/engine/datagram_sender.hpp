// DatagramSender: a worker's in-flight datagram replies. Each reply is copied into a send slot and queued as
// a sendto-style SQE (IORING_OP_SEND with a destination address, which spares the kernel copying and
// importing a msghdr per datagram); all SQEs of one loop iteration go to the kernel in one submit.
//
// Bounded: at most max_in_flight sends and max_bytes of payload. Past either cap a reply is dropped (UDP may
// drop) and counted; the caller reports -ENOBUFS to the plugin. Each completion is counted in the sending
// listener's stats, on this worker's cells: a datagram sent, or one dropped because the kernel failed the send
// (res < 0: EPERM from a firewall, ENETUNREACH, EMSGSIZE, ...). That is why every slot keeps the listener's
// stats alive until it completes.
#pragma once

#include "engine/listener.hpp"
#include "engine/ring.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <sys/socket.h>
#include <vector>

namespace ringd::engine {

class DatagramSender {
public:
    static constexpr unsigned max_in_flight = 4096;
    static constexpr std::size_t max_bytes = 16u << 20;

    // `worker`: the index of the worker that owns this sender, whose cells it counts in.
    explicit DatagramSender(unsigned worker = 0) : worker_(worker) {}

    // Queues one datagram on `fd`; false if a cap was reached (nothing queued). A throw (no memory for the
    // copy, a broken ring) also leaves nothing queued and the accounting unchanged. `stats` are those of the
    // listener that sends: the completion is counted there.
    [[nodiscard]] bool send(Ring& ring, int fd, const void* data, std::size_t len, const sockaddr* to, socklen_t to_len,
                            std::shared_ptr<ListenerStats> stats);
    // The completion of the send in slot `index`; `res` is its cqe.res (bytes sent, or a negative errno).
    // Whether `index` names a send slot with a send in flight (a completion for anything else is a bug).
    [[nodiscard]] bool owns(uint32_t index) const { return index < slots_.size() && slots_[index]->in_flight; }
    void on_complete(uint32_t index, int res);
    [[nodiscard]] unsigned in_flight() const { return in_flight_; }
    [[nodiscard]] std::size_t bytes_in_flight() const { return bytes_; }

private:
    struct Slot {
        sockaddr_storage to{};
        std::vector<std::byte> payload;
        std::shared_ptr<ListenerStats> stats;
        bool in_flight = false;
    };
    void recycle(uint32_t index);

    unsigned worker_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<uint32_t> free_;
    unsigned in_flight_ = 0;
    std::size_t bytes_ = 0;
};

} // namespace ringd::engine
