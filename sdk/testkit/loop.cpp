// The kit's "event loop": what a worker does between the steps a test scripts. Settling touched connections,
// delivering the messages that simulated threads send each other (FIFO per worker, as through a worker's
// ring), virtual time and its timers, and the reports (logs, misuse, failures) a test reads afterwards.
#include "invoke.hpp"

#include <algorithm>
#include <utility>

namespace ringd::testkit::detail {

namespace {

// A step that needs more rounds than this is a plugin that keeps itself busy (a task that posts itself, a
// 0 ms timer that restarts itself): the daemon would spin too. Better a clear error than a hung test.
constexpr std::size_t kMaxRoundsPerStep = 1'000'000;
constexpr uint64_t kYearMs = 365ull * 24 * 3600 * 1000; // plugin.h: a longer delay counts as a year

} // namespace

// ---- steps --------------------------------------------------------------------------------------------------

KitState::Step::Step(KitState& kit, bool allowed_after_stop) : kit_(kit)
{
    if (kit.in_step_) {
        throw std::logic_error("a Kit step was called from inside another (a spawn responder must only decide)");
    }
    if (kit.stopped_ && !allowed_after_stop) throw std::logic_error("the Kit has stopped");
    kit.in_step_ = true;
}

void KitState::Step::finish()
{
    kit_.pump();
    kit_.finish_step();
}

void KitState::finish_step()
{
    if (test_failure_) std::rethrow_exception(std::exchange(test_failure_, nullptr));
    if (!options_.throw_on_misuse) return;
    std::lock_guard lock(shared_mutex_);
    if (misuses_reported_ == misuses_.size()) return;
    std::string what = "plugin misuse: " + misuses_[misuses_reported_];
    if (misuses_.size() - misuses_reported_ > 1) {
        what += " (and " + std::to_string(misuses_.size() - misuses_reported_ - 1) + " more: Kit::misuses())";
    }
    misuses_reported_ = misuses_.size();
    throw Misuse(what);
}

void KitState::pump()
{
    for (std::size_t round = 0;; ++round) {
        if (round == kMaxRoundsPerStep) {
            throw std::runtime_error("the plugin kept the kit busy for " + std::to_string(round) +
                                     " rounds in one step (a task or callback that keeps re-queueing itself?)");
        }
        if (!touched_.empty()) {
            Conn& c = *touched_.front();
            touched_.pop_front();
            c.touched = false;
            settle(c);
            continue;
        }
        if (options_.deliver_after_each_step && !stopped_) {
            take_inbox();
            if (deliver_one()) continue;
        }
        return;
    }
}

void KitState::run_messages()
{
    for (std::size_t round = 0;; ++round) {
        if (round == kMaxRoundsPerStep) {
            throw std::runtime_error("the plugin kept the kit busy for " + std::to_string(round) +
                                     " rounds in run() (a task that keeps re-posting itself?)");
        }
        if (!touched_.empty()) {
            Conn& c = *touched_.front();
            touched_.pop_front();
            c.touched = false;
            settle(c);
            continue;
        }
        take_inbox();
        if (!deliver_one()) return;
    }
}

// ---- messages -----------------------------------------------------------------------------------------------

void KitState::enqueue(uint32_t worker, Message message)
{
    queues_[worker].push_back(std::move(message));
}

int KitState::push_foreign(ForeignMessage message)
{
    if (stopped_) return -ESHUTDOWN;
    Instance* inst = nullptr;
    if (auto* task = std::get_if<ConnTask>(&message.message)) inst = task->inst;
    if (auto* task = std::get_if<WorkerTask>(&message.message)) inst = task->inst;
    if (inst != nullptr) {
        if (inst->destroyed) {
            misuse("a task posted from a plugin thread for an instance already destroyed");
            return -EINVAL;
        }
        ++inst->pending_tasks; // now, on the posting thread: the instance must outlive the task
    }
    std::lock_guard lock(shared_mutex_);
    inbox_.push_back(std::move(message));
    return 0;
}

void KitState::take_inbox()
{
    std::vector<ForeignMessage> inbox;
    {
        std::lock_guard lock(shared_mutex_);
        inbox.swap(inbox_);
    }
    for (ForeignMessage& m : inbox) {
        uint32_t worker = 0;
        if (m.worker) {
            worker = *m.worker;
        } else {
            const ringd_conn_id id = std::visit(
                [](const auto& msg) -> ringd_conn_id {
                    if constexpr (requires { msg.id; }) return msg.id;
                    return 0;
                },
                m.message);
            worker = find(id)->worker; // push_foreign() took only ids this kit issued
        }
        enqueue(worker, std::move(m.message));
    }
}

bool KitState::deliver_one()
{
    const auto workers = static_cast<uint32_t>(queues_.size());
    for (uint32_t i = 0; i < workers; ++i) {
        const uint32_t w = (next_queue_ + i) % workers;
        if (queues_[w].empty()) continue;
        Message message = std::move(queues_[w].front());
        queues_[w].pop_front();
        next_queue_ = (w + 1) % workers;
        deliver(w, message);
        return true;
    }
    return false;
}

void KitState::deliver(uint32_t worker, Message& message)
{
    if (auto* m = std::get_if<SendTo>(&message)) {
        Conn* c = find(m->id);
        // Bytes for a connection that went away (or began closing) on the way are dropped, as documented.
        if (c != nullptr && !c->torn_down() && !c->closing() && c->write == WriteSide::open) {
            c->out.append_copy(m->bytes.data(), m->bytes.size());
            touch(*c);
        }
    } else if (auto* m = std::get_if<CloseId>(&message)) {
        if (Conn* c = find(m->id); c != nullptr && !c->torn_down()) (void)close(*c, m->flags);
    } else if (auto* m = std::get_if<ConnTask>(&message)) {
        Instance& inst = *m->inst;
        Conn* c = find(m->id);
        if (c != nullptr && !c->torn_down()) {
            invoke_conn(*c, "a posted task", [&] { m->fn(inst.instance, c->handle(), m->arg); });
        } else {
            invoke_on(inst, worker, "a posted task", "logged", [&] { m->fn(inst.instance, nullptr, m->arg); });
        }
        --inst.pending_tasks;
        maybe_destroy(inst);
    } else if (auto* m = std::get_if<WorkerTask>(&message)) {
        Instance& inst = *m->inst;
        const int status = inst.serving[worker] ? 0 : -ESRCH;
        invoke_on(inst, worker, "a worker task", "logged", [&] { m->fn(inst.instance, m->arg, status); });
        --inst.pending_tasks;
        maybe_destroy(inst);
    } else if (auto* m = std::get_if<SpawnDone>(&message)) {
        // A connection that closed first never hears of its child (plugin.h).
        if (Conn* c = find(m->id); c != nullptr && !c->torn_down()) deliver_spawn(*c, m->spawn, m->result);
    }
}

// ---- virtual time -------------------------------------------------------------------------------------------

int64_t KitState::add_timer(Timer timer)
{
    timer.id = next_timer_id_++;
    timer.due = now_ + std::min(timer.delay, kYearMs);
    timer_due_[timer.id] = timer.due;
    timers_.emplace(std::make_pair(timer.due, timer.id), timer);
    return timer.id;
}

bool KitState::cancel_timer(int64_t id)
{
    auto it = timer_due_.find(id);
    if (it == timer_due_.end()) return false;
    timers_.erase({it->second, id});
    timer_due_.erase(it);
    return true;
}

std::optional<uint64_t> KitState::next_deadline() const
{
    std::optional<uint64_t> next;
    if (!timers_.empty()) next = timers_.begin()->first.first;
    if (options_.idle_timeout_ms > 0) {
        for (const auto& c : conns_) {
            if (c->phase != Phase::open || c->running_children > 0) continue;
            const uint64_t due = c->last_active + options_.idle_timeout_ms;
            if (!next || due < *next) next = due;
        }
    }
    return next;
}

void KitState::advance(uint64_t ms)
{
    const uint64_t target = ms > UINT64_MAX - now_ ? UINT64_MAX : now_ + ms;
    for (std::size_t round = 0;; ++round) {
        if (round == kMaxRoundsPerStep) throw std::runtime_error("more than a million timers fired in one advance()");
        const std::optional<uint64_t> due = next_deadline();
        if (!due || *due > target) break;
        now_ = std::max(now_, *due);
        fire_due(now_);
        pump();
    }
    now_ = target;
}

bool KitState::advance_to_next_timer()
{
    if (timers_.empty()) return false;
    advance(timers_.begin()->first.first - now_);
    return true;
}

// Fires one thing due at `at`: the soonest timer, or else the idle timeouts.
void KitState::fire_due(uint64_t at)
{
    if (!timers_.empty() && timers_.begin()->first.first <= at) {
        const Timer timer = timers_.begin()->second;
        timers_.erase(timers_.begin());
        timer_due_.erase(timer.id);
        fire(timer);
        return;
    }
    check_idle(at);
}

void KitState::fire(const Timer& timer)
{
    switch (timer.kind) {
    case TimerKind::connection: {
        Conn& c = *timer.conn;
        std::erase(c.timers, timer.id);
        if (c.torn_down() || c.inst->d().on_timer == nullptr) return;
        invoke_conn(c, "on_timer", [&] { c.inst->d().on_timer(c.inst->instance, c.handle(), timer.id, timer.arg); });
        return;
    }
    case TimerKind::worker: {
        Instance& inst = *timer.inst;
        if (!inst.serving[timer.worker] || inst.d().on_worker_timer == nullptr) return;
        invoke_on(inst, timer.worker, "on_worker_timer", "logged",
                  [&] { inst.d().on_worker_timer(inst.instance, timer.id, timer.arg); });
        return;
    }
    case TimerKind::connect_timeout:
        timer.conn->connect_timer = 0;
        if (timer.conn->phase == Phase::connecting) connect_outcome(*timer.conn, -ETIMEDOUT);
        return;
    }
}

void KitState::check_idle(uint64_t at)
{
    if (options_.idle_timeout_ms == 0) return;
    for (const auto& c : conns_) {
        if (c->phase != Phase::open || c->running_children > 0) continue;
        if (c->last_active + options_.idle_timeout_ms <= at) {
            mark_closing(*c, RINGD_CLOSE_IDLE);
            touch(*c);
        }
    }
}

std::vector<TimerInfo> KitState::timers_of(const Conn& c) const
{
    std::vector<TimerInfo> result;
    for (const int64_t id : c.timers) {
        const Timer& t = timers_.at({timer_due_.at(id), id});
        result.push_back({t.id, t.due, t.delay, t.arg});
    }
    std::sort(result.begin(), result.end(), [](const TimerInfo& a, const TimerInfo& b) {
        return a.due_ms != b.due_ms ? a.due_ms < b.due_ms : a.id < b.id;
    });
    return result;
}

// ---- reports --------------------------------------------------------------------------------------------------

void KitState::log(ringd_log_level level, std::string listener, std::string message)
{
    std::lock_guard lock(shared_mutex_);
    logs_.push_back({level, std::move(listener), std::move(message)});
}

void KitState::misuse(const std::string& what)
{
    try {
        log(RINGD_LOG_ERROR, "ringd-testkit", "plugin misuse: " + what);
        std::lock_guard lock(shared_mutex_);
        misuses_.push_back(what);
    } catch (...) {
    }
}

void KitState::failed(std::exception_ptr error) noexcept
{
    if (!test_failure_) test_failure_ = std::move(error);
}

void KitState::plugin_failed(const Instance& inst, const char* callback, std::exception_ptr error,
                             const char* consequence)
{
    std::string what = "a non-standard exception";
    try {
        std::rethrow_exception(std::move(error));
    } catch (const std::exception& e) {
        what = e.what();
    } catch (...) {
    }
    log(RINGD_LOG_ERROR, "ringd-testkit",
        "[" + options_.listener_name + "] plugin " + inst.d().name + " (" + inst.library->origin + ") " + callback +
            " threw: " + what + "; " + consequence);
}

std::vector<LogLine> KitState::logs() const
{
    std::lock_guard lock(shared_mutex_);
    return logs_;
}

void KitState::clear_logs()
{
    std::lock_guard lock(shared_mutex_);
    logs_.clear();
}

std::vector<std::string> KitState::misuses() const
{
    std::lock_guard lock(shared_mutex_);
    return misuses_;
}

} // namespace ringd::testkit::detail
