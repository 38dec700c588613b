// Datagram listeners (UDP): multishot recvmsg into provided buffers, one plugin call per datagram, replies
// queued through DatagramSender and submitted with the next batch.
//
// With `proxy_protocol: v2`, every datagram must come from a sender in proxy_trusted and begin with a v2 header
// (DGRAM transport, or one without addresses): the plugin gets what follows it, with the client the header names as
// `peer` (allow/deny are checked against that client), while a reply without an explicit destination goes back to
// the sender, the balancer. Anything else is dropped and counted.
#include "engine/user_data.hpp"
#include "engine/worker.hpp"
#include "proxy_protocol/decoder.hpp"

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

namespace ringd::engine {

namespace {

// Each provided buffer holds the recvmsg header, the sender's address and the largest possible UDP payload,
// so the kernel never has to truncate a datagram.
constexpr unsigned max_udp_payload = 65535;
constexpr unsigned datagram_buffer_size =
    (sizeof(io_uring_recvmsg_out) + sizeof(sockaddr_storage) + max_udp_payload + 4095) & ~4095u;
constexpr uint16_t datagram_group = 1;

// Where a datagram came from and what the plugin gets of it.
struct DatagramView {
    const sockaddr* peer;
    socklen_t peer_len;
    const uint8_t* payload;
    size_t len;
};

// Strips a datagram's PROXY v2 header: `view` then names the client (unless the header names none) and the
// payload behind the header, `client` holding the address. Returns the reason to drop it otherwise.
std::optional<DatagramDrop> unwrap_proxy_header(const Listener& listener, DatagramView& view, sockaddr_storage& client)
{
    if (!listener.trusts_proxy(view.peer)) return DatagramDrop::proxy_untrusted;
    proxy_protocol::DecodeOptions options;
    options.accept = proxy_protocol::Accept::v2; // the config allows only v2 on udp://
    auto result = proxy_protocol::decode({view.payload, view.len}, options);
    auto* complete = std::get_if<proxy_protocol::Complete>(&result);
    if (complete == nullptr) return DatagramDrop::proxy_malformed; // an error, or a header cut short (NeedMore)
    const proxy_protocol::ProxyHeader& header = complete->header;
    if (!header.use_socket_addresses) {
        if (header.transport != proxy_protocol::Transport::dgram) return DatagramDrop::proxy_malformed;
        std::memcpy(&client, &header.source.storage, sizeof client);
        view.peer = reinterpret_cast<const sockaddr*>(&client);
        view.peer_len = header.source.length;
    }
    view.payload += complete->consumed;
    view.len -= complete->consumed;
    return std::nullopt;
}

} // namespace

BufferRing& Worker::datagram_buffers()
{
    if (!datagram_buffers_) {
        datagram_buffers_ =
            std::make_unique<BufferRing>(ring_.raw(), datagram_group, options_.datagram_buffers, datagram_buffer_size);
    }
    return *datagram_buffers_;
}

void Worker::arm_recvmsg(ListenerSlot& slot)
{
    slot.recvmsg_shape = {};
    slot.recvmsg_shape.msg_namelen = sizeof(sockaddr_storage);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recvmsg_multishot(sqe, slot.fd, &slot.recvmsg_shape, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = datagram_buffers().group_id();
    io_uring_sqe_set_data64(sqe, make_user_data(Op::recvmsg, slot.index, slot.reuse_tag));
    slot.armed = true;
}

void Worker::on_recvmsg(ListenerSlot& slot, const io_uring_cqe& cqe)
{
    if (!(cqe.flags & IORING_CQE_F_MORE)) slot.armed = false;
    if (cqe.res >= 0 && (cqe.flags & IORING_CQE_F_BUFFER)) {
        if (slot.recvmsg_backoff.errors_in_a_row() > 0) {
            if (const uint64_t unlogged = slot.recvmsg_backoff.on_success()) {
                spdlog::warn("[{}] recvmsg works again ({} more errors before that)", slot.listener->name(), unlogged);
            }
        }
        deliver_datagram(slot, cqe);
    } else if (cqe.res != -ENOBUFS && cqe.res != -ECANCELED && !(cqe.res >= 0 && (cqe.flags & IORING_CQE_F_MORE))) {
        // An error, or a completion without a datagram that ended the multishot (0: the socket was shut down
        // for reading, and every recvmsg on it will return 0 at once). Not re-armed at once if it keeps
        // happening: see RearmBackoff.
        slot.listener->cells(options_.index).recvmsg_errors.add();
        const auto decision = slot.recvmsg_backoff.on_error(now_);
        const char* what = cqe.res < 0 ? std::strerror(-cqe.res) : "ended without a datagram";
        if (decision.log_count == 1) {
            spdlog::warn("[{}] recvmsg: {}", slot.listener->name(), what);
        } else if (decision.log_count > 1) {
            spdlog::warn("[{}] recvmsg: {} ({} errors in the last {} s; retrying every {} ms)", slot.listener->name(),
                         what, decision.log_count,
                         std::chrono::duration_cast<std::chrono::seconds>(RearmBackoff::log_interval).count(),
                         RearmBackoff::pause.count());
        }
        if (!slot.armed && !slot.retiring && decision.rearm_at) slot.rearm_at = decision.rearm_at;
    }
    // -ENOBUFS ends the multishot when every buffer is in use; they are recycled now, so re-arm.
    if (cqe.res == -ENOBUFS) stats_.datagram_buffers_exhausted.add();
    if (!slot.armed && !slot.retiring && !slot.rearm_at) {
        arm_recvmsg(slot);
        stats_.recvmsg_rearms.add();
    }
    free_slot_if_done(slot);
}

void Worker::deliver_datagram(ListenerSlot& slot, const io_uring_cqe& cqe)
{
    BufferRing& buffers = datagram_buffers();
    const uint16_t bid = BufferRing::buffer_id(cqe.flags);
    std::byte* buf = buffers.buffer(bid);
    Listener& listener = *slot.listener;
    ListenerCells& cells = listener.cells(options_.index);
    cells.datagrams_received.add();
    auto* out = io_uring_recvmsg_validate(buf, cqe.res, &slot.recvmsg_shape);
    if (out == nullptr || (out->flags & MSG_TRUNC)) {
        cells.datagrams_dropped[std::size_t(DatagramDrop::truncated)].add();
    } else if (slot.retiring || shutting_down_) {
        cells.datagrams_dropped[std::size_t(DatagramDrop::stopping)].add();
    } else {
        const auto* sender = static_cast<const sockaddr*>(io_uring_recvmsg_name(out));
        DatagramView view{sender, socklen_t(out->namelen),
                          static_cast<const uint8_t*>(io_uring_recvmsg_payload(out, &slot.recvmsg_shape)),
                          io_uring_recvmsg_payload_length(out, cqe.res, &slot.recvmsg_shape)};
        cells.bytes_received.add(view.len);
        sockaddr_storage client{};
        std::optional<DatagramDrop> drop;
        if (listener.expects_proxy_header()) drop = unwrap_proxy_header(listener, view, client);
        if (!drop && listener.has_acl() && !listener.admits(view.peer)) drop = DatagramDrop::acl;
        if (drop) {
            cells.datagrams_dropped[std::size_t(*drop)].add();
        } else if (const auto& d = listener.plugin()->d(); d.on_datagram != nullptr) {
            DatagramContext ctx{this, &slot, sender, socklen_t(out->namelen)}; // replies go back to the sender
            (void)plugin_host::plugin_call_failed(
                listener.call_target(), plugin_host::PluginCallback::on_datagram, [&] {
                    d.on_datagram(listener.plugin()->instance(), reinterpret_cast<ringd_datagram*>(&ctx), view.payload,
                                  view.len, view.peer, view.peer_len);
                });
        }
    }
    buffers.recycle(bid);
}

int Worker::send_datagram(DatagramContext& ctx, const void* data, size_t len, const sockaddr* to, socklen_t to_len)
{
    if (to == nullptr) {
        to = ctx.peer;
        to_len = ctx.peer_len;
    }
    const Listener& listener = *ctx.slot->listener;
    if (!datagram_sender_.send(ring_, ctx.slot->fd, data, len, to, to_len, listener.stats())) {
        listener.cells(options_.index).datagrams_dropped[std::size_t(DatagramDrop::send_queue_full)].add();
        return -ENOBUFS;
    }
    return 0;
}

} // namespace ringd::engine
