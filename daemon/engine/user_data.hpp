// What each SQE's user_data carries: the operation and the object it belongs to, so a completion is routed
// without any lookup table. Layout (64 bits): [ op : 8 | reuse tag : 24 | index : 32 ].
// `index` names a connection slot, listener slot, datagram send slot or child-process slot depending on op;
// the reuse tag (the low 24 bits of the slot user's own tag) tells a completion for the slot's current user
// from one for an earlier user of the same slot, so a stale completion is recognised and dropped.
#pragma once

#include <cstdint>

namespace ringd::engine {

enum class Op : uint8_t {
    ignore = 0, // completions nobody waits for (cancel requests)
    accept = 1, // multishot accept on a listener slot
    recv = 2,   // multishot recv on a connection
    send = 3,   // the one in-flight send of a connection
    close = 4,  // close of a connection's fd
    // 5 was shutdown(SHUT_WR) through the ring: see Worker::settle for why that is now a plain syscall.
    recvmsg = 6,       // multishot recvmsg on a datagram listener slot
    datagram_send = 7, // one datagram reply (IORING_OP_SEND with a destination address)
    wake = 8,          // eventfd read: commands from the main thread
    child_pidfd = 9,   // pidfd poll of a spawned child
    child_stdout = 10, // read from a child's stdout pipe
    child_stderr = 11, // read from a child's stderr pipe
    // ABI 1.1 mailbox (worker_mail.cpp)
    mailbox = 12,             // posted into this ring by another worker's IORING_OP_MSG_RING: mail is waiting
    mailbox_wake_failed = 13, // on the sender's ring, only on failure: index = the worker it tried to wake
    connect = 14,             // an outbound connection's connect (its linked timeout completes as `ignore`)
};

inline constexpr uint32_t reuse_tag_mask = 0xffffffu;

[[nodiscard]] constexpr uint64_t make_user_data(Op op, uint32_t index, uint32_t reuse_tag = 0)
{
    return (uint64_t(op) << 56) | (uint64_t(reuse_tag & reuse_tag_mask) << 32) | index;
}
[[nodiscard]] constexpr Op user_data_op(uint64_t ud)
{
    return Op(ud >> 56);
}
[[nodiscard]] constexpr uint32_t user_data_index(uint64_t ud)
{
    return uint32_t(ud);
}
[[nodiscard]] constexpr uint32_t user_data_reuse_tag(uint64_t ud)
{
    return uint32_t(ud >> 32) & reuse_tag_mask;
}
// Whether a completion's user_data belongs to the slot user with tag `reuse_tag`.
[[nodiscard]] constexpr bool user_data_matches(uint64_t ud, uint32_t reuse_tag)
{
    return user_data_reuse_tag(ud) == (reuse_tag & reuse_tag_mask);
}

} // namespace ringd::engine
