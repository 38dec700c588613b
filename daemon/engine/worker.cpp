// The worker's event loop: wait, route completions, run timers and deadlines, repeat.
#include "engine/worker.hpp"

#include "engine/user_data.hpp"
#include "engine/worker_invoke.hpp"
#include "plugin_host/fatal_signals.hpp"
#include "plugin_host/plugin.hpp"

#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <sys/eventfd.h>
#include <thread>
#include <utility>

namespace ringd::engine {

namespace {

// ringd_host.worker_index() takes no argument, and host calls check that they run on their connection's
// worker, so the calling thread's worker has to live with the thread.
thread_local uint32_t current_worker_index = 0;
thread_local Worker* current_worker = nullptr;

// Longest sleep without a reason to wake: bounds how stale the watchdog heartbeat can get.
constexpr auto max_wait = std::chrono::milliseconds(1000);

constexpr uint16_t stream_group = 0;

} // namespace

Worker::Worker(const WorkerOptions& options)
    : options_(options), ring_(4096, 16384, /*start_disabled=*/true),
      stream_buffers_(ring_.raw(), stream_group, options.stream_buffers, options.stream_buffer_size),
      datagram_sender_(options.index), children_(*this), wake_fd_(::eventfd(0, EFD_CLOEXEC))
{
    if (!wake_fd_) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
}

Worker::~Worker()
{
    // A worker whose loop never ran (a failed start) still owes the tasks posted to it their one run.
    close_mailbox();
    children_.stop_launcher();
    // Connections still here at destruction (a failed start) have no plugin callbacks owed; just free them.
    for (auto& conn : connections_) {
        if (conn) conn->out.clear(segment_pool_);
    }
}

uint32_t Worker::current_index()
{
    return current_worker_index;
}

Worker* Worker::current()
{
    return current_worker;
}

void Worker::post(std::function<void(Worker&)> command)
{
    {
        std::lock_guard lock(commands_mutex_);
        commands_.push_back(std::move(command));
    }
    const uint64_t one = 1;
    // A full eventfd counter (impossible in practice) still leaves a wake-up pending, so ignoring is safe.
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

void Worker::arm_wake()
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_read(sqe, wake_fd_.get(), &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, make_user_data(Op::wake, 0));
}

void Worker::run_commands()
{
    std::vector<std::function<void(Worker&)>> batch;
    {
        std::lock_guard lock(commands_mutex_);
        batch.swap(commands_);
    }
    for (auto& command : batch)
        command(*this);
}

// Binds the worker to the calling thread and arms its first operations (the ring only accepts submissions
// from the thread that enabled it).
void Worker::start_loop()
{
    current_worker_index = options_.index;
    current_worker = this;
    ring_.enable();
    now_ = Clock::now();
    arm_wake();
    run_commands();
}

void Worker::run()
{
    const plugin_host::BindCallRecord bind_record(call_record_);
    const plugin_host::AltSignalStack signal_stack; // a plugin's stack overflow is still reported
    try {
        start_loop();
        while (!finished()) {
            const std::optional<std::chrono::nanoseconds> timeout = until_next_deadline();
            // Busy vs waiting time: one clock reading more per turn (the turn's own start is the other end;
            // docs/benchmarks.md has its cost). Not taken when counting is compiled out.
            Clock::time_point wait_from{};
            if constexpr (counting_enabled) wait_from = Clock::now();
            const int err = ring_.submit_and_wait(timeout);
            if (err != 0 && !survive_ring_error(err)) break;
            const Clock::time_point turn_before = now_;
            turn();
            if constexpr (counting_enabled) {
                stats_.busy_ns.add(uint64_t(std::max<int64_t>((wait_from - turn_before).count(), 0)));
                stats_.wait_ns.add(uint64_t(std::max<int64_t>((now_ - wait_from).count(), 0)));
            }
        }
        // Closes queued in the last turn post no completion, so the loop did not wait for them: hand them to
        // the kernel before the ring goes away.
        if (!failed_.load(std::memory_order_relaxed)) (void)ring_.submit();
    } catch (const std::exception& e) {
        fail(e.what());
    }
    close_mailbox(); // tasks posted since the last turn still run once (orphaned); later ones are refused
    // What those tasks sent to other workers woke them through this ring: hand that to the kernel too.
    if (!failed_.load(std::memory_order_relaxed)) (void)ring_.submit();
    children_.kill_all();
    children_.stop_launcher();
}

void Worker::turn()
{
    now_ = Clock::now();
    stats_.loop_turns.add();
    heartbeat_ns_.store(now_.time_since_epoch().count(), std::memory_order_relaxed);
    ring_.drain([this](const io_uring_cqe& cqe) { dispatch(cqe); });
    // Buffers recycled while handling this batch become visible to the kernel in one store.
    stream_buffers_.publish();
    if (datagram_buffers_) datagram_buffers_->publish();
    run_due_timers();
    drain_mailbox();
    check_idle_and_deadlines();
    settle_touched();
    // Child deadlines are run here, by the loop, not by the wait: what it keeps is only when to look again.
    child_deadline_ = children_.run_deadlines(now_);
    release_torn_down();
}

bool Worker::survive_ring_error(int err)
{
    if (!is_transient_ring_error(err)) {
        fail(std::string("its io_uring failed: ") + std::strerror(-err));
        return false;
    }
    // Memory pressure or an overflowing completion queue: the completions already there are handled this turn
    // (which frees room), the submission is retried the next. A short pause keeps this from spinning a core;
    // one warning a second says how often it happens.
    ++ring_errors_unreported_;
    const auto now = Clock::now();
    if (now - last_ring_warning_ >= std::chrono::seconds(1)) {
        spdlog::warn("worker {}: io_uring refused a submission ({}), {} time(s) since the last warning; retrying",
                     options_.index, std::strerror(-err), ring_errors_unreported_);
        last_ring_warning_ = now;
        ring_errors_unreported_ = 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return true;
}

void Worker::fail(const std::string& why)
{
    spdlog::critical("worker {} stopped: {}; ringd stops too, its connections on this worker are lost", options_.index,
                     why);
    failure_ = why;
    failed_.store(true, std::memory_order_release);
}

WorkerReading Worker::reading() const
{
    WorkerReading r;
    r.index = options_.index;
    r.submissions = ring_.submitted();
    r.completions = ring_.completed();
    r.cq_overflows = ring_.cq_overflows();
    r.loop_turns = stats_.loop_turns.read();
    r.busy_ns = stats_.busy_ns.read();
    r.wait_ns = stats_.wait_ns.read();
    r.stream_buffers_exhausted = stats_.stream_buffers_exhausted.read();
    r.datagram_buffers_exhausted = stats_.datagram_buffers_exhausted.read();
    r.accept_rearms = stats_.accept_rearms.read();
    r.recv_rearms = stats_.recv_rearms.read();
    r.recvmsg_rearms = stats_.recvmsg_rearms.read();
    r.stale_completions = stats_.stale_completions.read();
    r.plugin_stalls = plugin_stalls();
    r.connections = live_connections();
    return r;
}

std::optional<std::string> Worker::failure() const
{
    if (!failed_.load(std::memory_order_acquire)) return std::nullopt;
    return failure_;
}

void Worker::dispatch(const io_uring_cqe& cqe)
{
    const uint64_t ud = cqe.user_data;
    const uint32_t index = user_data_index(ud);
    switch (user_data_op(ud)) {
    case Op::ignore:
        return;
    case Op::wake:
        run_commands();
        if (!finished()) arm_wake();
        return;
    case Op::accept:
        if (ListenerSlot* slot = slot_for(cqe)) on_accept(*slot, cqe);
        return;
    case Op::recvmsg:
        if (ListenerSlot* slot = slot_for(cqe)) on_recvmsg(*slot, cqe);
        return;
    case Op::datagram_send:
        if (!datagram_sender_.owns(index)) return report_stale(cqe, "datagram send");
        datagram_sender_.on_complete(index, cqe.res);
        return;
    case Op::close:
        // Only a failed close posts a completion (see teardown), by which time the slot may serve another
        // connection: report it, touch nothing.
        spdlog::warn("closing a connection's socket failed: {}", std::strerror(-cqe.res));
        return;
    case Op::recv:
    case Op::send:
    case Op::connect:
        break;
    case Op::child_pidfd:
        if (!children_.owns(index, user_data_reuse_tag(ud))) return report_stale(cqe, "child process");
        children_.on_pidfd(index, cqe.res, now_);
        return;
    case Op::child_stdout:
    case Op::child_stderr:
        if (!children_.owns(index, user_data_reuse_tag(ud))) return report_stale(cqe, "child process");
        children_.on_output(index, user_data_op(ud) == Op::child_stderr, cqe.res, now_);
        return;
    case Op::mailbox:
        ++ring_mail_wakes_;
        return; // the loop takes its mail every turn (drain_mailbox); this completion only woke it
    case Op::mailbox_wake_failed:
        on_mail_wake_failed(cqe);
        return;
    }
    Connection* conn = connection_for(cqe);
    if (conn == nullptr) return;
    switch (user_data_op(ud)) {
    case Op::recv:
        on_recv(*conn, cqe);
        break;
    case Op::send:
        on_send(*conn, cqe);
        break;
    case Op::connect:
        on_connect_done(*conn, cqe);
        break;
    default:
        break;
    }
    maybe_release(*conn);
}

// A connection slot or listener slot is reused only after all its completions arrived, so a completion that
// finds its slot empty or serving another user means a bug, not a race: it is counted and logged, and
// dropped rather than handed to whoever holds the slot now.
Connection* Worker::connection_for(const io_uring_cqe& cqe)
{
    Connection* conn = live_connection(user_data_index(cqe.user_data), user_data_reuse_tag(cqe.user_data));
    if (conn == nullptr) report_stale(cqe, "connection");
    return conn;
}

ListenerSlot* Worker::slot_for(const io_uring_cqe& cqe)
{
    const uint32_t index = user_data_index(cqe.user_data);
    ListenerSlot* slot = index < slots_.size() ? slots_[index].get() : nullptr;
    if (slot == nullptr || !user_data_matches(cqe.user_data, slot->reuse_tag)) {
        report_stale(cqe, "listener");
        return nullptr;
    }
    return slot;
}

void Worker::report_stale(const io_uring_cqe& cqe, const char* what)
{
    stats_.stale_completions.add();
    spdlog::error("worker {}: dropped a completion for a {} slot that is gone or reused (slot {}, op {}, result {})",
                  options_.index, what, user_data_index(cqe.user_data), int(user_data_op(cqe.user_data)), cqe.res);
}

std::optional<std::chrono::nanoseconds> Worker::until_next_deadline()
{
    if (!mailbox_.looks_empty()) return std::chrono::nanoseconds(0); // e.g. a task this worker posted itself
    Clock::time_point wake = now_ + max_wait;
    auto earlier = [&wake](Clock::time_point t) {
        if (t < wake) wake = t;
    };
    if (auto t = timers_.next_deadline()) earlier(*t);
    if (child_deadline_) earlier(*child_deadline_);
    for (auto& slot : slots_) {
        if (!slot) continue;
        const auto idle = slot->listener->config().limits.idle_timeout;
        if (idle.count() > 0 && !slot->idle.empty()) earlier(slot->idle.front()->last_active + idle);
        if (!slot->awaiting_header.empty()) earlier(slot->awaiting_header.front()->proxied->deadline);
        if (slot->rearm_at) earlier(*slot->rearm_at);
        if (slot->drain_deadline) earlier(*slot->drain_deadline);
    }
    if (!closing_.empty()) earlier(closing_.front()->close_deadline);
    if (shutting_down_) earlier(shutdown_deadline_);
    return wake > now_ ? std::chrono::nanoseconds(wake - now_) : std::chrono::nanoseconds(0);
}

void Worker::run_due_timers()
{
    while (auto due = timers_.pop_due(now_)) {
        // Plain variables, not a structured binding: clang 14 (Debian 12) cannot capture one in the lambda below.
        const int64_t id = due->first;
        const TimerTarget target = due->second;
        if (target.instance != nullptr) {
            run_worker_timer(id, target);
            continue;
        }
        Connection* live = live_connection(target.conn_index, target.conn_reuse_tag);
        if (live == nullptr || live->torn_down()) continue;
        Connection& conn = *live;
        std::erase(conn.timers, id);
        const auto& d = conn.listener->plugin()->d();
        if (d.on_timer == nullptr) continue;
        void* instance = conn.listener->plugin()->instance();
        invoke(conn, PluginCallback::on_timer,
               [&] { d.on_timer(instance, reinterpret_cast<ringd_conn*>(&conn), id, target.arg); });
    }
}

void Worker::check_idle_and_deadlines()
{
    for (auto& slot_ptr : slots_) {
        if (!slot_ptr) continue;
        ListenerSlot& slot = *slot_ptr;
        const auto idle = slot.listener->config().limits.idle_timeout;
        while (idle.count() > 0 && !slot.idle.empty() && slot.idle.front()->last_active + idle <= now_) {
            Connection& conn = *slot.idle.front();
            if (conn.running_children > 0) {
                touch(conn); // waiting for its command is not idleness
            } else {
                request_close(conn, RINGD_CLOSE_IDLE);
            }
        }
        expire_header_waits(slot);
        if (slot.rearm_at && *slot.rearm_at <= now_) {
            slot.rearm_at.reset();
            if (!slot.retiring && slot.listener->is_datagram()) {
                arm_recvmsg(slot);
                stats_.recvmsg_rearms.add();
            } else if (!slot.retiring) {
                arm_accept(slot);
                stats_.accept_rearms.add();
            }
        }
        if (slot.drain_deadline && *slot.drain_deadline <= now_) {
            slot.drain_deadline.reset();
            while (!slot.idle.empty())
                teardown(*slot.idle.front(), RINGD_CLOSE_SHUTDOWN, true);
            while (!slot.awaiting_header.empty())
                teardown(*slot.awaiting_header.front(), RINGD_CLOSE_SHUTDOWN, true);
        }
    }
    while (!closing_.empty() && closing_.front()->close_deadline <= now_) {
        // It could not flush and say goodbye in time (the peer stopped reading): reset it.
        teardown(*closing_.front(), closing_.front()->close_reason, true);
    }
    if (shutting_down_ && now_ >= shutdown_deadline_) {
        for (auto& conn : connections_) {
            if (conn && !conn->torn_down()) teardown(*conn, RINGD_CLOSE_SHUTDOWN, true);
        }
        children_.kill_all();
    }
    for (auto& slot : slots_) {
        if (slot) free_slot_if_done(*slot);
    }
}

bool Worker::finished() const
{
    if (!shutting_down_) return false;
    if (live_connections_.load(std::memory_order_relaxed) != 0 || children_.running() != 0) return false;
    if (datagram_sender_.in_flight() != 0) return false;
    for (const auto& slot : slots_) {
        if (slot) return false;
    }
    for (const auto& conn : connections_) {
        if (conn) return false; // torn down but still owed completions
    }
    return true;
}

// ---- listener slots ----------------------------------------------------------------------------------------

ListenerSlot* Worker::slot_serving(const Listener* listener)
{
    for (auto& slot : slots_) {
        if (slot && !slot->retiring && slot->listener.get() == listener) return slot.get();
    }
    return nullptr;
}

void Worker::add_listener(const std::shared_ptr<Listener>& listener)
{
    if (shutting_down_) return;
    uint32_t index = 0;
    while (index < slots_.size() && slots_[index])
        ++index;
    if (index == slots_.size()) slots_.emplace_back();
    auto slot = std::make_unique<ListenerSlot>();
    slot->listener = listener;
    slot->index = index;
    slot->reuse_tag = next_reuse_tag_++ & reuse_tag_mask;
    slot->fd = listener->sockets()->fd_for_worker(options_.index);
    ListenerSlot& s = *slot;
    slots_[index] = std::move(slot);
    enter(listener); // on_worker_start (and on_handover) before anything is accepted for it here
    if (listener->is_datagram()) {
        datagram_buffers(); // allocate before the first recvmsg needs it
        arm_recvmsg(s);
    } else {
        arm_accept(s);
    }
}

void Worker::retire_listener(const Listener* listener, std::optional<Clock::time_point> drain_deadline)
{
    ListenerSlot* slot = slot_serving(listener);
    if (slot == nullptr) return;
    slot->retiring = true;
    slot->rearm_at.reset();
    slot->drain_deadline = drain_deadline;
    if (slot->armed) {
        cancel_op(make_user_data(listener->is_datagram() ? Op::recvmsg : Op::accept, slot->index, slot->reuse_tag));
    }
    free_slot_if_done(*slot);
}

void Worker::replace_listener(const Listener* old, const std::shared_ptr<Listener>& successor)
{
    ListenerSlot* slot = slot_serving(old);
    if (slot == nullptr) {
        add_listener(successor);
        return;
    }
    enter(successor); // the successor starts here (and takes over from `old`) before the slot is its
    const std::shared_ptr<Listener> predecessor = std::exchange(slot->listener, successor);
    leave_slot(*predecessor); // `old` stops here once its last connection here is released
}

void Worker::free_slot_if_done(ListenerSlot& slot)
{
    if (!slot.retiring || slot.armed || slot.connections != 0) return;
    leave_slot(*slot.listener);
    slots_[slot.index].reset(); // drops this worker's reference to the Listener (and maybe its sockets)
}

void Worker::begin_shutdown(Clock::time_point deadline)
{
    if (shutting_down_) return;
    shutting_down_ = true;
    shutdown_deadline_ = deadline;
    for (auto& slot : slots_) {
        if (slot && !slot->retiring) retire_listener(slot->listener.get(), std::nullopt);
    }
    for (auto& conn : connections_) {
        if (conn && !conn->closing()) request_close(*conn, RINGD_CLOSE_SHUTDOWN); // open or connecting
    }
}

void Worker::cancel_op(uint64_t user_data)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_cancel64(sqe, user_data, 0);
    io_uring_sqe_set_data64(sqe, make_user_data(Op::ignore, 0));
}

void Worker::close_fd_async(int fd)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_close(sqe, fd);
    io_uring_sqe_set_data64(sqe, make_user_data(Op::ignore, 0));
}

} // namespace ringd::engine
