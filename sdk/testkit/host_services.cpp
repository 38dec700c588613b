// The host services behind the C table (host_table.cpp has checked the caller's thread): sending, closing,
// timers, spawn, datagrams, and ABI 1.1's ids, tasks, outbound connections, flow control, worker timers and
// metrics. Only state changes happen here; the plugin hears of their consequences when the kit settles,
// never from inside the call (plugin.h: "never from inside this call").
#include "invoke.hpp"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>
#include <sys/un.h>
#include <utility>

namespace ringd::testkit::detail {

namespace {

constexpr std::size_t kMaxReservation = 64 * 1024 * 1024; // send_reserve beyond it returns NULL
constexpr uint32_t kDefaultConnectTimeoutMs = 10'000;     // plugin.h: timeout_ms 0 means 10 s
constexpr std::size_t kMaxMetrics = 64;

bool writable(const Conn& c)
{
    return !c.closing() && !c.torn_down() && c.write == WriteSide::open;
}

// AF_INET, AF_INET6 or AF_UNIX, long enough for its family.
bool valid_address(const sockaddr* a, socklen_t len)
{
    if (a == nullptr || len < static_cast<socklen_t>(sizeof(sa_family_t)) || len > sizeof(sockaddr_storage)) {
        return false;
    }
    switch (a->sa_family) {
    case AF_INET:
        return len >= static_cast<socklen_t>(sizeof(sockaddr_in));
    case AF_INET6:
        return len >= static_cast<socklen_t>(sizeof(sockaddr_in6));
    case AF_UNIX:
        return len > static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
    default:
        return false;
    }
}

bool valid_metric_name(const char* name)
{
    if (name == nullptr) return false;
    const std::string_view n(name);
    if (n.empty() || n.size() > 64 || (n[0] >= '0' && n[0] <= '9')) return false;
    return std::all_of(n.begin(), n.end(),
                       [](char ch) { return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_'; });
}

} // namespace

// ---- stream connections ---------------------------------------------------------------------------------------

int KitState::send(Conn& c, const void* data, std::size_t len)
{
    if (!writable(c)) return -EPIPE;
    if (data == nullptr && len > 0) return -EINVAL;
    c.out.append_copy(data, len);
    touch(c);
    return 0;
}

int KitState::send_owned(Conn& c, void* data, std::size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    if (!writable(c)) {
        if (free_fn != nullptr) free_fn(data, ctx);
        return -EPIPE;
    }
    c.out.append_owned(data, len, free_fn, ctx);
    touch(c);
    return 0;
}

uint8_t* KitState::send_reserve(Conn& c, std::size_t len)
{
    if (!writable(c) || len > kMaxReservation) return nullptr;
    c.reservation.assign(len, '\0');
    c.reserved = true;
    return reinterpret_cast<uint8_t*>(c.reservation.data());
}

void KitState::send_commit(Conn& c, std::size_t used)
{
    if (!c.reserved) return; // documented: ignored
    if (used > c.reservation.size()) {
        misuse("send_commit(" + std::to_string(used) + ") after send_reserve(" + std::to_string(c.reservation.size()) +
               "): only the reserved bytes are sent");
        used = c.reservation.size();
    }
    c.reserved = false;
    if (writable(c)) c.out.append_copy(c.reservation.data(), used);
    c.reservation.clear();
    touch(c);
}

int KitState::close(Conn& c, uint32_t flags)
{
    if (c.torn_down()) return -EBADF;
    // A connect still in progress is abandoned: nothing was sent, so there is nothing to flush (a reset).
    if ((flags & RINGD_CLOSE_ABORT) != 0 || c.phase == Phase::connecting) {
        mark_aborting(c, RINGD_CLOSE_LOCAL); // asked for by the plugin: a local close, not an error
    } else {
        mark_closing(c, c.read == ReadSide::at_eof ? RINGD_CLOSE_PEER : RINGD_CLOSE_LOCAL);
    }
    touch(c);
    return 0;
}

int KitState::shutdown_write(Conn& c)
{
    if (c.closing() || c.torn_down()) return -EPIPE;
    if (c.write == WriteSide::open) c.write = WriteSide::fin_queued;
    touch(c);
    return 0;
}

int KitState::set_paused(Conn& c, bool paused)
{
    if (c.torn_down()) return -EBADF;
    c.paused_by_plugin = paused;
    touch(c);
    return 0;
}

int64_t KitState::timer_start(Conn& c, uint64_t delay_ms, void* arg)
{
    if (c.torn_down()) return -EBADF;
    Timer t;
    t.kind = TimerKind::connection;
    t.delay = delay_ms;
    t.conn = &c;
    t.worker = c.worker;
    t.arg = arg;
    const int64_t id = add_timer(t);
    c.timers.push_back(id);
    return id;
}

int KitState::timer_cancel(Conn& c, int64_t id)
{
    if (std::erase(c.timers, id) == 0) return -ENOENT;
    cancel_timer(id);
    return 0;
}

int KitState::spawn(Conn& c, const ringd_spawn_request& request, ringd_spawn_done_fn done, void* ctx)
{
    if (c.closing() || c.torn_down()) return -EPIPE;
    if (request.argv == nullptr || request.argv[0] == nullptr) return -EINVAL;
    PendingSpawn spawn;
    for (const char* const* a = request.argv; *a != nullptr; ++a)
        spawn.call.argv.emplace_back(*a);
    if (request.envp != nullptr) {
        spawn.call.envp.emplace();
        for (const char* const* e = request.envp; *e != nullptr; ++e)
            spawn.call.envp->emplace_back(*e);
    }
    if (request.cwd != nullptr) spawn.call.cwd = request.cwd;
    spawn.call.timeout_ms = request.timeout_ms;
    spawn.call.max_output = request.max_output;
    spawn.call.run_as_uid = request.run_as_uid;
    spawn.call.run_as_gid = request.run_as_gid;
    spawn.done = done;
    spawn.ctx = ctx;
    SpawnReply reply = SpawnReply::later();
    if (responder_) {
        try {
            reply = responder_(spawn.call);
        } catch (...) {
            failed(std::current_exception()); // the test's own responder threw: rethrown when the step ends
            return -EIO;
        }
    }
    switch (reply.kind) {
    case SpawnReply::Kind::refuse:
        return reply.error > 0 ? -reply.error : (reply.error < 0 ? reply.error : -EINVAL);
    case SpawnReply::Kind::finish:
        ++c.running_children;
        enqueue(c.worker, SpawnDone{c.id, std::move(spawn), std::move(reply.result)});
        return 0;
    case SpawnReply::Kind::pending:
        break;
    }
    ++c.running_children;
    c.spawns.push_back(std::move(spawn));
    return 0;
}

int KitState::notify_output_below(Conn& c, std::size_t low_water)
{
    if (c.torn_down()) return -EBADF;
    c.drain_low_water = low_water; // replaces an earlier one; checked when the kit next settles `c`
    touch(c);
    return 0;
}

// ---- datagrams ------------------------------------------------------------------------------------------------

std::vector<SentDatagram> KitState::datagram(std::string_view payload, const Address& from,
                                             std::optional<uint32_t> worker)
{
    if (options_.kind != Kind::datagram) throw std::logic_error("datagram() on a stream listener: use open()");
    const uint32_t w = pick_worker(worker, "the datagram's worker");
    std::vector<SentDatagram> sent;
    Instance& inst = current();
    if (inst.d().on_datagram == nullptr) return sent;
    datagram_call_.active = true;
    ++datagram_call_.generation;
    datagram_call_.worker = w;
    datagram_call_.from = from;
    datagram_call_.sent = &sent;
    const std::string data(payload); // dies after the call, like ringd's receive buffer
    invoke_on(inst, w, "on_datagram", "datagram dropped", [&] {
        const uintptr_t handle = uintptr_t(serial_) << 32 | datagram_call_.generation;
        inst.d().on_datagram(inst.instance, reinterpret_cast<ringd_datagram*>(handle),
                             reinterpret_cast<const uint8_t*>(data.data()), data.size(), from.get(), from.len);
    });
    datagram_call_.active = false;
    datagram_call_.sent = nullptr;
    return sent;
}

// On the test thread with this kit's context (host_table.cpp made sure).
int KitState::send_datagram(uint32_t generation, const void* data, std::size_t len, const sockaddr* to,
                            socklen_t to_len)
{
    if (!datagram_call_.active || generation != datagram_call_.generation) {
        misuse("send_datagram() with the handle of an earlier on_datagram (valid during its call only)");
        return -EINVAL;
    }
    if (current_context()->worker != datagram_call_.worker) {
        misuse("send_datagram() off the worker running on_datagram: refused with EPERM");
        return -EPERM;
    }
    if ((data == nullptr && len > 0) || (to != nullptr && !valid_address(to, to_len))) return -EINVAL;
    if (datagram_queue_full_) return -ENOBUFS;
    const std::string destination =
        to != nullptr ? format_address(to, to_len) : format_address(datagram_call_.from.get(), datagram_call_.from.len);
    datagram_call_.sent->push_back({std::string(static_cast<const char*>(data), len), destination});
    return 0;
}

// ---- ABI 1.1: ids and tasks (on one of the kit's simulated threads) -------------------------------------------

int KitState::send_to(ringd_conn_id id, const void* data, std::size_t len)
{
    Conn* c = find(id);
    if (c == nullptr) return -EINVAL;
    if (c->torn_down() || stopped_) return -ENOENT;
    if (!writable(*c)) return -EPIPE;
    const CallContext* ctx = current_context();
    if (ctx != nullptr && ctx->worker == c->worker) return send(*c, data, len); // on its own worker: at once
    enqueue(c->worker, SendTo{id, std::string(static_cast<const char*>(data), len)});
    return 0;
}

int KitState::close_id(ringd_conn_id id, uint32_t flags)
{
    Conn* c = find(id);
    if (c == nullptr) return -EINVAL;
    if (c->torn_down() || stopped_) return -ENOENT;
    const CallContext* ctx = current_context();
    if (ctx != nullptr && ctx->worker == c->worker) return close(*c, flags);
    enqueue(c->worker, CloseId{id, flags});
    return 0;
}

int KitState::post(Instance& self, ringd_conn_id id, ringd_conn_task_fn fn, void* arg)
{
    Conn* c = find(id);
    if (c == nullptr) return -EINVAL;
    if (c->torn_down() || stopped_) return -ENOENT;
    ++self.pending_tasks;
    enqueue(c->worker, ConnTask{&self, id, fn, arg});
    return 0;
}

int KitState::post_worker(Instance& self, uint32_t worker, ringd_worker_task_fn fn, void* arg)
{
    if (stopped_) return -ESHUTDOWN;
    ++self.pending_tasks;
    enqueue(worker, WorkerTask{&self, fn, arg});
    return 0;
}

int KitState::for_each_connection(Instance& self, uint32_t worker, int (*fn)(void*, ringd_conn*), void* ctx)
{
    std::vector<Conn*> candidates;
    for (const auto& c : conns_) {
        if (c->inst == &self && c->worker == worker && (c->phase == Phase::open || c->phase == Phase::connecting)) {
            candidates.push_back(c.get());
        }
    }
    int called = 0;
    for (Conn* c : candidates) {
        // fn may have closed a connection it had not been given yet: skip it, it is closing now.
        if (c->phase != Phase::open && c->phase != Phase::connecting) continue;
        ++called;
        int stop = 0;
        try {
            stop = fn(ctx, c->handle());
        } catch (...) {
            plugin_failed(self, "for_each_connection's function", std::current_exception(), "iteration stopped");
            break;
        }
        if (stop != 0) break;
    }
    return called;
}

int KitState::connect(Instance& self, uint32_t worker, const ringd_connect_request& request, ringd_conn** conn)
{
    if (stopping_ || stopped_ || !self.serving[worker]) return -ESHUTDOWN;
    if (!valid_address(request.address, request.address_len)) return -EINVAL;
    std::size_t outbound = 0;
    for (const auto& c : conns_)
        outbound += c->outbound && !c->torn_down() ? 1 : 0;
    if (outbound >= options_.max_outbound_connections) return -EAGAIN;
    Conn& c = new_conn(self, worker, true);
    c.phase = Phase::connecting;
    c.user = request.user;
    std::memcpy(&c.peer.storage, request.address, request.address_len);
    c.peer.len = request.address_len;
    c.local =
        parse_address(c.peer.is_unix() ? std::string("unix:") : "127.0.0.1:" + std::to_string(32768 + (c.id & 0x3fff)));
    c.connect_timeout_ms = request.timeout_ms != 0 ? request.timeout_ms : kDefaultConnectTimeoutMs;
    Timer t;
    t.kind = TimerKind::connect_timeout;
    t.delay = c.connect_timeout_ms;
    t.conn = &c;
    t.worker = worker;
    c.connect_timer = add_timer(t);
    *conn = c.handle();
    return 0;
}

// ---- ABI 1.1: worker timers and metrics ------------------------------------------------------------------------

int64_t KitState::worker_timer_start(Instance& self, uint32_t worker, uint64_t delay_ms, void* arg)
{
    if (!self.serving[worker]) return -ESRCH; // it would be dropped unfired anyway
    Timer t;
    t.kind = TimerKind::worker;
    t.delay = delay_ms;
    t.inst = &self;
    t.worker = worker;
    t.arg = arg;
    return add_timer(t);
}

int KitState::worker_timer_cancel(Instance& self, uint32_t worker, int64_t id)
{
    auto due = timer_due_.find(id);
    if (due == timer_due_.end()) return -ENOENT;
    const Timer& t = timers_.at({due->second, id});
    if (t.kind != TimerKind::worker || t.inst != &self || t.worker != worker) return -ENOENT;
    cancel_timer(id);
    return 0;
}

int KitState::metric_register(Instance& self, const char* name, uint32_t kind, const char* help)
{
    if (!valid_metric_name(name) || (kind != RINGD_METRIC_COUNTER && kind != RINGD_METRIC_GAUGE)) return -EINVAL;
    if (help == nullptr || std::string_view(help).find('\n') != std::string_view::npos) return -EINVAL;
    for (const auto& m : self.metrics) {
        if (m->name == name) return -EEXIST;
    }
    if (self.metrics.size() >= kMaxMetrics) return -ENOSPC;
    auto m = std::make_unique<Metric>();
    m->name = name;
    m->kind = kind;
    self.metrics.push_back(std::move(m));
    return static_cast<int>(self.metrics.size() - 1);
}

} // namespace ringd::testkit::detail
