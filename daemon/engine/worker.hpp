// Worker: one thread, one io_uring, and every connection and listener slot that thread serves.
//
// The loop (worker.cpp) waits in io_uring until a completion arrives or the earliest timer is due, routes
// each completion by its user_data (user_data.hpp) to a handler (worker_stream.cpp for TCP/Unix,
// worker_datagram.cpp for UDP, child_processes.cpp for spawned commands), then runs due timers, idle
// timeouts and close deadlines. Nothing here is shared with other threads except the command queue
// (post()), the mailbox (plugin messages and tasks from any thread, ABI 1.1: worker_mail.cpp), the table of
// live connection ids, and a few atomics read for status and the watchdog.
#pragma once

#include "engine/buffer_ring.hpp"
#include "engine/child_processes.hpp"
#include "engine/connection.hpp"
#include "engine/datagram_sender.hpp"
#include "engine/live_connections.hpp"
#include "engine/mailbox.hpp"
#include "engine/ring.hpp"
#include "engine/worker_stats.hpp"
#include "util/unique_fd.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::engine {

struct WorkerOptions {
    unsigned index = 0;
    unsigned worker_count = 1;
    std::chrono::milliseconds shutdown_timeout{5000}; // how long a closing connection may take to flush and FIN
    unsigned stream_buffers = 2048;                   // provided buffers for stream recv (power of two)
    unsigned stream_buffer_size = 4096;
    unsigned datagram_buffers = 256;          // provided buffers for recvmsg (power of two)
    service::AccessLog* access_log = nullptr; // where records of access_log listeners go; none if null
};

// What the plugin sees as ringd_datagram*: valid during one on_datagram call.
struct DatagramContext {
    Worker* worker;
    ListenerSlot* slot;
    const sockaddr* peer;
    socklen_t peer_len;
};

class Worker {
public:
    explicit Worker(const WorkerOptions& options); // creates the ring; throws if io_uring is unusable
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Thread body; returns after begin_shutdown() once every connection is gone.
    void run();

    // Runs `command` on the worker thread soon. Callable from any thread.
    void post(std::function<void(Worker&)> command);

    // -- commands (worker thread) --
    void add_listener(const std::shared_ptr<Listener>& listener);
    // Stops accepting on `listener`. Its connections go on; when `drain_deadline` is set, those still open
    // then are closed (listener removed from the config).
    void retire_listener(const Listener* listener, std::optional<Clock::time_point> drain_deadline);
    // A reload changed `old`'s settings but not its address: `successor` takes over the same slot and its
    // armed accept; connections already open stay with `old`.
    void replace_listener(const Listener* old, const std::shared_ptr<Listener>& successor);
    void begin_shutdown(Clock::time_point deadline);
    void set_shutdown_timeout(std::chrono::milliseconds timeout) { options_.shutdown_timeout = timeout; }

    // -- observation (any thread) --
    [[nodiscard]] unsigned index() const { return options_.index; }
    [[nodiscard]] uint32_t live_connections() const { return live_connections_.load(std::memory_order_relaxed); }
    [[nodiscard]] int64_t heartbeat_ns() const { return heartbeat_ns_.load(std::memory_order_relaxed); }
    // The plugin call this worker's thread is running, if any (read by the StallDetector).
    [[nodiscard]] const plugin_host::PluginCallRecord& call_record() const { return call_record_; }
    // Plugin callbacks that blocked this worker for longer than the stall threshold (counted by the
    // StallDetector, which notices them).
    [[nodiscard]] uint64_t plugin_stalls() const { return plugin_stalls_.load(std::memory_order_relaxed); }
    void count_plugin_stall() { plugin_stalls_.fetch_add(1, std::memory_order_relaxed); }
    // Its io_uring, buffer ring and loop counters (docs/metrics.md), read from any thread.
    [[nodiscard]] WorkerReading reading() const;
    // Why the loop stopped on its own, if it did: its ring failed, or an exception escaped it. The connections
    // it served are gone with it, so the supervisor stops ringd with a failure exit status (systemd restarts
    // it) instead of running on with a dead worker.
    [[nodiscard]] std::optional<std::string> failure() const;

    // -- host services for plugins (worker thread, from inside a callback of `conn`) --
    int send(Connection& conn, const void* data, size_t len);
    int send_owned(Connection& conn, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx);
    uint8_t* send_reserve(Connection& conn, size_t len);
    void send_commit(Connection& conn, size_t used);
    int close(Connection& conn, uint32_t flags);
    int shutdown_write(Connection& conn);
    int pause_reading(Connection& conn);
    int resume_reading(Connection& conn);
    int64_t timer_start(Connection& conn, uint64_t delay_ms, void* arg);
    int timer_cancel(Connection& conn, int64_t id);
    int send_datagram(DatagramContext& ctx, const void* data, size_t len, const sockaddr* to, socklen_t to_len);
    int spawn(Connection& conn, const ringd_spawn_request& request, ringd_spawn_done_fn done, void* ctx);

    // ---- ABI 1.1 host services (all but outbound connections) ----
    // Bytes of messages (payload plus header) a worker's mailbox holds before send_to, close_id, post and
    // post_worker aimed at it are refused with -ENOBUFS.
    static constexpr std::size_t mailbox_capacity = std::size_t(16) << 20;
    // Any thread (worker_mail.cpp). Each returns 0 or a negative errno as documented in plugin.h; on the
    // connection's own worker, send_to and close_id act at once like send and close.
    int send_to(ringd_conn_id id, const void* data, size_t len);
    int close_id(ringd_conn_id id, uint32_t flags);
    int post_conn_task(std::shared_ptr<plugin_host::PluginInstance> instance, ringd_conn_id id, ringd_conn_task_fn fn,
                       void* arg);
    int post_worker_task(std::shared_ptr<plugin_host::PluginInstance> instance, ringd_worker_task_fn fn, void* arg);
    // Worker thread (worker_presence.cpp, worker_stream.cpp).
    [[nodiscard]] Connection* connection_by_id(ringd_conn_id id);
    int for_each_connection(const plugin_host::PluginInstance& instance, int (*fn)(void*, ringd_conn*), void* ctx);
    int64_t worker_timer_start(const plugin_host::PluginInstance& instance, uint64_t delay_ms, void* arg);
    int worker_timer_cancel(const plugin_host::PluginInstance& instance, int64_t id);
    int notify_output_below(Connection& conn, size_t low_water);
    // -- outbound connections (worker_outbound.cpp; worker thread, any callback or task of the instance) --
    // host->connect for the plugin instance whose handle is `self`, on the slot that serves it on this worker.
    int connect(const ringd_listener* self, const ringd_connect_request& request, ringd_conn** out);

    // The worker index of the calling thread (for ringd_host.worker_index).
    [[nodiscard]] static uint32_t current_index();
    // The worker whose loop runs on the calling thread; nullptr on any other thread (main, a plugin's own).
    [[nodiscard]] static Worker* current();

    // Used by ChildProcesses to deliver a finished command to its connection.
    void deliver_spawn_result(uint32_t conn_index, uint32_t conn_reuse_tag, ringd_spawn_done_fn done, void* ctx,
                              const ringd_spawn_result& result);
    [[nodiscard]] Ring& ring() { return ring_; }

private:
    friend class WorkerTestAccess;

    // After EMFILE/ENFILE on accept, wait this long before accepting again instead of spinning.
    static constexpr auto accept_backoff = std::chrono::milliseconds(100);

    // worker.cpp: loop, commands, timers
    void start_loop();
    void turn();
    [[nodiscard]] bool survive_ring_error(int err);
    void fail(const std::string& why);
    void arm_wake();
    void run_commands();
    void dispatch(const io_uring_cqe& cqe);
    void run_due_timers();
    void check_idle_and_deadlines();
    // How long the loop may sleep: until the earliest timer, idle, close, drain or child deadline (at most
    // max_wait). Changes nothing but the timer heap's lazily dropped cancelled entries.
    [[nodiscard]] std::optional<std::chrono::nanoseconds> until_next_deadline();
    [[nodiscard]] bool finished() const;
    ListenerSlot* slot_serving(const Listener* listener);
    void free_slot_if_done(ListenerSlot& slot);

    // worker_accept.cpp: accepting, admission checks, the PROXY protocol header
    void arm_accept(ListenerSlot& slot);
    void on_accept(ListenerSlot& slot, const io_uring_cqe& cqe);
    void open_connection(ListenerSlot& slot, int fd);
    [[nodiscard]] std::optional<Refusal> admit_client(const Listener& listener, const service::SocketAddress& client,
                                                      std::optional<limits::SourceKey>& source);
    void refuse_at_accept(Listener& listener, int fd, Refusal refusal, const service::SocketAddress* peer);
    void open_for_plugin(Connection& conn, const service::SocketAddress* peer);
    void on_header_bytes(Connection& conn, const uint8_t* data, size_t len);
    void header_complete(Connection& conn, proxy_protocol::ProxyHeader& header);
    void reject_header(Connection& conn, ProxyRejection why, std::string_view detail);
    void expire_header_waits(ListenerSlot& slot);
    void warn_header_rejected(const Listener& listener, const service::SocketAddress& peer, std::string_view why);

    // worker_stream.cpp: stream connections
    // A new Connection for `fd` on `slot` (its current listener generation): `open`, in the slot's idle list, or
    // `awaiting_header`, in its awaiting_header list; nullptr when this worker has no connection slot left
    // (conn_slot_limit): the caller still owns `fd`.
    [[nodiscard]] Connection* add_connection(ListenerSlot& slot, int fd, Phase phase);
    void arm_recv(Connection& conn);
    void on_recv(Connection& conn, const io_uring_cqe& cqe);
    void on_send(Connection& conn, const io_uring_cqe& cqe);
    void on_peer_fin(Connection& conn);
    void deliver_peer_fin(Connection& conn);
    void deliver_data(Connection& conn, const uint8_t* data, size_t len);
    [[nodiscard]] bool deliver_held(Connection& conn);
    void settle(Connection& conn);
    void touched(Connection& conn);
    void settle_touched();
    void flush(Connection& conn);
    void update_reading(Connection& conn);
    [[nodiscard]] bool nothing_to_read(Connection& conn);
    void mark_closing(Connection& conn, ringd_close_reason reason);
    void mark_aborting(Connection& conn, ringd_close_reason reason);
    void request_close(Connection& conn, ringd_close_reason reason);
    void teardown(Connection& conn, ringd_close_reason reason, bool abort);
    void maybe_release(Connection& conn);
    void release_torn_down();
    void touch(Connection& conn);
    [[nodiscard]] bool assign_slot(Connection& conn);
    void publish_state(const Connection& conn);
    void cancel_op(uint64_t user_data);
    void close_fd_async(int fd);
    // The connection or listener slot a completion belongs to, or nullptr (logged) for one whose slot is gone
    // or serves another user now.
    [[nodiscard]] Connection* connection_for(const io_uring_cqe& cqe);
    [[nodiscard]] ListenerSlot* slot_for(const io_uring_cqe& cqe);
    [[nodiscard]] Connection* live_connection(uint32_t index, uint32_t reuse_tag);
    void report_stale(const io_uring_cqe& cqe, const char* what);
    template <class F> void invoke(Connection& conn, plugin_host::PluginCallback what, F&& callback);
    template <class F>
    void invoke(Connection& conn, const plugin_host::PluginCallTarget& target, plugin_host::PluginCallback what,
                F&& callback);

    // worker_outbound.cpp: outbound connections
    [[nodiscard]] ListenerSlot* slot_of_instance(const ringd_listener* self);
    void arm_connect(Connection& conn);
    void on_connect_done(Connection& conn, const io_uring_cqe& cqe);
    void connect_established(Connection& conn);
    void connect_failed(Connection& conn, int error);
    void abandon_connect(Connection& conn, ringd_close_reason reason); // teardown while on_connect is owed
    void tell_connect_abandoned(Connection& conn, ringd_close_reason reason);
    void outbound_closed(Connection& conn);

    // worker_access.cpp: access log records (none unless the listener has access_log on)
    [[nodiscard]] bool access_logged(const Listener& listener) const;
    // A record for a connection refused at accept, before it was a Connection; `peer` if already known.
    // `local` if not the socket's own (a PROXY header's destination).
    void log_refused(const Listener& listener, int fd, service::AccessReason reason,
                     const service::SocketAddress* peer = nullptr, const service::SocketAddress* local = nullptr);
    void start_access_record(Connection& conn, const service::SocketAddress* peer);
    void start_outbound_record(Connection& conn, const sockaddr* address, socklen_t address_len);
    void note_outbound_established(Connection& conn);
    void note_teardown(Connection& conn, ringd_close_reason reason);
    void submit_access_record(Connection& conn);

    // worker_datagram.cpp: datagram listeners
    void arm_recvmsg(ListenerSlot& slot);
    void on_recvmsg(ListenerSlot& slot, const io_uring_cqe& cqe);
    void deliver_datagram(ListenerSlot& slot, const io_uring_cqe& cqe);
    BufferRing& datagram_buffers();

    // worker_mail.cpp: the mailbox (ABI 1.1 messages and tasks from any thread)
    [[nodiscard]] int deliver(MessagePtr message);
    void wake_for_mail();
    void queue_mail_wake(Worker& target); // on this worker's ring: IORING_OP_MSG_RING to `target`
    void wake_by_eventfd();
    void on_mail_wake_failed(const io_uring_cqe& cqe);
    void drain_mailbox();
    void apply(MessagePtr message);
    void run_orphaned(Message& message); // a task whose connection or instance is gone here
    void close_mailbox();

    // worker_presence.cpp: plugin instances present on this worker, their hooks and worker timers
    [[nodiscard]] InstancePresence* presence_of(const plugin_host::PluginInstance* instance);
    void enter(const std::shared_ptr<Listener>& listener);
    void leave_slot(const Listener& listener);
    void release_presence(InstancePresence& presence);
    void leave_if_done(InstancePresence& presence);
    void run_worker_timer(int64_t id, const TimerTarget& target);

    WorkerOptions options_;
    Ring ring_;
    BufferRing stream_buffers_;
    std::unique_ptr<BufferRing> datagram_buffers_; // created with the first datagram listener
    SegmentPool segment_pool_;
    TimerQueue timers_;
    DatagramSender datagram_sender_;
    ChildProcesses children_;

    std::vector<std::unique_ptr<ListenerSlot>> slots_;
    std::vector<std::unique_ptr<Connection>> connections_; // index = Connection::index
    std::vector<uint32_t> free_connection_indexes_;
    std::vector<uint32_t> slot_uses_; // per connection slot: the use number of its latest user (conn_id.hpp)
    LiveConnections live_;            // ids of the connections here, for other threads
    Mailbox mailbox_{mailbox_capacity};
    uint64_t ring_mail_wakes_ = 0; // Op::mailbox completions: wakes another worker sent through this ring
    std::vector<std::unique_ptr<InstancePresence>> presences_;
    ConnectionList closing_; // connections waiting to flush and FIN, oldest close request first
    std::vector<std::pair<uint32_t, uint32_t>> torn_down_this_turn_; // index, reuse tag
    Connection* in_callback_ = nullptr;                              // whose callback runs now, if any
    std::vector<std::pair<uint32_t, uint32_t>> touched_; // other connections a callback acted on: settled this turn
    WorkerStats stats_;                                  // written by this worker only

    UniqueFd wake_fd_;
    uint64_t wake_value_ = 0;
    std::mutex commands_mutex_;
    std::vector<std::function<void(Worker&)>> commands_;

    Clock::time_point now_{};
    std::optional<Clock::time_point> child_deadline_; // the earliest child-process deadline, as of the last turn
    uint32_t next_reuse_tag_ = 1;                     // for connections and listener slots alike
    bool shutting_down_ = false;
    Clock::time_point shutdown_deadline_{};
    std::atomic<uint32_t> live_connections_{0};
    std::atomic<int64_t> heartbeat_ns_{0};
    plugin_host::PluginCallRecord call_record_; // bound to the worker thread while run() runs
    std::atomic<uint64_t> plugin_stalls_{0};

    Clock::time_point last_header_warning_{}; // PROXY header rejections: one line a second at most
    uint64_t header_warnings_suppressed_ = 0;
    Clock::time_point last_ring_warning_{};
    uint64_t ring_errors_unreported_ = 0;
    std::string failure_; // written once, before failed_ is set
    std::atomic<bool> failed_{false};
};

} // namespace ringd::engine
