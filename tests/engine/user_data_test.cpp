// user_data encoding: every field survives the round trip, and generations wrap at 24 bits.
#include "engine/user_data.hpp"

#include <catch2/catch.hpp>

using namespace ringd::engine;

TEST_CASE("op, index and generation round-trip through user_data")
{
    for (Op op : {Op::accept, Op::recv, Op::send, Op::close, Op::recvmsg, Op::child_stderr}) {
        for (uint32_t index : {0u, 1u, 123456u, 0xffffffffu}) {
            for (uint32_t gen : {0u, 1u, 0xfffffeu, 0xffffffu}) {
                const uint64_t ud = make_user_data(op, index, gen);
                CHECK(user_data_op(ud) == op);
                CHECK(user_data_index(ud) == index);
                CHECK(user_data_generation(ud) == gen);
            }
        }
    }
    CHECK(user_data_generation(make_user_data(Op::recv, 7, 0x1000001u)) == 1u);
}
