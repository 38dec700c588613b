// Provided-buffer ring: mapping, registration and buffer recycling.
#include "engine/buffer_ring.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/mman.h>

namespace ringd::engine {

BufferRing::BufferRing(io_uring* ring, uint16_t group_id, uint32_t entries, uint32_t buffer_size)
    : ring_(ring), group_id_(group_id), entries_(entries), buffer_size_(buffer_size)
{
    ring_bytes_ = entries * sizeof(io_uring_buf);
    void* r = mmap(nullptr, ring_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) throw std::runtime_error(std::string("mmap of buffer ring: ") + std::strerror(errno));
    br_ = static_cast<io_uring_buf_ring*>(r);

    // Buffers are mapped, not allocated: pages the kernel never writes into never count towards RSS.
    buffer_bytes_ = std::size_t(entries) * buffer_size;
    void* b = mmap(nullptr, buffer_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
        munmap(br_, ring_bytes_);
        throw std::runtime_error(std::string("mmap of receive buffers: ") + std::strerror(errno));
    }
    buffers_ = static_cast<std::byte*>(b);

    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(br_);
    reg.ring_entries = entries;
    reg.bgid = group_id;
    if (int err = io_uring_register_buf_ring(ring_, &reg, 0); err < 0) {
        munmap(buffers_, buffer_bytes_);
        munmap(br_, ring_bytes_);
        throw std::runtime_error(std::string("registering a provided-buffer ring: ") + std::strerror(-err) +
                                 " (needs Linux 5.19 or newer)");
    }
    const int mask = io_uring_buf_ring_mask(entries);
    for (uint32_t i = 0; i < entries; ++i)
        io_uring_buf_ring_add(br_, buffer(uint16_t(i)), buffer_size, uint16_t(i), mask, int(i));
    io_uring_buf_ring_advance(br_, int(entries));
}

BufferRing::~BufferRing()
{
    io_uring_unregister_buf_ring(ring_, group_id_);
    munmap(buffers_, buffer_bytes_);
    munmap(br_, ring_bytes_);
}

void BufferRing::recycle(uint16_t id)
{
    io_uring_buf_ring_add(br_, buffer(id), buffer_size_, id, io_uring_buf_ring_mask(entries_), int(pending_));
    ++pending_;
}

void BufferRing::publish()
{
    if (pending_ == 0) return;
    io_uring_buf_ring_advance(br_, int(pending_));
    pending_ = 0;
}

} // namespace ringd::engine
