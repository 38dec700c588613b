// Stream connections (TCP and Unix): accept, receive, ordered sends, backpressure and graceful close.
//
// Lifecycle of a connection (Phase in connection.hpp):
//   accepted -> open (multishot recv armed, in its slot's idle list); an outbound connection (host->connect)
//   starts as connecting and becomes open when its connect completes (worker_outbound.cpp)
//   -> closing (plugin, peer FIN, idle timeout, shutdown): stop handing data to the plugin, flush
//   -> flushed: shutdown(SHUT_WR) so the peer sees FIN after the last byte, then wait for the peer's FIN while
//      discarding input ("lingering close": closing with unread input would make the kernel send RST, which
//      can destroy replies still in flight to the peer)
//   -> torn_down (on_close called, close SQE issued) -> released once every owed completion has arrived.
// An abort (plugin's RINGD_CLOSE_ABORT, or a callback that threw) skips to torn_down with a reset. Anything
// that takes longer than shutdown_timeout from the close request is reset.
//
// Input order: every byte the peer sent before its FIN reaches on_data before the plugin hears of the FIN
// (on_peer_shutdown, or the host's default close). Input that arrives while the plugin has paused reading is
// held, and a FIN behind held input is held too (ReadSide::fin_held) until that input has been delivered.
#include "engine/user_data.hpp"
#include "engine/worker.hpp"
#include "engine/worker_invoke.hpp"

#include <cerrno>
#include <cstring>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

namespace ringd::engine {

// ---- connections ------------------------------------------------------------------------------------------

Connection* Worker::add_connection(ListenerSlot& slot, int fd, Phase phase)
{
    static_assert(sizeof(Connection) < 1024, "Connection is per-connection memory: keep it small");
    auto conn_ptr = std::make_unique<Connection>();
    Connection& conn = *conn_ptr;
    if (!assign_slot(conn)) return nullptr;
    Listener& listener = *slot.listener;
    conn.worker = this;
    conn.slot = &slot;
    conn.listener = &listener;
    conn.presence = presence_of(listener.plugin().get()); // entered when the slot took the listener
    ++conn.presence->connections;
    conn.reuse_tag = next_reuse_tag_++ & reuse_tag_mask;
    conn.fd = fd;
    conn.last_active = now_;
    conn.opened_at = now_;
    conn.phase = phase;
    if (phase == Phase::awaiting_header) {
        conn.proxied = std::make_unique<ProxiedConnection>();
        conn.proxied->deadline = now_ + listener.config().proxy_timeout;
    }
    connections_[conn.index] = std::move(conn_ptr);
    publish_state(conn);
    ++slot.connections;
    live_connections_.fetch_add(1, std::memory_order_relaxed);
    (phase == Phase::awaiting_header ? slot.awaiting_header : slot.idle).push_back(&conn);
    return &conn;
}

// ---- receive -----------------------------------------------------------------------------------------------

void Worker::arm_recv(Connection& conn)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv_multishot(sqe, conn.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = stream_buffers_.group_id();
    io_uring_sqe_set_data64(sqe, make_user_data(Op::recv, conn.index, conn.reuse_tag));
    conn.recv = RecvOp::armed;
    ++conn.inflight;
}

// Reading goes on while the plugin wants data and output is below the cap. While a close flushes, a recv
// already armed is kept (its data is discarded) but none is armed afresh; once the FIN is sent, reading
// resumes to see the peer's FIN (lingering close).
void Worker::update_reading(Connection& conn)
{
    bool want;
    if (conn.torn_down() || conn.phase == Phase::connecting || conn.read != ReadSide::open) {
        want = false;
    } else if (conn.phase == Phase::closing) {
        want = conn.recv != RecvOp::idle || conn.write == WriteSide::fin_sent;
    } else {
        want = !conn.paused_by_plugin && !conn.paused_by_backpressure;
    }
    if (want && conn.recv == RecvOp::idle) {
        arm_recv(conn);
    } else if (!want && conn.recv == RecvOp::armed) {
        cancel_op(make_user_data(Op::recv, conn.index, conn.reuse_tag));
        conn.recv = RecvOp::cancelling;
    }
}

void Worker::on_recv(Connection& conn, const io_uring_cqe& cqe)
{
    if (!(cqe.flags & IORING_CQE_F_MORE)) {
        conn.recv = RecvOp::idle;
        --conn.inflight;
    }
    if (cqe.res > 0) {
        conn.ever_received = true;
        conn.listener->cells(options_.index).bytes_received.add(uint64_t(cqe.res));
        conn.bytes_in += uint64_t(cqe.res);
        const uint16_t bid = BufferRing::buffer_id(cqe.flags);
        const auto* data = reinterpret_cast<const uint8_t*>(stream_buffers_.buffer(bid));
        if (conn.phase == Phase::open) {
            touch(conn);
            if (conn.paused_by_plugin || !conn.held_input.empty()) {
                // Completions already on their way when reading was paused: keep them, in order, for resume.
                conn.held_input.append(reinterpret_cast<const char*>(data), std::size_t(cqe.res));
            } else {
                deliver_data(conn, data, std::size_t(cqe.res));
            }
        } else if (conn.phase == Phase::awaiting_header) {
            on_header_bytes(conn, data, std::size_t(cqe.res)); // may open the connection, or reject it
        }
        stream_buffers_.recycle(bid);
    } else if (cqe.res == 0) {
        on_peer_fin(conn);
    } else if (cqe.res != -ENOBUFS && cqe.res != -ECANCELED) {
        // The peer reset, or the socket failed: nothing more can be delivered either way.
        const bool by_peer = cqe.res == -ECONNRESET || cqe.res == -EPIPE || cqe.res == -ETIMEDOUT;
        if (conn.phase == Phase::awaiting_header) {
            reject_header(conn, ProxyRejection::incomplete, std::strerror(-cqe.res));
        } else if (!conn.torn_down())
            teardown(conn,
                     conn.phase == Phase::closing ? conn.close_reason
                     : by_peer                    ? RINGD_CLOSE_PEER
                                                  : RINGD_CLOSE_ERROR,
                     false);
    }
    // -ENOBUFS: every provided buffer was in use; they are recycled by now, so re-arming below resumes.
    if (cqe.res == -ENOBUFS) stats_.stream_buffers_exhausted.add();
    if (conn.recv == RecvOp::idle) {
        update_reading(conn);
        if (!(cqe.flags & IORING_CQE_F_MORE) && conn.recv == RecvOp::armed) stats_.recv_rearms.add();
    }
}

void Worker::on_peer_fin(Connection& conn)
{
    if (conn.read != ReadSide::open) return;
    if (conn.phase == Phase::awaiting_header) {
        return reject_header(conn, ProxyRejection::incomplete, "the peer closed before its PROXY header was complete");
    }
    if (conn.phase != Phase::open) {
        conn.read = ReadSide::at_eof; // closing anyway: the FIN only lets the lingering close finish
        settle(conn);
        return;
    }
    if (conn.paused_by_plugin || !conn.held_input.empty()) {
        conn.read = ReadSide::fin_held; // settle() passes it on after the held input
        return;
    }
    deliver_peer_fin(conn);
}

void Worker::deliver_peer_fin(Connection& conn)
{
    conn.read = ReadSide::at_eof;
    const auto& d = conn.listener->plugin()->d();
    if (d.on_peer_shutdown != nullptr) {
        void* instance = conn.listener->plugin()->instance();
        invoke(conn, PluginCallback::on_peer_shutdown,
               [&] { d.on_peer_shutdown(instance, reinterpret_cast<ringd_conn*>(&conn)); });
    } else {
        request_close(conn, RINGD_CLOSE_PEER);
    }
}

void Worker::deliver_data(Connection& conn, const uint8_t* data, size_t len)
{
    const auto& d = conn.listener->plugin()->d();
    if (d.on_data == nullptr) return;
    void* instance = conn.listener->plugin()->instance();
    invoke(conn, PluginCallback::on_data,
           [&] { d.on_data(instance, reinterpret_cast<ringd_conn*>(&conn), data, len); });
}

// Passes on what was held while the plugin paused reading, if it reads again: the input first, then a FIN
// that arrived behind it. Returns true if it called the plugin (which settled the connection again).
bool Worker::deliver_held(Connection& conn)
{
    if (conn.phase != Phase::open || conn.paused_by_plugin) return false;
    if (!conn.held_input.empty()) {
        std::string held;
        held.swap(conn.held_input);
        deliver_data(conn, reinterpret_cast<const uint8_t*>(held.data()), held.size());
        return true;
    }
    if (conn.read == ReadSide::fin_held) {
        deliver_peer_fin(conn);
        return true;
    }
    return false;
}

void Worker::touch(Connection& conn)
{
    conn.last_active = now_;
    if (conn.list == &conn.slot->idle) conn.slot->idle.move_to_back(&conn);
}

// ---- send --------------------------------------------------------------------------------------------------

// At most one send per socket is in flight: if a short send had to be retried while a later one was already
// queued, the later bytes could overtake the rest of the earlier ones and reorder the stream.
void Worker::flush(Connection& conn)
{
    if (conn.send_in_flight || conn.out.empty() || conn.torn_down()) return;
    const unsigned n = conn.out.gather(conn.send_iov, Connection::max_send_iov);
    int flags = MSG_NOSIGNAL;
    // Once a close or half-close is pending, nothing but a FIN (or a reset) can follow what is queued, so
    // MSG_MORE lets TCP hold the last partial segment until the FIN and send both in one packet: a
    // time-of-day connection then costs one data+FIN segment instead of two segments and their ACKs
    // (docs/benchmarks.md). The FIN is never delayed: settle() issues it as soon as this send completes.
    if (conn.write == WriteSide::fin_queued && conn.listener->config().endpoint.transport == config::Transport::tcp) {
        flags |= MSG_MORE;
    }
    io_uring_sqe* sqe = ring_.sqe();
    if (n == 1) {
        io_uring_prep_send(sqe, conn.fd, conn.send_iov[0].iov_base, conn.send_iov[0].iov_len, flags);
    } else {
        conn.send_msg = {};
        conn.send_msg.msg_iov = conn.send_iov;
        conn.send_msg.msg_iovlen = n;
        io_uring_prep_sendmsg(sqe, conn.fd, &conn.send_msg, flags);
    }
    io_uring_sqe_set_data64(sqe, make_user_data(Op::send, conn.index, conn.reuse_tag));
    conn.send_in_flight = true;
    ++conn.inflight;
}

void Worker::on_send(Connection& conn, const io_uring_cqe& cqe)
{
    conn.send_in_flight = false;
    --conn.inflight;
    if (cqe.res >= 0) {
        conn.listener->cells(options_.index).bytes_sent.add(uint64_t(cqe.res));
        conn.bytes_out += uint64_t(cqe.res);
        conn.out.consume(std::size_t(cqe.res), segment_pool_);
        if (!conn.torn_down()) touch(conn);
    } else if (!conn.torn_down()) {
        const bool by_peer = cqe.res == -EPIPE || cqe.res == -ECONNRESET;
        teardown(conn, by_peer ? RINGD_CLOSE_PEER : RINGD_CLOSE_ERROR, false);
    }
    settle(conn);
}

// Applies the consequences of whatever just happened to `conn`: flush, backpressure, half-close, close, and
// input held while reading was paused.
void Worker::settle(Connection& conn)
{
    if (conn.phase == Phase::aborting) teardown(conn, conn.close_reason, true);
    if (conn.torn_down()) return;
    if (conn.phase == Phase::connecting) return; // nothing is sent or read before the connect completes
    flush(conn);
    const uint64_t cap = conn.listener->config().limits.max_output_buffer;
    if (conn.out.bytes() > cap) {
        conn.paused_by_backpressure = true;
    } else if (conn.out.bytes() <= cap / 2) {
        conn.paused_by_backpressure = false;
    }
    const bool drained = conn.out.empty() && !conn.send_in_flight;
    if (drained && conn.write == WriteSide::fin_queued) {
        if (conn.phase == Phase::closing && (conn.read != ReadSide::open || nothing_to_read(conn))) {
            // Nothing is unread, so close() sends FIN after the last byte, never RST: no need to linger.
            teardown(conn, conn.close_reason, false);
            return;
        }
        // A plain syscall, not IORING_OP_SHUTDOWN: the kernel always runs that op on an io-wq thread and looks
        // the descriptor number up only then, so a close queued right after it could come first, and the
        // shutdown would hit whichever socket had just been given the same number (another client's FIN, seen
        // in 584 of 120,203 echo connections under churn). shutdown(2) on a socket never blocks.
        ::shutdown(conn.fd, SHUT_WR);
        conn.write = WriteSide::fin_sent;
    }
    if (conn.phase == Phase::closing && conn.write == WriteSide::fin_sent && conn.read != ReadSide::open) {
        teardown(conn, conn.close_reason, false);
        return;
    }
    if (conn.output_watch && conn.phase == Phase::open && conn.out.bytes() <= conn.output_low_water) {
        // Here, after the callback that armed it has returned, never inside notify_output_below itself.
        conn.output_watch = false;
        if (const auto fn = conn.listener->plugin()->d().on_output_drained) {
            void* instance = conn.listener->plugin()->instance();
            invoke(conn, PluginCallback::on_output_drained,
                   [&] { fn(instance, reinterpret_cast<ringd_conn*>(&conn)); });
            return; // invoke settled the connection again
        }
    }
    if (deliver_held(conn)) return; // the plugin ran, and its callback settled the connection again
    update_reading(conn);
}

// True for a connection whose peer has never sent a byte and has nothing queued now (the time-of-day case:
// accept, send, close). A peer that has sent data may still be sending, so it gets a lingering close.
bool Worker::nothing_to_read(Connection& conn)
{
    if (conn.ever_received || conn.recv != RecvOp::idle) return false;
    int unread = 0;
    return ::ioctl(conn.fd, SIOCINQ, &unread) == 0 && unread == 0;
}

// ---- close -------------------------------------------------------------------------------------------------

void Worker::mark_closing(Connection& conn, ringd_close_reason reason)
{
    if (conn.closing()) return;
    // The plugin has never heard of a connection awaiting its PROXY header: nothing of it to flush or tell.
    if (conn.phase == Phase::awaiting_header) return teardown(conn, reason, true);
    // Nothing can be flushed before the connection exists: a close while connecting cancels the connect.
    if (conn.phase == Phase::connecting) return mark_aborting(conn, reason);
    conn.phase = Phase::closing;
    conn.close_reason = reason;
    conn.close_deadline = now_ + options_.shutdown_timeout;
    if (conn.write == WriteSide::open) conn.write = WriteSide::fin_queued;
    std::string().swap(conn.held_input); // the plugin closed: what it had not taken is not wanted
    if (conn.list != nullptr) conn.list->remove(&conn);
    closing_.push_back(&conn);
    publish_state(conn);
}

void Worker::mark_aborting(Connection& conn, ringd_close_reason reason)
{
    if (conn.phase == Phase::aborting || conn.torn_down()) return;
    if (conn.phase == Phase::awaiting_header) return teardown(conn, reason, true);
    conn.phase = Phase::aborting;
    conn.close_reason = reason;
    publish_state(conn);
}

void Worker::request_close(Connection& conn, ringd_close_reason reason)
{
    mark_closing(conn, reason);
    settle(conn);
}

void Worker::teardown(Connection& conn, ringd_close_reason reason, bool abort)
{
    if (conn.torn_down()) return;
    const bool plugin_knows = conn.phase != Phase::awaiting_header; // on_open ran (or on_connect is owed)
    conn.phase = Phase::torn_down;
    publish_state(conn); // from now on send_to, close_id and post say -ENOENT
    note_teardown(conn, reason);
    conn.output_watch = false;
    if (conn.list != nullptr) conn.list->remove(&conn);
    for (int64_t id : conn.timers)
        timers_.cancel(id);
    conn.timers.clear();
    children_.forget_connection(conn.index, conn.reuse_tag);
    std::string().swap(conn.held_input);
    if (conn.recv == RecvOp::armed) {
        cancel_op(make_user_data(Op::recv, conn.index, conn.reuse_tag));
        conn.recv = RecvOp::cancelling;
    }
    // A send blocked on a peer that never reads holds its own reference to the socket: closing the fd alone
    // would leave the connection (and this slot) alive forever. Cancelling completes it with -ECANCELED.
    if (conn.send_in_flight) cancel_op(make_user_data(Op::send, conn.index, conn.reuse_tag));
    if (conn.connect == ConnectOp::in_flight) abandon_connect(conn, reason); // on_connect comes before on_close
    const auto& d = conn.listener->plugin()->d();
    if (d.on_close != nullptr && plugin_knows) {
        void* instance = conn.listener->plugin()->instance();
        (void)plugin_host::plugin_call_failed(conn.listener->call_target(), PluginCallback::on_close, [&] {
            d.on_close(instance, reinterpret_cast<ringd_conn*>(&conn), reason);
        });
    }
    if (abort) {
        // SO_LINGER with a zero timeout turns close() into a reset: queued bytes are dropped, not delivered.
        linger lg{1, 0};
        ::setsockopt(conn.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_close(sqe, conn.fd);
    // A close that succeeds posts no completion: the connection owes nothing for it and can be released as
    // soon as its other operations are in, which saves a completion and usually a turn of the loop per
    // connection. The close references only the descriptor number, never this Connection.
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, make_user_data(Op::close, conn.index, conn.reuse_tag));
    conn.fd = -1;
    torn_down_this_turn_.push_back({conn.index, conn.reuse_tag});
    if (conn.outbound) {
        outbound_closed(conn);
    } else {
        conn.listener->remove_connection(); // max_connections admits a successor at once
        if (conn.source) conn.listener->release_source(*std::exchange(conn.source, std::nullopt));
        // Counted closed only if counted accepted (ringd_connections_active is the difference).
        if (plugin_knows) conn.listener->cells(options_.index).count_close(uint8_t(reason), now_ - conn.opened_at);
    }
    live_connections_.fetch_sub(1, std::memory_order_relaxed);
}

// Connections torn down during this turn of the loop whose completions are all in. Not done inside
// teardown() itself: its callers (plugin callbacks among them) still hold the Connection.
void Worker::release_torn_down()
{
    for (const auto& [index, tag] : torn_down_this_turn_) {
        if (Connection* conn = live_connection(index, tag)) maybe_release(*conn);
    }
    torn_down_this_turn_.clear();
}

// The slot is reused only when no completion for it can still arrive: after teardown, and once every
// operation in flight has completed (called by dispatch() after each completion, and by
// release_torn_down()).
void Worker::maybe_release(Connection& conn)
{
    if (!conn.torn_down() || conn.inflight != 0) return;
    ListenerSlot& slot = *conn.slot;
    // Only now may the slot (and the listener generation) go: until the last completion arrived, this
    // connection still pointed at them.
    --slot.connections;
    // Output first: owned buffers are freed by functions in the plugin's library, and releasing the listener
    // generation may destroy the last instance of that plugin and unload the library.
    conn.out.clear(segment_pool_);
    submit_access_record(conn);
    InstancePresence& presence = *conn.presence;
    const uint32_t index = conn.index;
    connections_[index].reset();
    // A slot whose use number is spent retires, so that no id is ever given out twice (conn_id.hpp).
    if (slot_uses_[index] != last_slot_use) free_connection_indexes_.push_back(index);
    release_presence(presence); // may run on_worker_stop, and destroy an old instance after its last on_close
    free_slot_if_done(slot);
}

Connection* Worker::live_connection(uint32_t index, uint32_t reuse_tag)
{
    if (index >= connections_.size() || !connections_[index]) return nullptr;
    Connection* conn = connections_[index].get();
    return (conn->reuse_tag & reuse_tag_mask) == (reuse_tag & reuse_tag_mask) ? conn : nullptr;
}

// ---- host services -----------------------------------------------------------------------------------------
//
// Called by plugins through host_api.cpp, on this worker's thread, from inside any callback on this worker.
// A call on a connection other than the one whose callback is running (a plugin that keeps a room of its
// connections) takes effect when the turn's completions have been handled (settle_touched()), before the
// next submission, so it is never later than a call on the running connection would be.

void Worker::touched(Connection& conn)
{
    if (&conn != in_callback_) touched_.push_back({conn.index, conn.reuse_tag});
}

void Worker::settle_touched()
{
    while (!touched_.empty()) {
        std::vector<std::pair<uint32_t, uint32_t>> batch;
        batch.swap(touched_);
        for (const auto& [index, tag] : batch) {
            if (Connection* conn = live_connection(index, tag); conn != nullptr && !conn->torn_down()) settle(*conn);
        }
    }
}

int Worker::send(Connection& conn, const void* data, size_t len)
{
    if (conn.closing() || conn.write != WriteSide::open) return -EPIPE;
    conn.out.append({static_cast<const std::byte*>(data), len}, segment_pool_);
    touched(conn);
    return 0;
}

int Worker::send_owned(Connection& conn, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    if (conn.closing() || conn.write != WriteSide::open) {
        if (free_fn != nullptr) free_fn(data, ctx);
        return -EPIPE;
    }
    conn.out.append_owned(static_cast<std::byte*>(data), len, free_fn, ctx);
    touched(conn);
    return 0;
}

uint8_t* Worker::send_reserve(Connection& conn, size_t len)
{
    if (conn.closing() || conn.write != WriteSide::open) return nullptr;
    return reinterpret_cast<uint8_t*>(conn.out.reserve(len, segment_pool_));
}

void Worker::send_commit(Connection& conn, size_t used)
{
    conn.out.commit(used);
    touched(conn);
}

int Worker::close(Connection& conn, uint32_t flags)
{
    if (conn.torn_down()) return -EBADF;
    // Only state changes here: the callback's caller settles afterwards, so on_close never runs re-entrantly.
    if (flags & RINGD_CLOSE_ABORT) {
        mark_aborting(conn, RINGD_CLOSE_LOCAL); // the plugin asked for it: a local close, not an error
    } else {
        mark_closing(conn, conn.read == ReadSide::at_eof ? RINGD_CLOSE_PEER : RINGD_CLOSE_LOCAL);
    }
    touched(conn);
    return 0;
}

int Worker::shutdown_write(Connection& conn)
{
    if (conn.closing()) return -EPIPE;
    if (conn.write == WriteSide::open) conn.write = WriteSide::fin_queued;
    publish_state(conn);
    touched(conn);
    return 0;
}

int Worker::notify_output_below(Connection& conn, size_t low_water)
{
    if (conn.closing()) return -EPIPE;
    conn.output_low_water = low_water;
    conn.output_watch = true;
    touched(conn); // checked when the connection settles: after the running callback, never inside this call
    return 0;
}

int Worker::pause_reading(Connection& conn)
{
    if (conn.torn_down()) return -EBADF;
    conn.paused_by_plugin = true;
    touched(conn);
    return 0;
}

int Worker::resume_reading(Connection& conn)
{
    if (conn.torn_down()) return -EBADF;
    conn.paused_by_plugin = false;
    touched(conn);
    return 0;
}

int64_t Worker::timer_start(Connection& conn, uint64_t delay_ms, void* arg)
{
    if (conn.torn_down()) return -EBADF;
    const int64_t id = timers_.start(deadline_after(now_, delay_ms), {conn.index, conn.reuse_tag, arg});
    conn.timers.push_back(id);
    return id;
}

int Worker::timer_cancel(Connection& conn, int64_t id)
{
    if (std::erase(conn.timers, id) == 0) return -ENOENT;
    timers_.cancel(id);
    return 0;
}

int Worker::spawn(Connection& conn, const ringd_spawn_request& request, ringd_spawn_done_fn done, void* ctx)
{
    if (conn.closing()) return -EPIPE;
    const int rc = children_.spawn(conn.index, conn.reuse_tag, request, done, ctx, now_);
    if (rc == 0) ++conn.running_children;
    return rc;
}

void Worker::deliver_spawn_result(uint32_t conn_index, uint32_t conn_reuse_tag, ringd_spawn_done_fn done, void* ctx,
                                  const ringd_spawn_result& result)
{
    Connection* conn = live_connection(conn_index, conn_reuse_tag);
    if (conn == nullptr || conn->torn_down()) return;
    --conn->running_children;
    touch(*conn);
    invoke(*conn, PluginCallback::spawn_done, [&] { done(ctx, reinterpret_cast<ringd_conn*>(conn), &result); });
}

} // namespace ringd::engine
