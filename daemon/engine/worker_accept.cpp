// Accepting stream connections: the checks a new connection passes before its plugin hears of it, and the PROXY
// protocol header phase (docs/proxy-protocol.md) in front of them.
//
// Without proxy_protocol, in this order, each refusal closing the socket at once and counted
// (ringd_connections_refused_total): the listener's max_connections, allow/deny on the socket peer, the per-source
// limits on the socket peer's source, the worker's connection slots. Then on_open.
//
// With proxy_protocol, the socket peer is only checked against proxy_trusted (a unix listener trusts every peer:
// its socket file's mode decides who connects). The connection then waits in Phase::awaiting_header: what it sends
// goes to the decoder, never to the plugin, until a complete header arrives. A peer not trusted, a header that
// cannot be valid, none complete within proxy_timeout, or a FIN or reset before it, each close the connection at
// once (ringd_proxy_protocol_rejected_total). Once complete, the client the header names (the socket peer for v1
// UNKNOWN, v2 LOCAL or UNSPEC) passes allow/deny and the per-source limits as a socket peer would, is what the
// access log and the plugin's peer_address see, and the bytes behind the header in the same read reach on_data
// first, before anything read later.
#include "engine/user_data.hpp"
#include "engine/worker.hpp"
#include "engine/worker_invoke.hpp"
#include "proxy_protocol/decoder.hpp"

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

namespace ringd::engine {

namespace {

using service::AccessReason;
using service::SocketAddress;

SocketAddress socket_peer(int fd)
{
    SocketAddress address;
    socklen_t len = sizeof address.storage;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&address.storage), &len) == 0) address.len = len;
    return address;
}

const sockaddr* address_of(const SocketAddress& address)
{
    return reinterpret_cast<const sockaddr*>(&address.storage);
}

AccessReason access_reason_of(Refusal refusal)
{
    switch (refusal) {
    case Refusal::max_connections:
        return AccessReason::max_connections;
    case Refusal::acl:
        return AccessReason::acl;
    case Refusal::worker_slots:
        return AccessReason::connection_slots;
    case Refusal::max_connections_per_source:
        return AccessReason::max_connections_per_source;
    case Refusal::connection_rate_per_source:
        return AccessReason::connection_rate_per_source;
    case Refusal::source_table_full:
        return AccessReason::source_table_full;
    }
    return AccessReason::acl;
}

AccessReason access_reason_of(ProxyRejection rejection)
{
    switch (rejection) {
    case ProxyRejection::untrusted:
        return AccessReason::proxy_untrusted;
    case ProxyRejection::timeout:
        return AccessReason::proxy_timeout;
    case ProxyRejection::malformed:
        return AccessReason::proxy_malformed;
    case ProxyRejection::incomplete:
        return AccessReason::proxy_incomplete;
    }
    return AccessReason::proxy_malformed;
}

proxy_protocol::DecodeOptions decode_options(const Listener& listener)
{
    proxy_protocol::DecodeOptions options;
    switch (listener.config().proxy_protocol) {
    case config::ProxyProtocol::v1:
        options.accept = proxy_protocol::Accept::v1;
        break;
    case config::ProxyProtocol::v2:
        options.accept = proxy_protocol::Accept::v2;
        break;
    case config::ProxyProtocol::off:
    case config::ProxyProtocol::any:
        options.accept = proxy_protocol::Accept::any;
        break;
    }
    return options;
}

SocketAddress copy_of(const proxy_protocol::SocketAddress& address)
{
    SocketAddress copy;
    std::memcpy(&copy.storage, &address.storage, sizeof copy.storage);
    copy.len = address.length;
    return copy;
}

} // namespace

// ---- accept ------------------------------------------------------------------------------------------------

void Worker::arm_accept(ListenerSlot& slot)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_multishot_accept(sqe, slot.fd, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, make_user_data(Op::accept, slot.index, slot.reuse_tag));
    slot.armed = true;
}

void Worker::on_accept(ListenerSlot& slot, const io_uring_cqe& cqe)
{
    if (!(cqe.flags & IORING_CQE_F_MORE)) slot.armed = false;
    if (cqe.res >= 0) {
        open_connection(slot, cqe.res);
    } else if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOMEM) {
        spdlog::warn("[{}] accept: {}; pausing accepts for 100 ms", slot.listener->name(), std::strerror(-cqe.res));
        if (!slot.armed && !slot.retiring) slot.rearm_at = now_ + accept_backoff;
        return;
    } else if (cqe.res == -EINVAL) {
        // The socket stopped listening (its listener was removed by a reload): nothing to re-arm.
        free_slot_if_done(slot);
        return;
    } else if (cqe.res != -ECANCELED && cqe.res != -ECONNABORTED) {
        spdlog::warn("[{}] accept: {}", slot.listener->name(), std::strerror(-cqe.res));
    }
    if (!slot.armed && !slot.retiring && !slot.rearm_at) {
        arm_accept(slot);
        stats_.accept_rearms.add();
    }
    free_slot_if_done(slot);
}

void Worker::open_connection(ListenerSlot& slot, int fd)
{
    Listener& listener = *slot.listener;
    if (!listener.try_add_connection()) return refuse_at_accept(listener, fd, Refusal::max_connections, nullptr);
    const bool proxied = listener.expects_proxy_header();
    const bool unix_socket = listener.config().endpoint.is_unix();
    SocketAddress peer; // len 0: not asked for
    if (listener.has_acl() || listener.limits_sources() || (proxied && !unix_socket)) peer = socket_peer(fd);
    if (proxied) {
        if (!listener.trusts_proxy(address_of(peer))) {
            listener.cells(options_.index).proxy_rejected[std::size_t(ProxyRejection::untrusted)].add();
            warn_header_rejected(listener, peer, "the peer is not in proxy_trusted");
            log_refused(listener, fd, AccessReason::proxy_untrusted, &peer);
            listener.remove_connection();
            close_fd_async(fd);
            return;
        }
        Connection* waiting = add_connection(slot, fd, Phase::awaiting_header);
        if (waiting == nullptr) {
            return refuse_at_accept(listener, fd, Refusal::worker_slots, peer.len != 0 ? &peer : nullptr);
        }
        update_reading(*waiting);
        return;
    }
    std::optional<limits::SourceKey> source;
    if (const auto refusal = admit_client(listener, peer, source)) {
        return refuse_at_accept(listener, fd, *refusal, peer.len != 0 ? &peer : nullptr);
    }
    Connection* added = add_connection(slot, fd, Phase::open);
    if (added == nullptr) {
        if (source) listener.release_source(*source);
        return refuse_at_accept(listener, fd, Refusal::worker_slots, peer.len != 0 ? &peer : nullptr);
    }
    added->source = source;
    open_for_plugin(*added, peer.len != 0 ? &peer : nullptr);
}

// The checks on the client (the socket peer, or the one a PROXY header names): allow/deny, then the per-source
// limits, which count the client's source when it passes (`source`, to be released at teardown).
std::optional<Refusal> Worker::admit_client(const Listener& listener, const SocketAddress& client,
                                            std::optional<limits::SourceKey>& source)
{
    if (listener.has_acl() && (client.len == 0 || !listener.admits(address_of(client)))) return Refusal::acl;
    const auto key = client.len != 0 ? listener.source_of(address_of(client)) : std::nullopt;
    if (!key) return std::nullopt; // no per-source limit, or a client without an IP address
    switch (listener.admit_source(*key)) {
    case limits::Admission::admitted:
        source = key;
        return std::nullopt;
    case limits::Admission::refused_per_source_limit:
        return Refusal::max_connections_per_source;
    case limits::Admission::refused_rate:
        return Refusal::connection_rate_per_source;
    case limits::Admission::refused_table_full:
        return Refusal::source_table_full;
    }
    return Refusal::source_table_full;
}

// A connection that never became a Connection: counted, recorded, closed; its max_connections place freed.
void Worker::refuse_at_accept(Listener& listener, int fd, Refusal refusal, const SocketAddress* peer)
{
    if (refusal == Refusal::worker_slots) {
        spdlog::error("[{}] worker {} has {} connection slots in use: refusing a connection", listener.name(),
                      options_.index, conn_slot_limit);
    }
    listener.cells(options_.index).refused[std::size_t(refusal)].add();
    log_refused(listener, fd, access_reason_of(refusal), peer);
    if (refusal != Refusal::max_connections) listener.remove_connection();
    close_fd_async(fd);
}

// The plugin's part begins: counted as accepted, its access record started, on_open, then reading (and input that
// came with a PROXY header, held in held_input, delivered before anything read later).
void Worker::open_for_plugin(Connection& conn, const SocketAddress* peer)
{
    Listener& listener = *conn.listener;
    listener.cells(options_.index).accepted.add();
    start_access_record(conn, peer);
    const auto& d = listener.plugin()->d();
    if (d.on_open != nullptr) {
        void* instance = listener.plugin()->instance();
        bool refused = false;
        invoke(conn, PluginCallback::on_open,
               [&] { refused = d.on_open(instance, reinterpret_cast<ringd_conn*>(&conn)) != 0; });
        if (refused && !conn.torn_down()) teardown(conn, RINGD_CLOSE_LOCAL, true);
        if (conn.torn_down()) return;
    }
    if (!conn.held_input.empty()) {
        settle(conn); // delivers the held input, unless on_open paused reading
    } else {
        update_reading(conn);
    }
}

// ---- the PROXY header --------------------------------------------------------------------------------------

void Worker::on_header_bytes(Connection& conn, const uint8_t* data, size_t len)
{
    ProxiedConnection& proxied = *conn.proxied;
    const Listener& listener = *conn.listener;
    const proxy_protocol::DecodeOptions options = decode_options(listener);
    std::span<const uint8_t> received{data, len};
    if (!proxied.received.empty()) {
        proxied.received.append(reinterpret_cast<const char*>(data), len);
        received = {reinterpret_cast<const uint8_t*>(proxied.received.data()), proxied.received.size()};
    }
    auto result = proxy_protocol::decode(received, options);
    if (std::holds_alternative<proxy_protocol::NeedMore>(result)) {
        // The decoder refuses anything longer than its bound, so this only guards the bound itself.
        if (received.size() > proxy_protocol::max_header_bytes(options)) {
            return reject_header(conn, ProxyRejection::malformed, "no complete header within its size bound");
        }
        if (proxied.received.empty()) proxied.received.assign(reinterpret_cast<const char*>(data), len);
        return;
    }
    if (const auto* error = std::get_if<proxy_protocol::DecodeError>(&result)) {
        return reject_header(conn, ProxyRejection::malformed, error->message);
    }
    auto& complete = std::get<proxy_protocol::Complete>(result);
    if (complete.header.transport == proxy_protocol::Transport::dgram && !complete.header.use_socket_addresses) {
        return reject_header(conn, ProxyRejection::malformed, "v2 header: a DGRAM transport on a stream connection");
    }
    const auto rest = received.subspan(complete.consumed);
    conn.held_input.assign(reinterpret_cast<const char*>(rest.data()), rest.size()); // before `received` is freed
    std::string().swap(proxied.received);
    header_complete(conn, complete.header);
}

void Worker::header_complete(Connection& conn, proxy_protocol::ProxyHeader& header)
{
    ProxiedConnection& proxied = *conn.proxied;
    Listener& listener = *conn.listener;
    if (!header.use_socket_addresses) {
        proxied.client = copy_of(header.source);
        proxied.destination = copy_of(header.destination);
    }
    proxied.tlvs = std::move(header.tlvs);
    const SocketAddress client = proxied.client.len != 0 ? proxied.client : socket_peer(conn.fd);
    std::optional<limits::SourceKey> source;
    if (const auto refusal = admit_client(listener, client, source)) {
        listener.cells(options_.index).refused[std::size_t(*refusal)].add();
        log_refused(listener, conn.fd, access_reason_of(*refusal), &client,
                    proxied.destination.len != 0 ? &proxied.destination : nullptr);
        return teardown(conn, RINGD_CLOSE_LOCAL, false); // awaiting_header: the plugin never hears of it
    }
    conn.source = source;
    conn.slot->awaiting_header.remove(&conn);
    conn.slot->idle.push_back(&conn);
    conn.last_active = now_;
    conn.phase = Phase::open;
    publish_state(conn);
    open_for_plugin(conn, &client);
}

void Worker::reject_header(Connection& conn, ProxyRejection why, std::string_view detail)
{
    Listener& listener = *conn.listener;
    listener.cells(options_.index).proxy_rejected[std::size_t(why)].add();
    warn_header_rejected(listener, socket_peer(conn.fd), detail);
    log_refused(listener, conn.fd, access_reason_of(why));
    teardown(conn, RINGD_CLOSE_ERROR, false);
}

void Worker::expire_header_waits(ListenerSlot& slot)
{
    while (!slot.awaiting_header.empty() && slot.awaiting_header.front()->proxied->deadline <= now_) {
        Connection& conn = *slot.awaiting_header.front();
        reject_header(
            conn, ProxyRejection::timeout,
            fmt::format("no complete PROXY header within {} ms", conn.listener->config().proxy_timeout.count()));
    }
}

// A balancer misconfigured (v1 against a v2 listener, no header at all) would log a line per connection: at most
// one a second per worker, with the number left out.
void Worker::warn_header_rejected(const Listener& listener, const SocketAddress& peer, std::string_view why)
{
    const auto now = Clock::now();
    if (now - last_header_warning_ < std::chrono::seconds(1)) {
        ++header_warnings_suppressed_;
        return;
    }
    last_header_warning_ = now;
    std::string more;
    if (header_warnings_suppressed_ != 0) {
        more = fmt::format(" ({} more rejections on worker {} not logged since the last line)",
                           header_warnings_suppressed_, options_.index);
        header_warnings_suppressed_ = 0;
    }
    spdlog::warn("[{}] PROXY protocol: closed a connection from {}: {}{}", listener.name(),
                 service::format_address(peer), why, more);
}

} // namespace ringd::engine
