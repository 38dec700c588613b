// Datagram replies through the ring, from a bounded pool of send slots.
#include "engine/datagram_sender.hpp"

#include "engine/user_data.hpp"

#include <cstring>

namespace ringd::engine {

bool DatagramSender::send(Ring& ring, int fd, const void* data, std::size_t len, const sockaddr* to, socklen_t to_len,
                          std::shared_ptr<ListenerStats> stats)
{
    if (in_flight_ >= max_in_flight || bytes_ + len > max_bytes || to_len > sizeof(sockaddr_storage)) return false;
    // A slot leaves free_ only once the SQE is prepared: until then anything may throw (the payload copy, a
    // new slot, ring.sqe() on a broken ring), and a slot taken but never completed would be lost for good.
    if (free_.empty()) {
        // Room for every slot in free_, so that on_complete's push_back never allocates (or throws).
        free_.reserve(slots_.size() + 1);
        slots_.push_back(std::make_unique<Slot>());
        free_.push_back(uint32_t(slots_.size() - 1));
    }
    const uint32_t index = free_.back();
    Slot& s = *slots_[index];
    try {
        s.payload.assign(static_cast<const std::byte*>(data), static_cast<const std::byte*>(data) + len);
        std::memcpy(&s.to, to, to_len);
        io_uring_sqe* sqe = ring.sqe();
        // Nothing below throws.
        io_uring_prep_send(sqe, fd, s.payload.data(), len, 0);
        io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&s.to), static_cast<uint16_t>(to_len));
        io_uring_sqe_set_data64(sqe, make_user_data(Op::datagram_send, index));
    } catch (...) {
        recycle(index);
        throw;
    }
    free_.pop_back();
    s.stats = std::move(stats);
    s.in_flight = true;
    ++in_flight_;
    bytes_ += len;
    return true;
}

void DatagramSender::on_complete(uint32_t index, int res)
{
    Slot& s = *slots_[index];
    if (s.stats) {
        ListenerCells& cells = s.stats->cells(worker_);
        if (res >= 0) {
            cells.datagrams_sent.add();
            cells.bytes_sent.add(uint64_t(res));
        } else {
            cells.datagrams_dropped[std::size_t(DatagramDrop::send_failed)].add();
        }
    }
    s.stats.reset(); // the listener may be gone from the config by now
    s.in_flight = false;
    bytes_ -= s.payload.size();
    --in_flight_;
    recycle(index);
    free_.push_back(index);
}

// Makes a slot ready for reuse (it stays where it is: in free_ or about to be put there).
void DatagramSender::recycle(uint32_t index)
{
    Slot& s = *slots_[index];
    // A slot that once carried a jumbo datagram should not pin 64 KiB forever.
    if (s.payload.capacity() > 4096) {
        std::vector<std::byte>().swap(s.payload);
    } else {
        s.payload.clear();
    }
}

} // namespace ringd::engine
