// BufferRing: a provided-buffer ring (IORING_REGISTER_PBUF_RING) of equal-sized buffers that the kernel
// picks from for multishot recv/recvmsg. One per worker and buffer size.
//
// liburing 2.3 has no io_uring_setup_buf_ring(), so the ring and its buffers are mmap'd here and registered
// with io_uring_register_buf_ring(); both mappings are unmapped (after unregistering) in the destructor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <liburing.h>
#include <span>

namespace ringd::engine {

class BufferRing {
public:
    // entries must be a power of two (kernel requirement).
    BufferRing(io_uring* ring, uint16_t group_id, uint32_t entries, uint32_t buffer_size);
    ~BufferRing();
    BufferRing(const BufferRing&) = delete;
    BufferRing& operator=(const BufferRing&) = delete;

    [[nodiscard]] uint16_t group_id() const { return group_id_; }
    [[nodiscard]] uint32_t buffer_size() const { return buffer_size_; }

    // The buffer the kernel filled for a completion with IORING_CQE_F_BUFFER set.
    [[nodiscard]] static uint16_t buffer_id(uint32_t cqe_flags)
    {
        return uint16_t(cqe_flags >> IORING_CQE_BUFFER_SHIFT);
    }
    [[nodiscard]] std::byte* buffer(uint16_t id) const { return buffers_ + std::size_t(id) * buffer_size_; }

    // Hands a buffer back to the kernel. Recycling is batched: publish() makes them visible.
    void recycle(uint16_t id);
    void publish();

private:
    io_uring* ring_;
    io_uring_buf_ring* br_ = nullptr;
    std::byte* buffers_ = nullptr;
    std::size_t ring_bytes_ = 0;
    std::size_t buffer_bytes_ = 0;
    uint16_t group_id_;
    uint32_t entries_;
    uint32_t buffer_size_;
    unsigned pending_ = 0;
};

} // namespace ringd::engine
