// What each SQE's user_data carries: the operation and the object it belongs to, so a completion is routed
// without any lookup table. Layout (64 bits): [ op : 8 | generation : 24 | index : 32 ].
// `index` names a connection slot, listener slot, datagram send slot or child-process slot depending on op;
// `generation` guards against a completion for a slot that has since been reused.
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
    sendmsg = 7,       // one datagram reply
    wake = 8,          // eventfd read: commands from the main thread
    child_pidfd = 9,   // pidfd poll of a spawned child
    child_stdout = 10, // read from a child's stdout pipe
    child_stderr = 11, // read from a child's stderr pipe
};

[[nodiscard]] constexpr uint64_t make_user_data(Op op, uint32_t index, uint32_t generation = 0)
{
    return (uint64_t(op) << 56) | (uint64_t(generation & 0xffffffu) << 32) | index;
}
[[nodiscard]] constexpr Op user_data_op(uint64_t ud)
{
    return Op(ud >> 56);
}
[[nodiscard]] constexpr uint32_t user_data_index(uint64_t ud)
{
    return uint32_t(ud);
}
[[nodiscard]] constexpr uint32_t user_data_generation(uint64_t ud)
{
    return uint32_t(ud >> 32) & 0xffffffu;
}

} // namespace ringd::engine
