// Datagram replies through the ring, from a bounded pool of send slots.
#include "engine/datagram_sender.hpp"

#include "engine/user_data.hpp"

#include <cstring>

namespace ringd::engine {

bool DatagramSender::send(Ring& ring, int fd, const void* data, std::size_t len, const sockaddr* to, socklen_t to_len)
{
    if (in_flight_ >= max_in_flight || bytes_ + len > max_bytes || to_len > sizeof(sockaddr_storage)) return false;
    uint32_t index;
    if (!free_.empty()) {
        index = free_.back();
        free_.pop_back();
    } else {
        index = uint32_t(slots_.size());
        slots_.push_back(std::make_unique<Slot>());
    }
    Slot& s = *slots_[index];
    s.payload.assign(static_cast<const std::byte*>(data), static_cast<const std::byte*>(data) + len);
    std::memcpy(&s.to, to, to_len);
    io_uring_sqe* sqe = ring.sqe();
    io_uring_prep_send(sqe, fd, s.payload.data(), len, 0);
    io_uring_prep_send_set_addr(sqe, reinterpret_cast<const sockaddr*>(&s.to), static_cast<uint16_t>(to_len));
    io_uring_sqe_set_data64(sqe, make_user_data(Op::datagram_send, index));
    ++in_flight_;
    bytes_ += len;
    return true;
}

void DatagramSender::on_complete(uint32_t index)
{
    Slot& s = *slots_[index];
    bytes_ -= s.payload.size();
    --in_flight_;
    // A slot that once carried a jumbo datagram should not pin 64 KiB forever.
    if (s.payload.capacity() > 4096) std::vector<std::byte>().swap(s.payload);
    free_.push_back(index);
}

} // namespace ringd::engine
