// Stream connections in the kit, following ringd's engine (daemon/engine/worker_stream.cpp) step for step:
// input in order and held while reading is paused (a FIN behind it too), output through the host's queue to a
// simulated kernel, backpressure at max_output_buffer, close after flush then FIN, abort as a reset, and
// on_close exactly once, never from inside a host call. One simplification: ringd's lingering close (waiting
// for the peer's FIN after its own) is not simulated: on_close follows as soon as the FIN is out.
#include "invoke.hpp"

#include <utility>

namespace ringd::testkit::detail {

Conn* KitState::find(ringd_conn_id id)
{
    if (!owns(id)) return nullptr;
    const uint64_t index = id & 0xffffffffu;
    if (index == 0 || index > conns_.size()) return nullptr;
    return conns_[index - 1].get();
}

bool KitState::knows_id(ringd_conn_id id) const
{
    const uint64_t index = id & 0xffffffffu;
    return owns(id) && index != 0 && index <= issued_ids_.load(std::memory_order_acquire);
}

std::vector<Connection> KitState::connections(bool connecting_only) const
{
    std::vector<Connection> result;
    for (const auto& c : conns_) {
        if (c->torn_down() || (connecting_only && c->phase != Phase::connecting)) continue;
        result.push_back(Connection(const_cast<KitState*>(this), c.get()));
    }
    return result;
}

uint32_t KitState::pick_worker(std::optional<uint32_t> requested, const char* what)
{
    if (!requested) return next_worker_++ % options_.workers;
    if (*requested >= options_.workers) {
        throw std::invalid_argument(std::string(what) + " " + std::to_string(*requested) + " is not below workers (" +
                                    std::to_string(options_.workers) + ")");
    }
    return *requested;
}

Conn& KitState::new_conn(Instance& inst, uint32_t worker, bool outbound)
{
    if (conns_.size() >= 0xffffffffu) throw std::length_error("too many connections for one Kit");
    auto c = std::make_unique<Conn>();
    c->kit = this;
    c->inst = &inst;
    c->worker = worker;
    c->outbound = outbound;
    c->id = (uint64_t(serial_) << 32) | (conns_.size() + 1);
    c->last_active = now_;
    conns_.push_back(std::move(c));
    issued_ids_.store(static_cast<uint32_t>(conns_.size()), std::memory_order_release);
    ++inst.conns[worker];
    return *conns_.back();
}

Connection KitState::open(const OpenOptions& options)
{
    if (options_.kind != Kind::stream) throw std::logic_error("open() on a datagram listener: use datagram()");
    const uint32_t worker = pick_worker(options.worker, "OpenOptions::worker");
    const Address peer = parse_address(options.peer);
    const Address local =
        parse_address(peer.is_unix() ? "unix:/run/ringd/" + options_.listener_name + ".sock" : options_.local_address);
    Instance& inst = current();
    Conn& c = new_conn(inst, worker, false); // nothing may throw from here to on_open
    c.peer = peer;
    c.local = local;
    c.credentials = options.credentials;
    c.hold_output = options.hold_output;
    if (inst.d().on_open != nullptr) {
        bool refused = false;
        invoke_conn(c, "on_open", [&] { refused = inst.d().on_open(inst.instance, c.handle()) != 0; });
        if (refused && !c.torn_down()) teardown(c, RINGD_CLOSE_LOCAL, true);
    }
    touch(c);
    return Connection(this, &c);
}

void KitState::touch(Conn& c)
{
    if (c.touched || c.torn_down()) return;
    c.touched = true;
    touched_.push_back(&c);
}

// ---- the peer's side ----------------------------------------------------------------------------------------

void KitState::feed(Conn& c, std::string_view bytes)
{
    if (c.torn_down()) throw std::logic_error("feed(): connection " + std::to_string(c.id) + " is closed");
    if (c.phase == Phase::connecting) throw std::logic_error("feed(): the connection is not established yet");
    if (c.read != ReadSide::open) throw std::logic_error("feed() after peer_shutdown(): the peer sent its FIN");
    c.last_active = now_;
    if (c.closing() || bytes.empty()) return; // after close(), input is read and discarded
    if (c.paused_by_plugin || c.paused_by_backpressure || !c.held_input.empty()) {
        c.held_input.append(bytes);
        return;
    }
    deliver_data(c, bytes);
}

void KitState::peer_shutdown(Conn& c)
{
    if (c.torn_down()) throw std::logic_error("peer_shutdown(): connection " + std::to_string(c.id) + " is closed");
    if (c.phase == Phase::connecting) throw std::logic_error("peer_shutdown(): the connection is not established");
    if (c.read != ReadSide::open) throw std::logic_error("peer_shutdown() twice");
    if (c.closing()) {
        c.read = ReadSide::at_eof;
        touch(c);
    } else if (c.paused_by_plugin || c.paused_by_backpressure || !c.held_input.empty()) {
        c.read = ReadSide::fin_held; // passed on after the held input, once reading resumes
    } else {
        deliver_peer_fin(c);
    }
}

void KitState::peer_reset(Conn& c)
{
    if (c.torn_down()) throw std::logic_error("reset(): connection " + std::to_string(c.id) + " is closed");
    if (c.phase == Phase::connecting) throw std::logic_error("reset() of a connection not established: refuse() it");
    teardown(c, c.closing() ? c.close_reason : RINGD_CLOSE_PEER, true);
}

std::size_t KitState::drain(Conn& c, std::size_t n)
{
    if (c.phase == Phase::connecting) throw std::logic_error("drain(): the connection is not established yet");
    const std::size_t moved = kernel_takes(c, n);
    touch(c);
    return moved;
}

std::size_t KitState::kernel_takes(Conn& c, std::size_t n)
{
    const std::size_t moved = c.out.take(n, c.received);
    if (moved > 0) c.last_active = now_;
    return moved;
}

void KitState::connect_outcome(Conn& c, int error)
{
    if (c.phase != Phase::connecting) {
        throw std::logic_error("accept()/refuse(): connection " + std::to_string(c.id) + " is not connecting");
    }
    if (c.connect_timer != 0) cancel_timer(std::exchange(c.connect_timer, 0));
    Instance& inst = *c.inst;
    if (error == 0) {
        c.phase = Phase::open;
        c.last_active = now_;
        if (inst.d().on_connect != nullptr) {
            invoke_conn(c, "on_connect", [&] { inst.d().on_connect(inst.instance, c.handle(), 0); });
        }
        touch(c);
        return;
    }
    if (error > 0) error = -error;
    if (inst.d().on_connect != nullptr) {
        invoke_conn(c, "on_connect", [&] { inst.d().on_connect(inst.instance, c.handle(), error); });
    }
    teardown(c, RINGD_CLOSE_ERROR, true); // on_close follows a failed connect at once
}

void KitState::complete_spawn(Conn& c, const SpawnResult& result)
{
    if (c.spawns.empty())
        throw std::logic_error("complete_spawn(): connection " + std::to_string(c.id) + " has no pending spawn");
    const PendingSpawn spawn = std::move(c.spawns.front());
    c.spawns.pop_front();
    deliver_spawn(c, spawn, result);
}

void KitState::deliver_spawn(Conn& c, const PendingSpawn& spawn, const SpawnResult& result)
{
    if (c.running_children > 0) --c.running_children;
    c.last_active = now_;
    ringd_spawn_result r{};
    r.struct_size = result.struct_size;
    r.spawn_error = result.spawn_error;
    r.exit_code = result.exit_code;
    r.term_signal = result.term_signal;
    r.timed_out = result.timed_out ? 1 : 0;
    r.truncated = result.truncated ? 1 : 0;
    r.duration_us = result.duration_us;
    r.stdout_data = reinterpret_cast<const uint8_t*>(result.out.data());
    r.stdout_len = result.out.size();
    r.stderr_data = reinterpret_cast<const uint8_t*>(result.err.data());
    r.stderr_len = result.err.size();
    // An older host's result ends before spawn_step: leave it as such a host would (zero).
    if (result.struct_size > offsetof(ringd_spawn_result, spawn_step)) r.spawn_step = result.spawn_step;
    invoke_conn(c, "spawn_done", [&] { spawn.done(spawn.ctx, c.handle(), &r); });
}

// ---- the host's side -----------------------------------------------------------------------------------------

void KitState::deliver_data(Conn& c, std::string_view bytes)
{
    Instance& inst = *c.inst;
    if (inst.d().on_data == nullptr) return;
    // A copy that dies after the call, so a plugin that keeps the pointer is caught by ASan, as it would
    // misbehave in ringd (whose receive buffer is recycled).
    const std::string data(bytes);
    invoke_conn(c, "on_data", [&] {
        inst.d().on_data(inst.instance, c.handle(), reinterpret_cast<const uint8_t*>(data.data()), data.size());
    });
}

void KitState::deliver_peer_fin(Conn& c)
{
    c.read = ReadSide::at_eof;
    Instance& inst = *c.inst;
    if (inst.d().on_peer_shutdown != nullptr) {
        invoke_conn(c, "on_peer_shutdown", [&] { inst.d().on_peer_shutdown(inst.instance, c.handle()); });
    } else {
        mark_closing(c, RINGD_CLOSE_PEER); // no callback: close once the output is flushed
        touch(c);
    }
}

// What one turn of a worker's loop does for `c` after its callbacks ran: the kernel takes its output (unless
// the peer holds it), backpressure, FIN, close, the drain notification, and held input once reading resumes.
// Calls the plugin at most once; invoke_conn() touches `c` again, so pump() comes back to it.
void KitState::settle(Conn& c)
{
    if (c.phase == Phase::aborting) {
        teardown(c, c.close_reason, true);
        return;
    }
    if (c.torn_down() || c.phase == Phase::connecting) return;
    if (!c.hold_output) kernel_takes(c, SIZE_MAX);
    const uint64_t cap = options_.max_output_buffer;
    if (c.out.bytes() > cap) {
        c.paused_by_backpressure = true;
    } else if (c.out.bytes() <= cap / 2) {
        c.paused_by_backpressure = false;
    }
    if (c.out.bytes() == 0 && c.write == WriteSide::fin_queued) c.write = WriteSide::fin_sent;
    if (c.phase == Phase::closing && c.write == WriteSide::fin_sent) {
        teardown(c, c.close_reason, false);
        return;
    }
    Instance& inst = *c.inst;
    if (c.drain_low_water && c.out.bytes() <= *c.drain_low_water) {
        c.drain_low_water.reset(); // one-shot
        if (inst.d().on_output_drained != nullptr) {
            invoke_conn(c, "on_output_drained", [&] { inst.d().on_output_drained(inst.instance, c.handle()); });
            return;
        }
    }
    if (c.phase != Phase::open || c.paused_by_plugin || c.paused_by_backpressure) return;
    if (!c.held_input.empty()) {
        const std::string held = std::exchange(c.held_input, {});
        deliver_data(c, held);
    } else if (c.read == ReadSide::fin_held) {
        deliver_peer_fin(c);
    }
}

void KitState::mark_closing(Conn& c, ringd_close_reason reason)
{
    if (c.closing() || c.torn_down()) return;
    c.phase = Phase::closing;
    c.close_reason = reason;
    if (c.write == WriteSide::open) c.write = WriteSide::fin_queued;
    c.held_input.clear(); // the plugin closed: what it had not taken is not wanted
}

void KitState::mark_aborting(Conn& c, ringd_close_reason reason)
{
    if (c.phase == Phase::aborting || c.torn_down()) return;
    c.phase = Phase::aborting;
    c.close_reason = reason;
}

void KitState::teardown(Conn& c, ringd_close_reason reason, bool reset)
{
    if (c.torn_down()) return;
    c.phase = Phase::closed;
    c.close_reason = reason;
    c.reset = reset;
    for (const int64_t id : c.timers)
        cancel_timer(id);
    c.timers.clear();
    if (c.connect_timer != 0) cancel_timer(std::exchange(c.connect_timer, 0));
    c.spawns.clear(); // ringd kills the children; their completions never come
    c.running_children = 0;
    c.held_input.clear();
    c.drain_low_water.reset();
    Instance& inst = *c.inst;
    if (inst.d().on_close != nullptr) {
        c.in_on_close = true;
        invoke_on(inst, c.worker, "on_close", "the connection was closing anyway",
                  [&] { inst.d().on_close(inst.instance, c.handle(), reason); });
        c.in_on_close = false;
    }
    c.out.clear(); // after on_close, as ringd: owned buffers' free functions must not need the plugin's state
    --inst.conns[c.worker];
    if (inst.retired && inst.conns[c.worker] == 0) stop_on_worker(inst, c.worker);
    maybe_destroy(inst);
}

} // namespace ringd::testkit::detail
