// Outbound stream connections (host->connect, ABI 1.1): a socket, an IORING_OP_CONNECT through this worker's
// ring, and from then on the same Connection an accepted socket gets, on the calling instance's listener slot.
//
// Life of an outbound connection (Phase in connection.hpp):
//   connect() -> connecting: in its slot's idle list; sends are queued, nothing is sent or read
//   -> the connect completes: 0 -> open, on_connect(0), queued output flushed, reading armed (settle())
//                            an error -> on_connect(-errno), then on_close(RINGD_CLOSE_ERROR), in that turn
//   A close or abort by the plugin, the idle timeout, a shutdown or a listener's drain while connecting all
//   cancel the connect: the teardown tells the plugin on_connect(-ECANCELED, or -ETIMEDOUT for the idle
//   timeout) and then on_close with the reason. So every connection connect() returned gets exactly one
//   on_connect, and it comes before on_close.
//
// The connect timeout is an IORING_OP_LINK_TIMEOUT linked to the connect, not one of the worker's deadlines:
// the kernel then cancels the connect itself when the time is up (its completion says -ECANCELED, reported as
// -ETIMEDOUT), so there is no second clock to keep in step with the connect, nothing for the loop to scan,
// and a connect that completes first simply disarms its timeout. The price is one more completion per
// connect, which carries no pointer to the connection and is ignored.
#include "engine/user_data.hpp"
#include "engine/worker.hpp"
#include "engine/worker_invoke.hpp"
#include "util/unique_fd.hpp"

#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace ringd::engine {

namespace {

constexpr uint32_t default_connect_timeout_ms = 10'000; // ringd_connect_request.timeout_ms == 0

// Whether `address` is a stream address this host connects to: AF_INET, AF_INET6 or AF_UNIX, with a length
// that covers the family's struct (a Unix address: at least one byte of path or abstract name).
bool valid_address(const sockaddr* address, socklen_t len)
{
    if (address == nullptr || len < sizeof(sa_family_t) || len > sizeof(sockaddr_storage)) return false;
    switch (address->sa_family) {
    case AF_INET:
        return len >= sizeof(sockaddr_in);
    case AF_INET6:
        return len >= sizeof(sockaddr_in6);
    case AF_UNIX:
        return len > offsetof(sockaddr_un, sun_path) && len <= sizeof(sockaddr_un);
    default:
        return false;
    }
}

std::unique_ptr<ConnectAttempt> make_attempt(const ringd_connect_request& request)
{
    auto attempt = std::make_unique<ConnectAttempt>();
    std::memcpy(&attempt->address, request.address, request.address_len);
    attempt->address_len = request.address_len;
    const uint32_t ms = request.timeout_ms != 0 ? request.timeout_ms : default_connect_timeout_ms;
    attempt->timeout.tv_sec = ms / 1000;
    attempt->timeout.tv_nsec = int64_t(ms % 1000) * 1'000'000;
    return attempt;
}

// What on_connect says when the connection is closed before its connect completed.
int abandoned_error(ringd_close_reason reason)
{
    return reason == RINGD_CLOSE_IDLE ? -ETIMEDOUT : -ECANCELED;
}

} // namespace

int Worker::connect(const ringd_listener* self, const ringd_connect_request& request, ringd_conn** out)
{
    if (!valid_address(request.address, request.address_len)) return -EINVAL;
    if (shutting_down_) return -ESHUTDOWN;
    ListenerSlot* slot = slot_of_instance(self);
    if (slot == nullptr) return -ESHUTDOWN; // the instance no longer serves here (replaced, or listener removed)
    Listener& listener = *slot->listener;
    // A udp listener's limits are documented (and warned about) as having nothing to apply to.
    if (listener.is_datagram()) return -EOPNOTSUPP;
    auto attempt = make_attempt(request);
    if (!listener.try_add_outbound()) {
        listener.cells(options_.index).outbound_failed[std::size_t(OutboundFailure::limit)].add();
        return -EAGAIN;
    }
    UniqueFd fd(::socket(request.address->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) {
        const int err = errno;
        listener.remove_outbound();
        return -err;
    }
    // TCP_NODELAY, like accepted sockets (which inherit it from their listening socket, listener.cpp says why).
    // It cannot fail on a TCP socket; if it did, the connection would only be slower.
    if (request.address->sa_family != AF_UNIX) {
        const int one = 1;
        (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    Connection* conn = nullptr;
    try {
        conn = add_connection(*slot, fd.get(), Phase::connecting);
    } catch (...) {
        listener.remove_outbound();
        throw;
    }
    if (conn == nullptr) { // no connection slot left on this worker
        listener.remove_outbound();
        return -EMFILE;
    }
    (void)fd.release(); // the Connection owns it now
    conn->outbound = true;
    conn->user = request.user;
    conn->connect_attempt = std::move(attempt);
    start_outbound_record(*conn, request.address, request.address_len);
    listener.cells(options_.index).outbound_started.add();
    arm_connect(*conn);
    *out = reinterpret_cast<ringd_conn*>(conn);
    return 0;
}

// The slot serving the instance whose handle is `self` on this worker: the instance must be its listener's
// current one. One that a reload replaced, or whose listener was removed, still serves the connections it has
// but opens no new ones. A worker has a slot per listener, so the scan is short.
ListenerSlot* Worker::slot_of_instance(const ringd_listener* self)
{
    for (auto& slot : slots_) {
        if (slot && !slot->retiring && slot->listener->plugin()->handle() == self) return slot.get();
    }
    return nullptr;
}

void Worker::arm_connect(Connection& conn)
{
    ConnectAttempt& attempt = *conn.connect_attempt;
    auto [connect_sqe, timeout_sqe] = ring_.linked_sqes();
    io_uring_prep_connect(connect_sqe, conn.fd, reinterpret_cast<const sockaddr*>(&attempt.address),
                          attempt.address_len);
    connect_sqe->flags |= IOSQE_IO_LINK;
    io_uring_sqe_set_data64(connect_sqe, make_user_data(Op::connect, conn.index, conn.reuse_tag));
    io_uring_prep_link_timeout(timeout_sqe, &attempt.timeout, 0);
    io_uring_sqe_set_data64(timeout_sqe, make_user_data(Op::ignore, 0));
    conn.connect = ConnectOp::in_flight;
    ++conn.inflight;
}

void Worker::on_connect_done(Connection& conn, const io_uring_cqe& cqe)
{
    --conn.inflight;
    conn.connect_attempt.reset();
    const ConnectOp was = conn.connect;
    conn.connect = ConnectOp::none;
    if (was != ConnectOp::in_flight) return; // torn down first: the teardown told the plugin
    if (conn.phase == Phase::aborting) {
        // Closed after connect() but before this turn's settle() got to tear it down: as if it had.
        tell_connect_abandoned(conn, conn.close_reason);
        teardown(conn, conn.close_reason, true);
        return;
    }
    // Only the linked timeout cancels a connect still in flight (a teardown's cancel comes after `cancelling`).
    if (cqe.res == 0) {
        connect_established(conn);
    } else {
        connect_failed(conn, cqe.res == -ECANCELED ? -ETIMEDOUT : cqe.res);
    }
}

void Worker::connect_established(Connection& conn)
{
    conn.phase = Phase::open;
    note_outbound_established(conn);
    touch(conn); // idle from now on
    conn.listener->cells(options_.index).outbound_opened.add();
    const auto& d = conn.listener->plugin()->d();
    if (d.on_connect == nullptr) return settle(conn); // flush what was queued, start reading
    void* instance = conn.listener->plugin()->instance();
    invoke(conn, PluginCallback::on_connect, [&] { d.on_connect(instance, reinterpret_cast<ringd_conn*>(&conn), 0); });
}

void Worker::connect_failed(Connection& conn, int error)
{
    const OutboundFailure why = error == -ECONNREFUSED ? OutboundFailure::refused
                                : error == -ETIMEDOUT  ? OutboundFailure::timeout
                                                       : OutboundFailure::error;
    conn.listener->cells(options_.index).outbound_failed[std::size_t(why)].add();
    // Aborting before on_connect runs: whatever the plugin does in it (close, send), on_close says
    // RINGD_CLOSE_ERROR, and it comes right after, when invoke() settles the connection.
    mark_aborting(conn, RINGD_CLOSE_ERROR);
    const auto& d = conn.listener->plugin()->d();
    if (d.on_connect == nullptr) return settle(conn);
    void* instance = conn.listener->plugin()->instance();
    invoke(conn, PluginCallback::on_connect,
           [&] { d.on_connect(instance, reinterpret_cast<ringd_conn*>(&conn), error); });
}

// Called by teardown() (the connection is torn_down already) while the connect is in flight.
void Worker::abandon_connect(Connection& conn, ringd_close_reason reason)
{
    cancel_op(make_user_data(Op::connect, conn.index, conn.reuse_tag)); // its linked timeout goes with it
    conn.connect = ConnectOp::cancelling;
    tell_connect_abandoned(conn, reason);
}

// on_connect for a connection closed before its outcome. Like on_close, it runs while the connection goes
// away: a failure is logged and counted, and there is nothing left to abort.
void Worker::tell_connect_abandoned(Connection& conn, ringd_close_reason reason)
{
    const OutboundFailure why = reason == RINGD_CLOSE_IDLE ? OutboundFailure::timeout : OutboundFailure::cancelled;
    conn.listener->cells(options_.index).outbound_failed[std::size_t(why)].add();
    const auto& d = conn.listener->plugin()->d();
    if (d.on_connect == nullptr) return;
    void* instance = conn.listener->plugin()->instance();
    const int error = abandoned_error(reason);
    (void)plugin_host::plugin_call_failed(conn.listener->call_target(), PluginCallback::on_connect,
                                          [&] { d.on_connect(instance, reinterpret_cast<ringd_conn*>(&conn), error); });
}

// Called by teardown(): max_outbound_connections admits a successor at once.
void Worker::outbound_closed(Connection& conn)
{
    conn.listener->remove_outbound();
    conn.listener->cells(options_.index).outbound_closed.add();
}

} // namespace ringd::engine
