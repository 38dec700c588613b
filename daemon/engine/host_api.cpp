// C entry points of ringd_host. Each one converts the opaque handle back to the engine's own object and calls
// the owning Worker; none may throw across the ABI.
#include "engine/host_api.hpp"

#include "engine/worker.hpp"
#include "plugin_host/plugin.hpp"
#include "service/logging.hpp"

#include <cerrno>
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

int host_send(ringd_conn* c, const void* data, size_t len)
{
    try {
        return conn_of(c).worker->send(conn_of(c), data, len);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_send_owned(ringd_conn* c, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    try {
        return conn_of(c).worker->send_owned(conn_of(c), data, len, free_fn, ctx);
    } catch (...) {
        if (free_fn != nullptr) free_fn(data, ctx);
        return -ENOMEM;
    }
}

uint8_t* host_send_reserve(ringd_conn* c, size_t len)
{
    try {
        return conn_of(c).worker->send_reserve(conn_of(c), len);
    } catch (...) {
        return nullptr;
    }
}

void host_send_commit(ringd_conn* c, size_t used)
{
    conn_of(c).worker->send_commit(conn_of(c), used);
}
int host_close(ringd_conn* c, uint32_t flags)
{
    return conn_of(c).worker->close(conn_of(c), flags);
}
int host_shutdown_write(ringd_conn* c)
{
    return conn_of(c).worker->shutdown_write(conn_of(c));
}
int host_pause_reading(ringd_conn* c)
{
    return conn_of(c).worker->pause_reading(conn_of(c));
}
int host_resume_reading(ringd_conn* c)
{
    return conn_of(c).worker->resume_reading(conn_of(c));
}

int host_peer_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    return ::getpeername(conn_of(c).fd, addr, len) == 0 ? 0 : -errno;
}

int host_local_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    return ::getsockname(conn_of(c).fd, addr, len) == 0 ? 0 : -errno;
}

void* host_get_user(ringd_conn* c)
{
    return conn_of(c).user;
}
void host_set_user(ringd_conn* c, void* user)
{
    conn_of(c).user = user;
}

int64_t host_timer_start(ringd_conn* c, uint64_t delay_ms, void* arg)
{
    try {
        return conn_of(c).worker->timer_start(conn_of(c), delay_ms, arg);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_timer_cancel(ringd_conn* c, int64_t id)
{
    return conn_of(c).worker->timer_cancel(conn_of(c), id);
}

int host_send_datagram(ringd_datagram* d, const void* data, size_t len, const sockaddr* to, socklen_t to_len)
{
    auto& ctx = *reinterpret_cast<DatagramContext*>(d);
    try {
        return ctx.worker->send_datagram(ctx, data, len, to, to_len);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_spawn(ringd_conn* c, const ringd_spawn_request* request, ringd_spawn_done_fn done, void* ctx)
{
    if (request == nullptr || done == nullptr) return -EINVAL;
    try {
        return conn_of(c).worker->spawn(conn_of(c), *request, done, ctx);
    } catch (...) {
        return -ENOMEM;
    }
}

int host_peer_credentials(ringd_conn* c, int32_t* pid, uint32_t* uid, uint32_t* gid)
{
    ucred cred{};
    socklen_t len = sizeof cred;
    if (::getsockopt(conn_of(c).fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return -errno;
    if (pid != nullptr) *pid = cred.pid;
    if (uid != nullptr) *uid = cred.uid;
    if (gid != nullptr) *gid = cred.gid;
    return 0;
}

constexpr ringd_host table = {
    RINGD_PLUGIN_ABI_VERSION, sizeof(ringd_host),   &host_log,          &host_worker_index,  &host_send,
    &host_send_owned,         &host_send_reserve,   &host_send_commit,  &host_close,         &host_shutdown_write,
    &host_pause_reading,      &host_resume_reading, &host_peer_address, &host_local_address, &host_get_user,
    &host_set_user,           &host_timer_start,    &host_timer_cancel, &host_send_datagram, &host_spawn,
    &host_peer_credentials,
};

} // namespace

const ringd_host* host_table()
{
    return &table;
}

} // namespace ringd::engine
