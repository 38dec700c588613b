// user_data encoding: every field survives the round trip, and reuse tags wrap at 24 bits.
#include "engine/user_data.hpp"

#include <catch2/catch.hpp>

using namespace ringd::engine;

TEST_CASE("op, index and reuse tag round-trip through user_data")
{
    for (Op op : {Op::accept, Op::recv, Op::send, Op::close, Op::recvmsg, Op::child_stderr, Op::connect}) {
        for (uint32_t index : {0u, 1u, 123456u, 0xffffffffu}) {
            for (uint32_t tag : {0u, 1u, 0xfffffeu, 0xffffffu}) {
                const uint64_t ud = make_user_data(op, index, tag);
                CHECK(user_data_op(ud) == op);
                CHECK(user_data_index(ud) == index);
                CHECK(user_data_reuse_tag(ud) == tag);
            }
        }
    }
    CHECK(user_data_reuse_tag(make_user_data(Op::recv, 7, 0x1000001u)) == 1u);
}

TEST_CASE("a completion matches only the slot user whose tag it carries")
{
    const uint64_t ud = make_user_data(Op::accept, 3, 0x1000005u);
    CHECK(user_data_matches(ud, 5));
    CHECK(user_data_matches(ud, 0x2000005u)); // only the low 24 bits travel
    CHECK_FALSE(user_data_matches(ud, 6));
    CHECK_FALSE(user_data_matches(make_user_data(Op::accept, 3), 5));
}
