// C entry points of ringd_host. Each one converts the opaque handle back to the engine's own object and calls
// the owning Worker; none may throw across the ABI.
#include "engine/host_api.hpp"

#include "engine/worker.hpp"
#include "engine/worker_directory.hpp"
#include "plugin_host/plugin.hpp"
#include "service/logging.hpp"

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <optional>
#include <spdlog/spdlog.h>

namespace ringd::engine {

namespace {

Connection& conn_of(ringd_conn* c)
{
    return *reinterpret_cast<Connection*>(c);
}

spdlog::level::level_enum to_spdlog(ringd_log_level level)
{
    switch (level) {
    case RINGD_LOG_TRACE:
        return spdlog::level::trace;
    case RINGD_LOG_DEBUG:
        return spdlog::level::debug;
    case RINGD_LOG_INFO:
        return spdlog::level::info;
    case RINGD_LOG_WARN:
        return spdlog::level::warn;
    case RINGD_LOG_ERROR:
        return spdlog::level::err;
    }
    return spdlog::level::info;
}

void host_log(ringd_listener* listener, ringd_log_level level, const char* msg)
{
    try {
        service::log_for_listener(listener != nullptr ? listener->name : "?", to_spdlog(level),
                                  msg != nullptr ? msg : "");
    } catch (...) {
    }
}

uint32_t host_worker_index()
{
    return Worker::current_index();
}

// The connection behind a plugin's handle, if the call runs on that connection's worker thread; nullptr for a
// call from any other thread (another worker, the main thread, a thread of the plugin's own), which must not
// touch the connection: its worker may be changing it at this very moment. Such calls fail with -EPERM
// (documented in plugin.h) and are logged, since they are a plugin bug that would otherwise go unnoticed.
Connection* on_own_worker(ringd_conn* c, const char* call)
{
    Worker* here = Worker::current();
    // A worker thread may read another worker's Connection::worker: it is set before the plugin ever sees the
    // handle and never changes.
    if (c != nullptr && here != nullptr && conn_of(c).worker == here) return &conn_of(c);
    try {
        spdlog::error("plugin called {}() off the connection's worker thread (from {}); refused with EPERM", call,
                      here != nullptr ? "another worker" : "a thread that is no worker");
    } catch (...) {
    }
    return nullptr;
}

int host_send(ringd_conn* c, const void* data, size_t len)
{
    Connection* conn = on_own_worker(c, "send");
    if (conn == nullptr) return -EPERM;
    try {
        return conn->worker->send(*conn, data, len);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_send_owned(ringd_conn* c, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    Connection* conn = on_own_worker(c, "send_owned");
    if (conn == nullptr) {
        // The host owns `data` from this call on, whatever the outcome.
        if (free_fn != nullptr) free_fn(data, ctx);
        return -EPERM;
    }
    try {
        return conn->worker->send_owned(*conn, data, len, free_fn, ctx);
    } catch (...) {
        if (free_fn != nullptr) free_fn(data, ctx);
        return -ENOMEM;
    }
}

uint8_t* host_send_reserve(ringd_conn* c, size_t len)
{
    Connection* conn = on_own_worker(c, "send_reserve");
    if (conn == nullptr) return nullptr;
    try {
        return conn->worker->send_reserve(*conn, len);
    } catch (...) {
        return nullptr;
    }
}

void host_send_commit(ringd_conn* c, size_t used)
{
    if (Connection* conn = on_own_worker(c, "send_commit")) conn->worker->send_commit(*conn, used);
}

int host_close(ringd_conn* c, uint32_t flags)
{
    Connection* conn = on_own_worker(c, "close");
    return conn != nullptr ? conn->worker->close(*conn, flags) : -EPERM;
}

int host_shutdown_write(ringd_conn* c)
{
    Connection* conn = on_own_worker(c, "shutdown_write");
    return conn != nullptr ? conn->worker->shutdown_write(*conn) : -EPERM;
}

int host_pause_reading(ringd_conn* c)
{
    Connection* conn = on_own_worker(c, "pause_reading");
    return conn != nullptr ? conn->worker->pause_reading(*conn) : -EPERM;
}

int host_resume_reading(ringd_conn* c)
{
    Connection* conn = on_own_worker(c, "resume_reading");
    return conn != nullptr ? conn->worker->resume_reading(*conn) : -EPERM;
}

// An address a PROXY header named, handed out as getpeername(2) would: truncated to *len, *len set to its size.
int copy_address(const service::SocketAddress& address, sockaddr* addr, socklen_t* len)
{
    if (addr == nullptr || len == nullptr) return -EFAULT;
    std::memcpy(addr, &address.storage, std::min(*len, address.len));
    *len = address.len;
    return 0;
}

int host_peer_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    Connection* conn = on_own_worker(c, "peer_address");
    if (conn == nullptr) return -EPERM;
    if (conn->fd < 0) return -EBADF; // after on_close
    if (conn->proxied && conn->proxied->client.len != 0) return copy_address(conn->proxied->client, addr, len);
    return ::getpeername(conn->fd, addr, len) == 0 ? 0 : -errno;
}

int host_local_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    Connection* conn = on_own_worker(c, "local_address");
    if (conn == nullptr) return -EPERM;
    if (conn->fd < 0) return -EBADF; // after on_close
    if (conn->proxied && conn->proxied->destination.len != 0) {
        return copy_address(conn->proxied->destination, addr, len);
    }
    return ::getsockname(conn->fd, addr, len) == 0 ? 0 : -errno;
}

void* host_get_user(ringd_conn* c)
{
    Connection* conn = on_own_worker(c, "get_user");
    return conn != nullptr ? conn->user : nullptr;
}

void host_set_user(ringd_conn* c, void* user)
{
    if (Connection* conn = on_own_worker(c, "set_user")) conn->user = user;
}

int64_t host_timer_start(ringd_conn* c, uint64_t delay_ms, void* arg)
{
    Connection* conn = on_own_worker(c, "timer_start");
    if (conn == nullptr) return -EPERM;
    try {
        return conn->worker->timer_start(*conn, delay_ms, arg);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_timer_cancel(ringd_conn* c, int64_t id)
{
    Connection* conn = on_own_worker(c, "timer_cancel");
    return conn != nullptr ? conn->worker->timer_cancel(*conn, id) : -EPERM;
}

int host_send_datagram(ringd_datagram* d, const void* data, size_t len, const sockaddr* to, socklen_t to_len)
{
    if (d == nullptr) return -EINVAL;
    auto& ctx = *reinterpret_cast<DatagramContext*>(d);
    if (ctx.worker != Worker::current()) return -EPERM; // a ringd_datagram is valid during on_datagram only
    try {
        return ctx.worker->send_datagram(ctx, data, len, to, to_len);
    } catch (...) {
        return -ENOMEM;
    }
}

// The fields of ringd_spawn_request this host reads; a plugin built against an older header passes a smaller
// struct_size, and one that passes less than this (or garbage) is refused before any field is read.
constexpr size_t spawn_request_min_size = offsetof(ringd_spawn_request, run_as_gid) + sizeof(int64_t);

int host_spawn(ringd_conn* c, const ringd_spawn_request* request, ringd_spawn_done_fn done, void* ctx)
{
    if (request == nullptr || done == nullptr || request->struct_size < spawn_request_min_size) return -EINVAL;
    Connection* conn = on_own_worker(c, "spawn");
    if (conn == nullptr) return -EPERM;
    try {
        return conn->worker->spawn(*conn, *request, done, ctx);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_peer_credentials(ringd_conn* c, int32_t* pid, uint32_t* uid, uint32_t* gid)
{
    Connection* conn = on_own_worker(c, "peer_credentials");
    if (conn == nullptr) return -EPERM;
    if (conn->fd < 0) return -EBADF; // after on_close
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(conn->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
    if (pid != nullptr) *pid = cred.pid;
    if (uid != nullptr) *uid = cred.uid;
    if (gid != nullptr) *gid = cred.gid;
    return 0;
}

// ---- ABI 1.1 -------------------------------------------------------------------------------

// The worker that owns `id`, or nullptr for an id that cannot be valid (0, or naming no running worker).
Worker* owner_of(ringd_conn_id id)
{
    return conn_id_well_formed(id) ? WorkerDirectory::find(conn_id_worker(id)) : nullptr;
}

plugin_host::PluginInstance* instance_of(ringd_listener* self)
{
    return self != nullptr ? self->instance : nullptr;
}

ringd_conn_id host_conn_id(ringd_conn* c)
{
    Connection* conn = on_own_worker(c, "conn_id");
    return conn != nullptr ? conn->id : 0;
}

int host_send_to(ringd_conn_id id, const void* data, size_t len)
{
    if (data == nullptr && len != 0) return -EINVAL;
    Worker* owner = owner_of(id);
    if (owner == nullptr) return -EINVAL;
    try {
        return owner->send_to(id, data, len);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_close_id(ringd_conn_id id, uint32_t flags)
{
    Worker* owner = owner_of(id);
    if (owner == nullptr || (flags & ~uint32_t(RINGD_CLOSE_ABORT)) != 0) return -EINVAL;
    try {
        return owner->close_id(id, flags);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_post(ringd_listener* self, ringd_conn_id id, ringd_conn_task_fn fn, void* arg)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    Worker* owner = owner_of(id);
    if (instance == nullptr || fn == nullptr || owner == nullptr) return -EINVAL;
    // The task keeps its instance alive until it has run; an instance already being destroyed posts nothing.
    std::shared_ptr<plugin_host::PluginInstance> keep = instance->weak_from_this().lock();
    if (!keep) return -ESHUTDOWN;
    try {
        return owner->post_conn_task(std::move(keep), id, fn, arg);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_post_worker(ringd_listener* self, uint32_t worker, ringd_worker_task_fn fn, void* arg)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    if (instance == nullptr || fn == nullptr) return -EINVAL;
    Worker* target = WorkerDirectory::find(worker);
    if (target == nullptr) return WorkerDirectory::size() == 0 ? -ESHUTDOWN : -EINVAL;
    std::shared_ptr<plugin_host::PluginInstance> keep = instance->weak_from_this().lock();
    if (!keep) return -ESHUTDOWN;
    try {
        return target->post_worker_task(std::move(keep), fn, arg);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_for_each_connection(ringd_listener* self, int (*fn)(void* ctx, ringd_conn* conn), void* ctx)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    if (instance == nullptr || fn == nullptr) return -EINVAL;
    Worker* here = Worker::current();
    if (here == nullptr) return -EPERM;
    try {
        return here->for_each_connection(*instance, fn, ctx);
    } catch (...) {
        return -ENOMEM;
    }
}

// ---- ABI 1.1: outbound connections ----

// ringd_connect_request as ABI 1.1 introduced it: a plugin passing less (or garbage) is refused unread.
constexpr size_t connect_request_min_size = offsetof(ringd_connect_request, user) + sizeof(void*);

int host_connect(ringd_listener* self, const ringd_connect_request* request, ringd_conn** out)
{
    if (out != nullptr) *out = nullptr;
    Worker* here = Worker::current();
    if (here == nullptr) {
        try {
            spdlog::error("plugin called connect() off a worker thread; refused with EPERM");
        } catch (...) {
        }
        return -EPERM;
    }
    if (self == nullptr || out == nullptr || request == nullptr || request->struct_size < connect_request_min_size)
        return -EINVAL;
    try {
        return here->connect(self, *request, out);
    } catch (...) {
        return -ENOMEM;
    }
}

int64_t host_queued_output(ringd_conn* c)
{
    Connection* conn = on_own_worker(c, "queued_output");
    return conn != nullptr ? int64_t(conn->out.bytes()) : -EPERM;
}

int host_notify_output_below(ringd_conn* c, size_t low_water)
{
    Connection* conn = on_own_worker(c, "notify_output_below");
    return conn != nullptr ? conn->worker->notify_output_below(*conn, low_water) : -EPERM;
}

int64_t host_worker_timer_start(ringd_listener* self, uint64_t delay_ms, void* arg)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    if (instance == nullptr) return -EINVAL;
    Worker* here = Worker::current();
    if (here == nullptr) return -EPERM;
    try {
        return here->worker_timer_start(*instance, delay_ms, arg);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_worker_timer_cancel(ringd_listener* self, int64_t timer_id)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    if (instance == nullptr) return -EINVAL;
    Worker* here = Worker::current();
    return here != nullptr ? here->worker_timer_cancel(*instance, timer_id) : -EPERM;
}

int host_metric_register(ringd_listener* self, const char* name, uint32_t kind, const char* help)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    if (instance == nullptr) return -EINVAL;
    try {
        return instance->register_metric(name, kind, help);
    } catch (...) {
        return -ENOMEM;
    }
}

void host_metric_add(ringd_listener* self, int metric, int64_t delta)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    if (instance == nullptr) return;
    const std::optional<uint32_t> worker =
        Worker::current() != nullptr ? std::optional<uint32_t>(Worker::current_index()) : std::nullopt;
    instance->metric_cells().add(metric, delta, worker);
}

int host_metric_read(ringd_listener* self, int metric, int64_t* value)
{
    plugin_host::PluginInstance* instance = instance_of(self);
    return instance != nullptr ? instance->metric_cells().read(metric, value) : -EINVAL;
}

int host_proxy_tlv(ringd_conn* c, uint8_t type, const void** data, size_t* len)
{
    Connection* conn = on_own_worker(c, "proxy_tlv");
    if (conn == nullptr) return -EPERM;
    if (data == nullptr || len == nullptr) return -EINVAL;
    if (!conn->proxied) return -ENOENT;
    for (const proxy_protocol::Tlv& tlv : conn->proxied->tlvs) {
        if (tlv.type != type) continue;
        *data = tlv.value.data();
        *len = tlv.value.size();
        return 0;
    }
    return -ENOENT;
}

constexpr ringd_host table = {
    .abi_version = RINGD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ringd_host),
    .log = &host_log,
    .worker_index = &host_worker_index,
    .send = &host_send,
    .send_owned = &host_send_owned,
    .send_reserve = &host_send_reserve,
    .send_commit = &host_send_commit,
    .close = &host_close,
    .shutdown_write = &host_shutdown_write,
    .pause_reading = &host_pause_reading,
    .resume_reading = &host_resume_reading,
    .peer_address = &host_peer_address,
    .local_address = &host_local_address,
    .get_user = &host_get_user,
    .set_user = &host_set_user,
    .timer_start = &host_timer_start,
    .timer_cancel = &host_timer_cancel,
    .send_datagram = &host_send_datagram,
    .spawn = &host_spawn,
    .peer_credentials = &host_peer_credentials,
    // ABI 1.1
    .abi_minor = RINGD_PLUGIN_ABI_MINOR,
    .conn_id = &host_conn_id,
    .send_to = &host_send_to,
    .close_id = &host_close_id,
    .post = &host_post,
    .post_worker = &host_post_worker,
    .for_each_connection = &host_for_each_connection,
    .connect = &host_connect,
    .queued_output = &host_queued_output,
    .notify_output_below = &host_notify_output_below,
    .worker_timer_start = &host_worker_timer_start,
    .worker_timer_cancel = &host_worker_timer_cancel,
    .metric_register = &host_metric_register,
    .metric_add = &host_metric_add,
    .metric_read = &host_metric_read,
    .proxy_tlv = &host_proxy_tlv,
};

} // namespace

const ringd_host* host_table()
{
    return &table;
}

} // namespace ringd::engine
