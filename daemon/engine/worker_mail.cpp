// A worker's mailbox (ABI 1.1): send_to, close_id, post and post_worker, called on any thread, become messages
// in the target worker's mailbox (mailbox.hpp), which that worker applies in its own loop. Nothing here touches
// another worker's state: other threads only push messages and read the live-id table (live_connections.hpp).
//
// Waking the target. From another worker's thread: an IORING_OP_MSG_RING SQE on the sender's own ring posts a
// completion (Op::mailbox) into the target's ring. It goes out with the sender's next submission, so it costs
// no system call of its own; it carries IOSQE_CQE_SKIP_SUCCESS, so the sender only sees a completion when it
// failed (Op::mailbox_wake_failed, e.g. the target's ring is not enabled yet), and then writes the target's
// eventfd instead. From any other thread (the main thread, a plugin's own), the eventfd is written at once. The
// mailbox lets one wake through per batch (Mailbox::claim_wake). A worker posting to itself needs no wake: its
// loop does not sleep while its mailbox holds anything. Whatever happens to a wake, the loop also looks at the
// mailbox every turn, and turns at least once a second.
#include "engine/user_data.hpp"
#include "engine/worker.hpp"
#include "engine/worker_directory.hpp"
#include "engine/worker_invoke.hpp"
#include "plugin_host/plugin.hpp"

#include <cerrno>
#include <cstring>
#include <new>
#include <spdlog/spdlog.h>

namespace ringd::engine {

namespace {

// A plugin's own thread must never drop what may be the last reference to an instance: destroy() would run on
// it, and plugin.h promises a ringd thread (a plugin typically joins its threads in destroy()). A reference a
// failed post leaves in such a thread's hands goes to the worker's command queue, and is dropped there (or with
// the worker, on the main thread).
void let_go(Worker& worker, std::shared_ptr<plugin_host::PluginInstance> instance)
{
    if (!instance || Worker::current() != nullptr) return;
    try {
        worker.post([keep = std::move(instance)](Worker&) {});
    } catch (...) {
        // Out of memory: nothing better to do than to let it go here.
    }
}

void free_message(void*, void* message)
{
    MessageDeleter{}(static_cast<Message*>(message));
}

} // namespace

// ---- connection ids (worker thread) ----------------------------------------------------------------------------

// Picks a connection slot for `conn` and gives it the slot's next id. False when all conn_slot_limit slot
// indexes are in use or retired.
bool Worker::assign_slot(Connection& conn)
{
    uint32_t index;
    if (!free_connection_indexes_.empty()) {
        index = free_connection_indexes_.back();
        free_connection_indexes_.pop_back();
    } else {
        if (connections_.size() >= conn_slot_limit) return false;
        index = uint32_t(connections_.size());
        connections_.emplace_back();
        slot_uses_.push_back(0);
    }
    conn.index = index;
    conn.id = make_conn_id(options_.index, index, ++slot_uses_[index]);
    return true;
}

// Tells other threads (send_to, close_id, post) whether the connection is still there and takes output.
void Worker::publish_state(const Connection& conn)
{
    LiveState state = LiveState::writable;
    if (conn.torn_down() || conn.phase == Phase::awaiting_header) { // no plugin has its id yet
        state = LiveState::gone;
    } else if (conn.closing() || conn.write != WriteSide::open) {
        state = LiveState::closing;
    }
    live_.publish(conn.id, state);
}

// ---- the senders' side (any thread) -------------------------------------------------------------------------

int Worker::send_to(ringd_conn_id id, const void* data, size_t len)
{
    switch (live_.state(id)) {
    case LiveState::gone:
        return -ENOENT;
    case LiveState::closing:
        return -EPIPE;
    case LiveState::writable:
        break;
    }
    if (current() == this) {
        Connection* conn = connection_by_id(id);
        return conn != nullptr ? send(*conn, data, len) : -ENOENT;
    }
    if (len > mailbox_capacity) return -ENOBUFS; // could never fit
    MessagePtr message = Message::make(MessageKind::send, len);
    message->target = id;
    if (len != 0) std::memcpy(message->payload(), data, len);
    const int rc = deliver(std::move(message));
    return rc == -ESHUTDOWN ? -ENOENT : rc; // the loop has ended: every connection of this worker is gone
}

int Worker::close_id(ringd_conn_id id, uint32_t flags)
{
    if (live_.state(id) == LiveState::gone) return -ENOENT;
    if (current() == this) {
        Connection* conn = connection_by_id(id);
        return conn != nullptr && !conn->torn_down() ? close(*conn, flags) : -ENOENT;
    }
    MessagePtr message = Message::make(MessageKind::close);
    message->target = id;
    message->close_flags = flags;
    const int rc = deliver(std::move(message));
    return rc == -ESHUTDOWN ? -ENOENT : rc;
}

int Worker::post_conn_task(std::shared_ptr<plugin_host::PluginInstance> instance, ringd_conn_id id,
                           ringd_conn_task_fn fn, void* arg)
{
    if (live_.state(id) == LiveState::gone) {
        let_go(*this, std::move(instance));
        return -ENOENT;
    }
    MessagePtr message;
    try {
        message = Message::make(MessageKind::conn_task);
    } catch (const std::bad_alloc&) {
        let_go(*this, std::move(instance));
        return -ENOMEM;
    }
    message->target = id;
    message->instance = std::move(instance);
    message->conn_task = fn;
    message->arg = arg;
    const int rc = deliver(std::move(message));
    return rc == -ESHUTDOWN ? -ENOENT : rc; // the loop has ended: every connection of this worker is gone
}

int Worker::post_worker_task(std::shared_ptr<plugin_host::PluginInstance> instance, ringd_worker_task_fn fn, void* arg)
{
    MessagePtr message;
    try {
        message = Message::make(MessageKind::worker_task);
    } catch (const std::bad_alloc&) {
        let_go(*this, std::move(instance));
        return -ENOMEM;
    }
    message->instance = std::move(instance);
    message->worker_task = fn;
    message->arg = arg;
    return deliver(std::move(message));
}

// 0, -ENOBUFS (mailbox full) or -ESHUTDOWN (the loop has ended). On failure the message is dropped here, its
// instance reference handed on as let_go() says.
int Worker::deliver(MessagePtr message)
{
    switch (mailbox_.push(message)) {
    case Mailbox::Push::ok:
        if (mailbox_.claim_wake()) wake_for_mail();
        return 0;
    case Mailbox::Push::full:
        let_go(*this, std::move(message->instance));
        return -ENOBUFS;
    case Mailbox::Push::closed:
        let_go(*this, std::move(message->instance));
        return -ESHUTDOWN;
    }
    return -EINVAL;
}

void Worker::wake_for_mail()
{
    Worker* sender = current();
    if (sender == this) return; // this loop takes its mail before it next sleeps (until_next_deadline)
    if (sender != nullptr) {
        try {
            sender->queue_mail_wake(*this);
            return;
        } catch (...) {
            // The sender's ring refused the SQE: the eventfd still works.
        }
    }
    wake_by_eventfd();
}

void Worker::queue_mail_wake(Worker& target)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_msg_ring(sqe, target.ring_.fd(), 0, make_user_data(Op::mailbox, 0), 0);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, make_user_data(Op::mailbox_wake_failed, target.index()));
}

void Worker::wake_by_eventfd()
{
    const uint64_t one = 1;
    // A full eventfd counter (impossible in practice) still leaves a wake-up pending, so ignoring is safe.
    [[maybe_unused]] ssize_t n = ::write(wake_fd_.get(), &one, sizeof one);
}

// ---- the worker's side ---------------------------------------------------------------------------------------

// A completion on this ring: a MSG_RING wake this worker sent failed (cqe.res says why).
void Worker::on_mail_wake_failed(const io_uring_cqe& cqe)
{
    spdlog::debug("worker {}: waking worker {} through its ring failed ({}); using its eventfd", options_.index,
                  user_data_index(cqe.user_data), std::strerror(-cqe.res));
    if (Worker* target = WorkerDirectory::find(user_data_index(cqe.user_data))) target->wake_by_eventfd();
}

void Worker::drain_mailbox()
{
    mailbox_.clear_wake(); // before looking: whoever pushes after this look wakes us again
    if (mailbox_.looks_empty()) return;
    MessageBatch batch = mailbox_.take_all();
    while (!batch.empty())
        apply(batch.pop());
}

Connection* Worker::connection_by_id(ringd_conn_id id)
{
    if (conn_id_worker(id) != options_.index || !conn_id_well_formed(id)) return nullptr;
    const uint32_t index = conn_id_slot(id);
    if (index >= connections_.size() || !connections_[index]) return nullptr;
    Connection* conn = connections_[index].get();
    return conn->id == id && conn->phase != Phase::awaiting_header ? conn : nullptr;
}

void Worker::apply(MessagePtr message)
{
    Message& m = *message;
    Connection* conn = m.kind == MessageKind::worker_task ? nullptr : connection_by_id(m.target);
    if (conn != nullptr && conn->torn_down()) conn = nullptr;
    switch (m.kind) {
    case MessageKind::send:
        // A connection that went away or began closing while the bytes were on their way drops them.
        if (conn == nullptr || conn->closing() || conn->write != WriteSide::open) return;
        if (m.len >= SegmentPool::block_size) {
            // Big enough not to be worth a copy: the message itself joins the output queue.
            conn->out.append_owned(m.payload(), m.len, &free_message, message.release());
            touched(*conn);
        } else {
            (void)send(*conn, m.payload(), m.len);
        }
        return;
    case MessageKind::close:
        if (conn != nullptr) (void)close(*conn, m.close_flags);
        return;
    case MessageKind::conn_task: {
        if (conn == nullptr) return run_orphaned(m);
        void* instance = m.instance->instance();
        invoke(*conn, m.instance->call_target(), PluginCallback::conn_task,
               [&] { m.conn_task(instance, reinterpret_cast<ringd_conn*>(conn), m.arg); });
        return;
    }
    case MessageKind::worker_task: {
        const InstancePresence* presence = presence_of(m.instance.get());
        if (presence == nullptr || presence->stopping) return run_orphaned(m);
        void* instance = m.instance->instance();
        (void)plugin_host::plugin_call_failed(m.instance->call_target(), PluginCallback::worker_task,
                                              [&] { m.worker_task(instance, m.arg, 0); });
        return;
    }
    }
}

// A task whose connection is gone (conn NULL), or whose instance does not serve on this worker (-ESRCH): it
// still runs, exactly once, so the plugin can free its argument.
void Worker::run_orphaned(Message& m)
{
    if (m.kind != MessageKind::conn_task && m.kind != MessageKind::worker_task) return;
    void* instance = m.instance->instance();
    (void)plugin_host::plugin_call_failed(
        m.instance->call_target(),
        m.kind == MessageKind::conn_task ? PluginCallback::conn_task : PluginCallback::worker_task, [&] {
            if (m.kind == MessageKind::conn_task) {
                m.conn_task(instance, nullptr, m.arg);
            } else {
                m.worker_task(instance, m.arg, -ESRCH);
            }
        });
}

// The loop has ended: what is still in the mailbox runs as orphaned, and later pushes are refused.
void Worker::close_mailbox()
{
    MessageBatch rest = mailbox_.close();
    while (!rest.empty()) {
        MessagePtr m = rest.pop();
        run_orphaned(*m);
    }
}

} // namespace ringd::engine
