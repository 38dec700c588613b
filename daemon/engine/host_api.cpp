// C entry points of ringd_host. Each one converts the opaque handle back to the engine's own object and calls
// the owning Worker; none may throw across the ABI.
#include "engine/host_api.hpp"

#include "engine/worker.hpp"
#include "plugin_host/plugin.hpp"
#include "service/logging.hpp"

#include <cerrno>
#include <cstddef>
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

int host_peer_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    Connection* conn = on_own_worker(c, "peer_address");
    if (conn == nullptr) return -EPERM;
    if (conn->fd < 0) return -EBADF; // after on_close
    return ::getpeername(conn->fd, addr, len) == 0 ? 0 : -errno;
}

int host_local_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    Connection* conn = on_own_worker(c, "local_address");
    if (conn == nullptr) return -EPERM;
    if (conn->fd < 0) return -EBADF; // after on_close
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
    .abi_minor = RINGD_PLUGIN_ABI_MINOR,
    .conn_id = nullptr,
    .send_to = nullptr,
    .close_id = nullptr,
    .post = nullptr,
    .post_worker = nullptr,
    .for_each_connection = nullptr,
    .connect = &host_connect,
    .queued_output = nullptr,
    .notify_output_below = nullptr,
    .worker_timer_start = nullptr,
    .worker_timer_cancel = nullptr,
    .metric_register = nullptr,
    .metric_add = nullptr,
    .metric_read = nullptr,
};

} // namespace

const ringd_host* host_table()
{
    return &table;
}

} // namespace ringd::engine
