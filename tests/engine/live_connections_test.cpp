// Connection ids (engine/conn_id.hpp) and the table other threads read them from (engine/live_connections.hpp).
#include "engine/conn_id.hpp"
#include "engine/live_connections.hpp"

#include <catch2/catch.hpp>

using namespace ringd::engine;

TEST_CASE("a connection id carries its worker, slot and slot use, and 0 is never one")
{
    const ringd_conn_id id = make_conn_id(255, conn_slot_limit - 1, last_slot_use);
    CHECK(conn_id_worker(id) == 255);
    CHECK(conn_id_slot(id) == conn_slot_limit - 1);
    CHECK(conn_id_slot_use(id) == last_slot_use);
    CHECK(make_conn_id(0, 0, 1) != 0);
    CHECK_FALSE(conn_id_well_formed(0));
    CHECK_FALSE(conn_id_well_formed(make_conn_id(3, 7, 0)));
    CHECK(conn_id_well_formed(make_conn_id(0, 0, 1)));
}

TEST_CASE("the live table knows a slot's current user only, in its state")
{
    LiveConnections live;
    const ringd_conn_id first = make_conn_id(1, 5000, 1); // not in the first chunk
    const ringd_conn_id second = make_conn_id(1, 5000, 2);
    CHECK(live.state(first) == LiveState::gone);
    live.publish(first, LiveState::writable);
    CHECK(live.state(first) == LiveState::writable);
    CHECK(live.state(second) == LiveState::gone);
    live.publish(first, LiveState::closing);
    CHECK(live.state(first) == LiveState::closing);
    live.publish(first, LiveState::gone);
    CHECK(live.state(first) == LiveState::gone);
    live.publish(second, LiveState::writable); // the slot's next user
    CHECK(live.state(first) == LiveState::gone);
    CHECK(live.state(second) == LiveState::writable);
    CHECK(live.state(make_conn_id(1, conn_slot_limit - 1, 1)) == LiveState::gone); // a chunk never allocated
}
