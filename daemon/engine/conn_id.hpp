// Connection ids (ringd_conn_id, ABI 1.1): what a plugin keeps to reach a connection from any thread.
//
// Layout (64 bits): [ worker : 8 | slot index : 24 | slot use : 32 ].
// The worker comes first so that any thread can tell which worker owns an id without touching that worker's
// state (the config allows at most 256 workers). The slot index finds the connection in that worker's table;
// the use numbers the slot's users, from 1. A slot whose use number reached the maximum is never used again,
// so an id is never reused while the daemon runs, and 0 (use 0) is never an id. (Not the reuse tag of
// user_data.hpp: that one is 24 bits, wraps, and only has to outlive the completions a slot user is owed.)
#pragma once

#include <cstdint>
#include <ringd/plugin.h>

namespace ringd::engine {

inline constexpr uint32_t max_conn_workers = 256;
inline constexpr uint32_t conn_slot_limit = 1u << 24;  // connection slots per worker
inline constexpr uint32_t last_slot_use = 0xffffffffu; // a slot whose user had it retires

[[nodiscard]] constexpr ringd_conn_id make_conn_id(uint32_t worker, uint32_t slot, uint32_t use)
{
    return (uint64_t(worker & 0xffu) << 56) | (uint64_t(slot & (conn_slot_limit - 1)) << 32) | use;
}
[[nodiscard]] constexpr uint32_t conn_id_worker(ringd_conn_id id)
{
    return uint32_t(id >> 56);
}
[[nodiscard]] constexpr uint32_t conn_id_slot(ringd_conn_id id)
{
    return uint32_t(id >> 32) & (conn_slot_limit - 1);
}
[[nodiscard]] constexpr uint32_t conn_id_slot_use(ringd_conn_id id)
{
    return uint32_t(id);
}
// Whether `id` can name a connection at all (it may still be gone): use 0 never does.
[[nodiscard]] constexpr bool conn_id_well_formed(ringd_conn_id id)
{
    return conn_id_slot_use(id) != 0;
}

} // namespace ringd::engine
