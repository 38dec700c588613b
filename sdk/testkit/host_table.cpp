// The C entry points of the kit's ringd_host. Each finds the kit from its handle (a connection, the instance's
// listener handle, a datagram) or from the calling thread's CallContext, applies plugin.h's thread rules
// exactly as ringd does (a connection's functions only on its worker: otherwise -EPERM, logged as a misuse),
// and calls the kit. None lets an exception cross the ABI.
#include "kit_state.hpp"

#include <cstring>
#include <map>
#include <mutex>
#include <string>

namespace ringd::testkit::detail {

namespace {

// The simulated thread running plugin code on this (real) thread; null on every other thread. A thread-local
// because host functions such as worker_index() and send_to() get no handle to find it from.
thread_local const CallContext* t_context = nullptr;

struct Registry {
    std::mutex mutex;
    std::map<uint32_t, KitState*> kits;
};

Registry& registry()
{
    static Registry r;
    return r;
}

uint32_t serial_of(ringd_conn_id id)
{
    return static_cast<uint32_t>(id >> 32);
}

std::string where(const CallContext* ctx)
{
    if (ctx == nullptr) return "a thread that is no worker (a plugin thread, or outside any callback)";
    if (ctx->worker == RINGD_NO_WORKER) return "the main thread";
    return "worker " + std::to_string(ctx->worker);
}

// The connection behind `h` if the caller may act on it; else nullptr with the error to return: -EPERM from
// another thread (as ringd), -EBADF once on_close has returned (ringd has freed it by then: the kit reports
// what would be a use after free).
Conn* conn_for(ringd_conn* h, const char* call, int& error)
{
    const CallContext* ctx = t_context;
    error = -EPERM;
    if (h == nullptr) {
        if (ctx != nullptr) ctx->kit->misuse(std::string(call) + "() with a NULL connection");
        error = -EINVAL;
        return nullptr;
    }
    Conn& c = *reinterpret_cast<Conn*>(h);
    if (ctx == nullptr || ctx->kit != c.kit || ctx->worker != c.worker) {
        c.kit->misuse(std::string(call) + "() for connection " + std::to_string(c.id) + " of worker " +
                      std::to_string(c.worker) + " from " + where(ctx) + ": refused with EPERM");
        return nullptr;
    }
    if (c.torn_down() && !c.in_on_close) {
        c.kit->misuse(std::string(call) + "() on connection " + std::to_string(c.id) +
                      " after its on_close returned (a use after free in ringd)");
        error = -EBADF;
        return nullptr;
    }
    if (c.reserved && std::strcmp(call, "send_commit") != 0) {
        c.kit->misuse(std::string(call) + "() between send_reserve() and send_commit(): the reservation is lost");
        c.reserved = false;
    }
    return &c;
}

// The instance behind a listener handle, for calls that must run on one of the kit's workers.
Instance* on_worker(ringd_listener* self, const char* call, uint32_t& worker)
{
    const CallContext* ctx = t_context;
    auto* inst = reinterpret_cast<Instance*>(self);
    if (inst == nullptr) return nullptr;
    if (ctx == nullptr || ctx->kit != inst->kit || ctx->worker == RINGD_NO_WORKER) {
        inst->kit->misuse(std::string(call) + "() from " + where(ctx) + ": only on a worker thread (EPERM)");
        return nullptr;
    }
    worker = ctx->worker;
    return inst;
}

template <class F> auto guarded(F&& f, decltype(f()) on_exception) noexcept -> decltype(f())
{
    try {
        return f();
    } catch (...) {
        if (t_context != nullptr) t_context->kit->failed(std::current_exception());
        return on_exception;
    }
}

void host_log(ringd_listener* listener, ringd_log_level level, const char* msg)
{
    auto* inst = reinterpret_cast<Instance*>(listener);
    KitState* kit = inst != nullptr ? inst->kit : (t_context != nullptr ? t_context->kit : nullptr);
    if (kit == nullptr) return;
    try {
        kit->log(level, kit->options().listener_name, msg != nullptr ? msg : "");
    } catch (...) {
    }
}

uint32_t host_worker_index()
{
    const CallContext* ctx = t_context;
    return ctx != nullptr && ctx->worker != RINGD_NO_WORKER ? ctx->worker : 0;
}

int host_send(ringd_conn* h, const void* data, size_t len)
{
    int error;
    Conn* c = conn_for(h, "send", error);
    return c == nullptr ? error : guarded([&] { return c->kit->send(*c, data, len); }, -ENOMEM);
}

int host_send_owned(ringd_conn* h, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    int error;
    Conn* c = conn_for(h, "send_owned", error);
    if (c == nullptr) {
        if (free_fn != nullptr) free_fn(data, ctx); // the host owns `data` from this call on, whatever happens
        return error;
    }
    return guarded([&] { return c->kit->send_owned(*c, data, len, free_fn, ctx); }, -ENOMEM);
}

uint8_t* host_send_reserve(ringd_conn* h, size_t len)
{
    int error;
    Conn* c = conn_for(h, "send_reserve", error);
    return c == nullptr ? nullptr : guarded([&] { return c->kit->send_reserve(*c, len); }, nullptr);
}

void host_send_commit(ringd_conn* h, size_t used)
{
    int error;
    if (Conn* c = conn_for(h, "send_commit", error)) guarded([&] { return (c->kit->send_commit(*c, used), 0); }, 0);
}

int host_close(ringd_conn* h, uint32_t flags)
{
    int error;
    Conn* c = conn_for(h, "close", error);
    return c == nullptr ? error : c->kit->close(*c, flags);
}

int host_shutdown_write(ringd_conn* h)
{
    int error;
    Conn* c = conn_for(h, "shutdown_write", error);
    return c == nullptr ? error : c->kit->shutdown_write(*c);
}

int host_pause_reading(ringd_conn* h)
{
    int error;
    Conn* c = conn_for(h, "pause_reading", error);
    return c == nullptr ? error : c->kit->set_paused(*c, true);
}

int host_resume_reading(ringd_conn* h)
{
    int error;
    Conn* c = conn_for(h, "resume_reading", error);
    return c == nullptr ? error : c->kit->set_paused(*c, false);
}

int copy_address(const Address& a, sockaddr* addr, socklen_t* len)
{
    if (len == nullptr || (addr == nullptr && *len > 0)) return -EINVAL;
    std::memcpy(addr, &a.storage, std::min(*len, a.len));
    *len = a.len;
    return 0;
}

int host_peer_address(ringd_conn* h, sockaddr* addr, socklen_t* len)
{
    int error;
    Conn* c = conn_for(h, "peer_address", error);
    return c == nullptr ? error : copy_address(c->peer, addr, len);
}

int host_local_address(ringd_conn* h, sockaddr* addr, socklen_t* len)
{
    int error;
    Conn* c = conn_for(h, "local_address", error);
    return c == nullptr ? error : copy_address(c->local, addr, len);
}

void* host_get_user(ringd_conn* h)
{
    int error;
    Conn* c = conn_for(h, "get_user", error);
    return c == nullptr ? nullptr : c->user;
}

void host_set_user(ringd_conn* h, void* user)
{
    int error;
    if (Conn* c = conn_for(h, "set_user", error)) c->user = user;
}

int64_t host_timer_start(ringd_conn* h, uint64_t delay_ms, void* arg)
{
    int error;
    Conn* c = conn_for(h, "timer_start", error);
    return c == nullptr ? error : guarded([&] { return c->kit->timer_start(*c, delay_ms, arg); }, int64_t{-ENOMEM});
}

int host_timer_cancel(ringd_conn* h, int64_t id)
{
    int error;
    Conn* c = conn_for(h, "timer_cancel", error);
    return c == nullptr ? error : c->kit->timer_cancel(*c, id);
}

int host_send_datagram(ringd_datagram* d, const void* data, size_t len, const sockaddr* to, socklen_t to_len)
{
    if (d == nullptr) return -EINVAL;
    const auto token = reinterpret_cast<uintptr_t>(d); // see DatagramCall
    const auto serial = static_cast<uint32_t>(token >> 32);
    const CallContext* ctx = t_context;
    if (ctx != nullptr && ctx->kit->serial() == serial) {
        return guarded([&] { return ctx->kit->send_datagram(static_cast<uint32_t>(token), data, len, to, to_len); },
                       -ENOMEM);
    }
    with_kit(serial, [&](KitState& kit) {
        kit.misuse("send_datagram() from " + where(ctx) + ": only during on_datagram, on its worker (EPERM)");
    });
    return -EPERM;
}

// What ABI 1.0 defined of ringd_spawn_request: a smaller struct is refused before any field is read.
constexpr size_t spawn_request_min_size = offsetof(ringd_spawn_request, run_as_gid) + sizeof(int64_t);

int host_spawn(ringd_conn* h, const ringd_spawn_request* request, ringd_spawn_done_fn done, void* ctx)
{
    if (request == nullptr || done == nullptr || request->struct_size < spawn_request_min_size) return -EINVAL;
    int error;
    Conn* c = conn_for(h, "spawn", error);
    return c == nullptr ? error : guarded([&] { return c->kit->spawn(*c, *request, done, ctx); }, -ENOMEM);
}

int host_peer_credentials(ringd_conn* h, int32_t* pid, uint32_t* uid, uint32_t* gid)
{
    int error;
    Conn* c = conn_for(h, "peer_credentials", error);
    if (c == nullptr) return error;
    if (!c->peer.is_unix()) return -ENOTSUP;
    if (pid != nullptr) *pid = c->credentials.pid;
    if (uid != nullptr) *uid = c->credentials.uid;
    if (gid != nullptr) *gid = c->credentials.gid;
    return 0;
}

// ---- ABI 1.1 ----------------------------------------------------------------------------------------------

ringd_conn_id host_conn_id(ringd_conn* h)
{
    int error;
    Conn* c = conn_for(h, "conn_id", error);
    return c == nullptr ? 0 : c->id;
}

// An "any thread" call: on one of this kit's simulated threads the kit acts at once (it knows whether the
// connection is gone); from anywhere else the request goes to the kit's inbox, to be sorted on its next step.
template <class Local, class Foreign> int any_thread(ringd_conn_id id, Local&& local, Foreign&& foreign)
{
    if (id == 0) return -EINVAL;
    const CallContext* ctx = t_context;
    if (ctx != nullptr && ctx->kit->owns(id)) return guarded([&] { return local(*ctx->kit); }, -ENOMEM);
    int rc = -EINVAL;
    with_kit(serial_of(id), [&](KitState& kit) {
        if (kit.knows_id(id)) rc = guarded([&] { return foreign(kit); }, -ENOMEM);
    });
    return rc;
}

int host_send_to(ringd_conn_id id, const void* data, size_t len)
{
    if (data == nullptr && len > 0) return -EINVAL;
    return any_thread(
        id, [&](KitState& kit) { return kit.send_to(id, data, len); },
        [&](KitState& kit) {
            return kit.push_foreign({std::nullopt, SendTo{id, std::string(static_cast<const char*>(data), len)}});
        });
}

int host_close_id(ringd_conn_id id, uint32_t flags)
{
    return any_thread(
        id, [&](KitState& kit) { return kit.close_id(id, flags); },
        [&](KitState& kit) {
            return kit.push_foreign({std::nullopt, CloseId{id, flags}});
        });
}

int host_post(ringd_listener* self, ringd_conn_id id, ringd_conn_task_fn fn, void* arg)
{
    auto* inst = reinterpret_cast<Instance*>(self);
    if (inst == nullptr || fn == nullptr) return -EINVAL;
    return any_thread(
        id, [&](KitState& kit) { return kit.post(*inst, id, fn, arg); },
        [&](KitState& kit) {
            return kit.push_foreign({std::nullopt, ConnTask{inst, id, fn, arg}});
        });
}

int host_post_worker(ringd_listener* self, uint32_t worker, ringd_worker_task_fn fn, void* arg)
{
    auto* inst = reinterpret_cast<Instance*>(self);
    if (inst == nullptr || fn == nullptr || worker >= inst->serving.size()) return -EINVAL;
    KitState& kit = *inst->kit;
    const CallContext* ctx = t_context;
    if (ctx != nullptr && ctx->kit == &kit)
        return guarded([&] { return kit.post_worker(*inst, worker, fn, arg); }, -ENOMEM);
    int rc = -EINVAL;
    with_kit(kit.serial(), [&](KitState& k) {
        rc = guarded([&] { return k.push_foreign({worker, WorkerTask{inst, fn, arg}}); }, -ENOMEM);
    });
    return rc;
}

int host_for_each_connection(ringd_listener* self, int (*fn)(void* ctx, ringd_conn* conn), void* ctx)
{
    uint32_t worker = 0;
    Instance* inst = on_worker(self, "for_each_connection", worker);
    if (inst == nullptr) return self == nullptr ? -EINVAL : -EPERM;
    if (fn == nullptr) return -EINVAL;
    return guarded([&] { return inst->kit->for_each_connection(*inst, worker, fn, ctx); }, -ENOMEM);
}

int host_connect(ringd_listener* self, const ringd_connect_request* request, ringd_conn** conn)
{
    uint32_t worker = 0;
    Instance* inst = on_worker(self, "connect", worker);
    if (inst == nullptr) return self == nullptr ? -EINVAL : -EPERM;
    if (request == nullptr || conn == nullptr || request->struct_size < sizeof(ringd_connect_request)) return -EINVAL;
    return guarded([&] { return inst->kit->connect(*inst, worker, *request, conn); }, -ENOMEM);
}

int64_t host_queued_output(ringd_conn* h)
{
    int error;
    Conn* c = conn_for(h, "queued_output", error);
    return c == nullptr ? error : static_cast<int64_t>(c->out.bytes());
}

int host_notify_output_below(ringd_conn* h, size_t low_water)
{
    int error;
    Conn* c = conn_for(h, "notify_output_below", error);
    return c == nullptr ? error : c->kit->notify_output_below(*c, low_water);
}

int64_t host_worker_timer_start(ringd_listener* self, uint64_t delay_ms, void* arg)
{
    uint32_t worker = 0;
    Instance* inst = on_worker(self, "worker_timer_start", worker);
    if (inst == nullptr) return self == nullptr ? -EINVAL : -EPERM;
    return guarded([&] { return inst->kit->worker_timer_start(*inst, worker, delay_ms, arg); }, int64_t{-ENOMEM});
}

int host_worker_timer_cancel(ringd_listener* self, int64_t timer_id)
{
    uint32_t worker = 0;
    Instance* inst = on_worker(self, "worker_timer_cancel", worker);
    if (inst == nullptr) return self == nullptr ? -EINVAL : -EPERM;
    return inst->kit->worker_timer_cancel(*inst, worker, timer_id);
}

int host_metric_register(ringd_listener* self, const char* name, uint32_t kind, const char* help)
{
    auto* inst = reinterpret_cast<Instance*>(self);
    if (inst == nullptr) return -EINVAL;
    const CallContext* ctx = t_context;
    if (ctx == nullptr || ctx->creating != inst) {
        inst->kit->misuse("metric_register() outside create() (from " + where(ctx) + "): refused with EPERM");
        return -EPERM;
    }
    return guarded([&] { return inst->kit->metric_register(*inst, name, kind, help); }, -ENOMEM);
}

Metric* metric_of(ringd_listener* self, int metric)
{
    auto* inst = reinterpret_cast<Instance*>(self);
    if (inst == nullptr || metric < 0 || static_cast<size_t>(metric) >= inst->metrics.size()) return nullptr;
    return inst->metrics[static_cast<size_t>(metric)].get();
}

void host_metric_add(ringd_listener* self, int metric, int64_t delta)
{
    Metric* m = metric_of(self, metric);
    if (m == nullptr) return; // unknown ids are ignored, as documented
    if (m->kind == RINGD_METRIC_COUNTER && delta < 0) {
        reinterpret_cast<Instance*>(self)->kit->misuse("metric_add() of " + std::to_string(delta) + " to counter " +
                                                       m->name + ": counters only go up (ignored)");
        return;
    }
    m->value.fetch_add(delta, std::memory_order_relaxed);
}

int host_metric_read(ringd_listener* self, int metric, int64_t* value)
{
    const Metric* m = metric_of(self, metric);
    if (m == nullptr || value == nullptr) return -EINVAL;
    *value = m->value.load(std::memory_order_relaxed);
    return 0;
}

// The testkit's connections arrive without a PROXY header: there is never a TLV.
int host_proxy_tlv(ringd_conn* h, uint8_t, const void** data, size_t* len)
{
    int error;
    if (conn_for(h, "proxy_tlv", error) == nullptr) return error;
    return data == nullptr || len == nullptr ? -EINVAL : -ENOENT;
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

const CallContext* current_context()
{
    return t_context;
}

ContextScope::ContextScope(const CallContext& context) : context_(context), outer_(t_context)
{
    t_context = &context_;
}

ContextScope::~ContextScope()
{
    t_context = outer_;
}

void register_kit(uint32_t serial, KitState* kit)
{
    std::lock_guard lock(registry().mutex);
    registry().kits[serial] = kit;
}

void unregister_kit(uint32_t serial)
{
    std::lock_guard lock(registry().mutex);
    registry().kits.erase(serial);
}

bool with_kit(uint32_t serial, const std::function<void(KitState&)>& fn)
{
    std::lock_guard lock(registry().mutex);
    auto it = registry().kits.find(serial);
    if (it == registry().kits.end()) return false;
    fn(*it->second);
    return true;
}

const ringd_host* host_table_template()
{
    return &table;
}

} // namespace ringd::testkit::detail
