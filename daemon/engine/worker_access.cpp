// Access log records (docs/access-log.md): for a listener with `access_log: on`, one record per connection it
// refused and per connection that closed, accepted or outbound.
//
// A connection's record is allocated when it opens, with its addresses captured then (getpeername and
// getsockname once, or the connect address), and completed at release, once every completion is in, so the byte
// counts include the last send. Nothing here runs for a listener with access_log off: no allocation, no system
// call, and on the data path only the two byte counters of the Connection.
#include "engine/worker.hpp"

#include <cstring>
#include <sys/socket.h>

namespace ringd::engine {

namespace {

using service::AccessDirection;
using service::AccessReason;
using service::SocketAddress;

AccessReason reason_of(ringd_close_reason reason)
{
    switch (reason) {
    case RINGD_CLOSE_PEER:
        return AccessReason::peer;
    case RINGD_CLOSE_LOCAL:
        return AccessReason::local;
    case RINGD_CLOSE_IDLE:
        return AccessReason::idle;
    case RINGD_CLOSE_ERROR:
        return AccessReason::error;
    case RINGD_CLOSE_SHUTDOWN:
        return AccessReason::shutdown;
    }
    return AccessReason::error;
}

// len stays 0 (written as "-") if the socket cannot say, e.g. a peer that has already reset.
SocketAddress peer_of(int fd)
{
    SocketAddress address;
    socklen_t len = sizeof address.storage;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address.storage), &len) == 0) address.len = len;
    return address;
}

SocketAddress local_of(int fd)
{
    SocketAddress address;
    socklen_t len = sizeof address.storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address.storage), &len) == 0) address.len = len;
    return address;
}

// Times are read from the clock (vDSO, no system call), not the loop turn's now_, which is as old as the turn.
std::unique_ptr<service::AccessLogEntry> new_entry(const Listener& listener, AccessDirection direction)
{
    const auto now = Clock::now();
    auto entry = std::make_unique<service::AccessLogEntry>();
    service::AccessRecord& record = entry->record;
    record.listener = listener.name();
    record.plugin = listener.plugin()->d().name != nullptr ? listener.plugin()->d().name : "";
    record.direction = direction;
    record.started = now;
    record.ended = now;
    return entry;
}

} // namespace

bool Worker::access_logged(const Listener& listener) const
{
    return options_.access_log != nullptr && listener.config().access_log;
}

void Worker::log_refused(const Listener& listener, int fd, AccessReason reason, const SocketAddress* peer,
                         const SocketAddress* local)
{
    if (!access_logged(listener)) return;
    auto entry = new_entry(listener, AccessDirection::accepted);
    entry->record.peer = peer != nullptr ? *peer : peer_of(fd);
    entry->record.local = local != nullptr ? *local : local_of(fd);
    entry->record.reason = reason;
    (void)options_.access_log->submit(options_.index, std::move(entry)); // dropped (and counted) when full
}

void Worker::start_access_record(Connection& conn, const SocketAddress* peer)
{
    if (!access_logged(*conn.listener)) return;
    conn.access = new_entry(*conn.listener, AccessDirection::accepted);
    conn.access->record.peer = peer != nullptr ? *peer : peer_of(conn.fd);
    // Behind a PROXY header, the address the client connected to is the header's destination.
    const bool proxied_local = conn.proxied && conn.proxied->destination.len != 0;
    conn.access->record.local = proxied_local ? conn.proxied->destination : local_of(conn.fd);
}

void Worker::start_outbound_record(Connection& conn, const sockaddr* address, socklen_t address_len)
{
    if (!access_logged(*conn.listener)) return;
    conn.access = new_entry(*conn.listener, AccessDirection::outbound);
    SocketAddress& peer = conn.access->record.peer;
    std::memcpy(&peer.storage, address, address_len); // checked by connect(): at most sizeof(sockaddr_storage)
    peer.len = address_len;
}

// The local address of an outbound connection exists only once it is connected.
void Worker::note_outbound_established(Connection& conn)
{
    if (conn.access) conn.access->record.local = local_of(conn.fd);
}

void Worker::note_teardown(Connection& conn, ringd_close_reason reason)
{
    if (!conn.access) return;
    conn.access->record.ended = Clock::now();
    conn.access->record.reason = reason_of(reason);
}

void Worker::submit_access_record(Connection& conn)
{
    if (!conn.access) return;
    conn.access->record.bytes_in = conn.bytes_in;
    conn.access->record.bytes_out = conn.bytes_out;
    (void)options_.access_log->submit(options_.index, std::move(conn.access)); // dropped (and counted) when full
}

} // namespace ringd::engine
