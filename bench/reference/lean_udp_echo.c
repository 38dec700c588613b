/* lean-udp-echo: the leanest io_uring UDP upper-echo we could write, as a measuring instrument: the ceiling an
 * io_uring UDP server can reach on this kernel, to set ringd's udp-echo and the plain recvfrom/sendto loop
 * (udp_ref) against. Not part of ringd, never installed.
 *
 * One ring (SINGLE_ISSUER | DEFER_TASKRUN), the socket as a registered file, one multishot recvmsg into a
 * provided-buffer ring, the reply upper-cased in place and sent from that same buffer with a sendto-style
 * IORING_OP_SEND, the buffer recycled when the send completes. No allocation, no copy, no plugin call, no
 * timers: everything ringd does beyond this is its own overhead.
 *
 * usage: lean-udp-echo PORT        (binds 127.0.0.1:PORT, runs until killed)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

enum { buffer_count = 256, buffer_size = 2048, recv_tag = 1u << 31 };

static void die(const char* what, int err)
{
    fprintf(stderr, "lean-udp-echo: %s: %s\n", what, strerror(err));
    exit(1);
}

int main(int argc, char** argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: lean-udp-echo PORT\n");
        return 2;
    }
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr*)&addr, sizeof addr) != 0) die("socket/bind", errno);

    struct io_uring ring;
    struct io_uring_params params = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int err = io_uring_queue_init_params(1024, &ring, &params);
    if (err < 0) die("io_uring_queue_init_params", -err);
    if ((err = io_uring_register_files(&ring, &fd, 1)) < 0) die("io_uring_register_files", -err);

    /* liburing 2.3 has no io_uring_setup_buf_ring(): map the ring ourselves and register it. */
    size_t ring_bytes = buffer_count * sizeof(struct io_uring_buf);
    struct io_uring_buf_ring* buffers =
        mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (buffers == MAP_FAILED) die("mmap", errno);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)buffers, .ring_entries = buffer_count, .bgid = 0};
    if ((err = io_uring_register_buf_ring(&ring, &reg, 0)) < 0) die("io_uring_register_buf_ring", -err);
    io_uring_buf_ring_init(buffers);
    char* memory = malloc((size_t)buffer_count * buffer_size);
    if (memory == NULL) die("malloc", ENOMEM);
    for (int i = 0; i < buffer_count; ++i)
        io_uring_buf_ring_add(buffers, memory + (size_t)i * buffer_size, buffer_size, (unsigned short)i,
                              io_uring_buf_ring_mask(buffer_count), i);
    io_uring_buf_ring_advance(buffers, buffer_count);

    struct msghdr shape = {.msg_namelen = sizeof(struct sockaddr_in)};
    int armed = 0;
    for (;;) {
        if (!armed) {
            struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            io_uring_prep_recvmsg_multishot(sqe, 0, &shape, 0);
            sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
            sqe->buf_group = 0;
            sqe->user_data = recv_tag;
            armed = 1;
        }
        io_uring_submit_and_wait(&ring, 1);
        unsigned head, seen = 0, recycled = 0;
        struct io_uring_cqe* cqe;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            ++seen;
            if (cqe->user_data != recv_tag) { /* a send finished: its buffer goes back to the kernel */
                unsigned short bid = (unsigned short)cqe->user_data;
                io_uring_buf_ring_add(buffers, memory + (size_t)bid * buffer_size, buffer_size, bid,
                                      io_uring_buf_ring_mask(buffer_count), (int)recycled++);
                continue;
            }
            if (!(cqe->flags & IORING_CQE_F_MORE)) armed = 0;
            if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER)) continue;
            unsigned short bid = (unsigned short)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            char* buf = memory + (size_t)bid * buffer_size;
            struct io_uring_recvmsg_out* out = io_uring_recvmsg_validate(buf, cqe->res, &shape);
            if (out == NULL || (out->flags & MSG_TRUNC)) {
                io_uring_buf_ring_add(buffers, buf, buffer_size, bid, io_uring_buf_ring_mask(buffer_count),
                                      (int)recycled++);
                continue;
            }
            char* payload = io_uring_recvmsg_payload(out, &shape);
            unsigned len = io_uring_recvmsg_payload_length(out, cqe->res, &shape);
            for (unsigned i = 0; i < len; ++i)
                if ((unsigned char)(payload[i] - 'a') < 26u) payload[i] = (char)(payload[i] - 32);
            struct io_uring_sqe* sqe = io_uring_get_sqe(&ring);
            io_uring_prep_send(sqe, 0, payload, len, 0);
            io_uring_prep_send_set_addr(sqe, io_uring_recvmsg_name(out), (unsigned short)out->namelen);
            sqe->flags |= IOSQE_FIXED_FILE;
            sqe->user_data = bid;
        }
        io_uring_cq_advance(&ring, seen);
        if (recycled != 0) io_uring_buf_ring_advance(buffers, (int)recycled);
    }
}
