// The test kit's host, inside: the state of one simulated ringd listener (instances, workers, connections,
// timers, queues) and the operations the public API and the C host table (host_table.cpp) share.
//
// Everything here runs on the test's thread. The simulated threads (the main thread, worker N) exist only as
// the CallContext set while plugin code runs, which is what host functions check the thread rules against.
// Only three things are reachable from a plugin's own threads, and they are guarded by `shared_mutex_`: the
// log, the misuse list and the inbox of "any thread" calls (send_to, close_id, post, post_worker), which the
// test thread moves into the workers' queues at its next step.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ringd/plugin.h>
#include <ringd/testkit.hpp>
#include <string>
#include <sys/socket.h>
#include <unordered_map>
#include <variant>
#include <vector>

namespace ringd::testkit::detail {

// One plugin as loaded: its dlopen handle (none for a linked plugin) and a host-sized copy of its descriptor.
struct Library {
    Library(void* handle, std::string origin, const ringd_plugin_descriptor& d);
    ~Library();
    Library(const Library&) = delete;
    Library& operator=(const Library&) = delete;

    void* handle;
    std::string origin; // the .so path, or "<linked NAME>"
    ringd_plugin_descriptor descriptor{};
};

struct Address {
    sockaddr_storage storage{};
    socklen_t len = 0;
    [[nodiscard]] const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    [[nodiscard]] bool is_unix() const { return storage.ss_family == AF_UNIX; }
};
// "ADDR:PORT", "[V6]:PORT", "unix:PATH". Throws std::invalid_argument.
[[nodiscard]] Address parse_address(std::string_view text);
[[nodiscard]] std::string format_address(const sockaddr* address, socklen_t len);

// A connection's output queue in the host: copied bytes and owned buffers, in order.
class OutputQueue {
public:
    OutputQueue() = default;
    ~OutputQueue() { clear(); }
    OutputQueue(const OutputQueue&) = delete;
    OutputQueue& operator=(const OutputQueue&) = delete;

    void append_copy(const void* data, std::size_t len);
    void append_owned(void* data, std::size_t len, void (*free_fn)(void*, void*), void* ctx);
    [[nodiscard]] std::size_t bytes() const { return bytes_; }
    // Moves up to `n` bytes to `to`; frees each owned buffer once all of it is taken. Returns bytes moved.
    std::size_t take(std::size_t n, std::string& to);
    void clear(); // drops everything; frees owned buffers

private:
    struct Chunk {
        std::string copy;
        void* owned = nullptr;
        std::size_t owned_len = 0;
        void (*free_fn)(void*, void*) = nullptr;
        void* free_ctx = nullptr;
        std::size_t taken = 0;
        [[nodiscard]] std::size_t size() const { return owned != nullptr ? owned_len : copy.size(); }
        [[nodiscard]] const char* data() const
        {
            return owned != nullptr ? static_cast<const char*>(owned) : copy.data();
        }
    };
    static void release(Chunk& chunk) noexcept;
    std::deque<Chunk> chunks_;
    std::size_t bytes_ = 0;
};

// connecting (outbound, no outcome yet) -> open -> closing (flushing, then FIN) -> closed (on_close ran);
// aborting: a reset is due at the next settle.
enum class Phase { connecting, open, closing, aborting, closed };
enum class ReadSide { open, fin_held, at_eof }; // fin_held: the peer's FIN waits behind held input or a pause
enum class WriteSide { open, fin_queued, fin_sent };

struct PendingSpawn {
    SpawnCall call;
    ringd_spawn_done_fn done = nullptr;
    void* ctx = nullptr;
};

struct Instance;

struct Conn {
    KitState* kit = nullptr;
    Instance* inst = nullptr;
    ringd_conn_id id = 0;
    uint32_t worker = 0;
    bool outbound = false;
    Phase phase = Phase::open;
    ReadSide read = ReadSide::open;
    WriteSide write = WriteSide::open;
    ringd_close_reason close_reason = RINGD_CLOSE_LOCAL;
    bool reset = false;
    bool paused_by_plugin = false;
    bool paused_by_backpressure = false;
    bool hold_output = false;
    std::string held_input; // read while paused, delivered on resume
    OutputQueue out;
    std::string received; // what the peer got, not yet taken by the test
    std::optional<std::size_t> drain_low_water;
    std::string reservation; // send_reserve's buffer until send_commit
    bool reserved = false;
    void* user = nullptr;
    Address peer, local;
    Credentials credentials;
    std::vector<int64_t> timers;
    std::deque<PendingSpawn> spawns;
    std::size_t running_children = 0; // spawns not yet completed: the connection is not idle
    uint64_t last_active = 0;
    uint32_t connect_timeout_ms = 0;
    int64_t connect_timer = 0;
    bool touched = false;
    bool in_on_close = false; // the handle is still valid while on_close runs

    [[nodiscard]] bool torn_down() const { return phase == Phase::closed; }
    [[nodiscard]] bool closing() const { return phase == Phase::closing || phase == Phase::aborting; }
    [[nodiscard]] ringd_conn* handle() { return reinterpret_cast<ringd_conn*>(this); }
};

struct Metric {
    std::string name;
    uint32_t kind = RINGD_METRIC_COUNTER;
    std::atomic<int64_t> value{0};
};

// One create() of the plugin: the listener's instance, or an earlier one a reload replaced.
struct Instance {
    KitState* kit = nullptr;
    std::shared_ptr<const Library> library;
    void* instance = nullptr;
    bool created = false; // create() returned 0: destroy() is owed
    std::atomic<bool> destroyed{false};
    bool retired = false;                      // replaced by a reload, or the kit stopped
    std::vector<bool> serving;                 // per worker: between on_worker_start and on_worker_stop
    std::vector<std::size_t> conns;            // per worker: connections not yet closed
    std::atomic<std::size_t> pending_tasks{0}; // tasks it posted that have not run: it stays alive for them
    std::vector<std::unique_ptr<Metric>> metrics;

    [[nodiscard]] const ringd_plugin_descriptor& d() const { return library->descriptor; }
    [[nodiscard]] ringd_listener* handle() { return reinterpret_cast<ringd_listener*>(this); }
};

// What travels between simulated threads, delivered on the target worker in FIFO order.
struct SendTo {
    ringd_conn_id id;
    std::string bytes;
};
struct CloseId {
    ringd_conn_id id;
    uint32_t flags;
};
struct ConnTask {
    Instance* inst;
    ringd_conn_id id;
    ringd_conn_task_fn fn;
    void* arg;
};
struct WorkerTask {
    Instance* inst;
    ringd_worker_task_fn fn;
    void* arg;
};
struct SpawnDone {
    ringd_conn_id id;
    PendingSpawn spawn;
    SpawnResult result;
};
using Message = std::variant<SendTo, CloseId, ConnTask, WorkerTask, SpawnDone>;
// From a thread the kit does not simulate: the worker is resolved on the test thread (nullopt: the conn's).
struct ForeignMessage {
    std::optional<uint32_t> worker;
    Message message;
};

enum class TimerKind { connection, worker, connect_timeout };
struct Timer {
    TimerKind kind = TimerKind::connection;
    int64_t id = 0;
    uint64_t due = 0;
    uint64_t delay = 0;
    Conn* conn = nullptr;     // connection, connect_timeout
    Instance* inst = nullptr; // worker
    uint32_t worker = 0;
    void* arg = nullptr;
};

// The on_datagram call in progress. Its ringd_datagram handle is a token, (kit serial << 32) | generation, not a
// pointer: a handle kept past its call is recognised as stale however many datagrams came since.
struct DatagramCall {
    bool active = false;
    uint32_t generation = 0;
    uint32_t worker = 0;
    Address from;
    std::vector<SentDatagram>* sent = nullptr;
};
static_assert(sizeof(uintptr_t) >= 8, "datagram handles carry the kit's serial in their high half");

// Which simulated thread is running plugin code right now (none: a thread of the plugin's own, or the test).
struct CallContext {
    KitState* kit = nullptr;
    uint32_t worker = RINGD_NO_WORKER; // RINGD_NO_WORKER: the main thread
    Instance* creating = nullptr;      // create() of this instance is running: metric_register is allowed
};
[[nodiscard]] const CallContext* current_context();
class ContextScope {
public:
    explicit ContextScope(const CallContext& context);
    ~ContextScope();
    ContextScope(const ContextScope&) = delete;
    ContextScope& operator=(const ContextScope&) = delete;

private:
    CallContext context_;
    const CallContext* outer_;
};

// Kits by serial (the high half of every connection id), for "any thread" calls from threads the kit does not
// simulate. A kit registers itself for its whole life.
void register_kit(uint32_t serial, KitState* kit);
void unregister_kit(uint32_t serial);
// Runs `fn(kit)` under the registry's lock if the kit with `serial` is alive; false otherwise.
bool with_kit(uint32_t serial, const std::function<void(KitState&)>& fn);
[[nodiscard]] const ringd_host* host_table_template();

class KitState {
public:
    explicit KitState(Options options);
    ~KitState();
    KitState(const KitState&) = delete;
    KitState& operator=(const KitState&) = delete;

    // ---- steps (api.cpp calls these inside a Step) ----
    class Step;
    void start(Plugin plugin, const std::string& config_yaml);
    Connection open(const OpenOptions& options);
    std::vector<SentDatagram> datagram(std::string_view payload, const Address& from, std::optional<uint32_t> w);
    void reload(Plugin plugin, std::string config_yaml);
    void close_all();
    void stop();
    void advance(uint64_t ms);
    bool advance_to_next_timer();
    void feed(Conn& c, std::string_view bytes);
    void peer_shutdown(Conn& c);
    void peer_reset(Conn& c);
    std::size_t drain(Conn& c, std::size_t n);
    void connect_outcome(Conn& c, int error);
    void complete_spawn(Conn& c, const SpawnResult& result);
    void pump();         // settles touched connections; delivers messages if deliver_after_each_step
    void run_messages(); // delivers every message, settling as it goes

    // ---- host services (host_table.cpp checks the caller, then calls these) ----
    int send(Conn& c, const void* data, std::size_t len);
    int send_owned(Conn& c, void* data, std::size_t len, void (*free_fn)(void*, void*), void* ctx);
    uint8_t* send_reserve(Conn& c, std::size_t len);
    void send_commit(Conn& c, std::size_t used);
    int close(Conn& c, uint32_t flags);
    int shutdown_write(Conn& c);
    int set_paused(Conn& c, bool paused);
    int64_t timer_start(Conn& c, uint64_t delay_ms, void* arg);
    int timer_cancel(Conn& c, int64_t id);
    int spawn(Conn& c, const ringd_spawn_request& request, ringd_spawn_done_fn done, void* ctx);
    int send_datagram(uint32_t generation, const void* data, std::size_t len, const sockaddr* to, socklen_t to_len);
    int send_to(ringd_conn_id id, const void* data, std::size_t len);
    int close_id(ringd_conn_id id, uint32_t flags);
    int post(Instance& self, ringd_conn_id id, ringd_conn_task_fn fn, void* arg);
    int post_worker(Instance& self, uint32_t worker, ringd_worker_task_fn fn, void* arg);
    int for_each_connection(Instance& self, uint32_t worker, int (*fn)(void*, ringd_conn*), void* ctx);
    int connect(Instance& self, uint32_t worker, const ringd_connect_request& request, ringd_conn** conn);
    int notify_output_below(Conn& c, std::size_t low_water);
    int64_t worker_timer_start(Instance& self, uint32_t worker, uint64_t delay_ms, void* arg);
    int worker_timer_cancel(Instance& self, uint32_t worker, int64_t id);
    int metric_register(Instance& self, const char* name, uint32_t kind, const char* help);
    int push_foreign(ForeignMessage message);            // any thread
    [[nodiscard]] bool knows_id(ringd_conn_id id) const; // any thread: an id this kit has issued
    [[nodiscard]] bool owns(ringd_conn_id id) const { return (id >> 32) == serial_; }
    [[nodiscard]] uint32_t serial() const { return serial_; }

    // ---- reports (any thread) ----
    void log(ringd_log_level level, std::string listener, std::string message);
    void misuse(const std::string& what);
    void failed(std::exception_ptr error) noexcept; // the test's own code threw inside a host call

    // ---- for the public API ----
    [[nodiscard]] Conn* find(ringd_conn_id id);
    [[nodiscard]] Instance& current() { return *instances_.back(); }
    [[nodiscard]] const Instance& current() const { return *instances_.back(); }
    [[nodiscard]] std::vector<Connection> connections(bool connecting_only) const;
    [[nodiscard]] std::vector<TimerInfo> timers_of(const Conn& c) const;
    [[nodiscard]] std::vector<LogLine> logs() const;
    void clear_logs();
    [[nodiscard]] std::vector<std::string> misuses() const;
    [[nodiscard]] const ringd_host* host() const { return &host_; }
    [[nodiscard]] uint64_t now() const { return now_; }
    [[nodiscard]] const Options& options() const { return options_; }
    void set_spawn_responder(SpawnResponder responder)
    {
        // From inside a step it could be the running responder replacing itself.
        if (in_step_) throw std::logic_error("on_spawn() from inside a step: set the responder between steps");
        responder_ = std::move(responder);
    }
    void set_datagram_queue_full(bool full) { datagram_queue_full_ = full; }
    [[nodiscard]] bool stopped() const { return stopped_; }

private:
    friend class Step;
    // lifecycle.cpp
    Instance& create_instance(Plugin plugin, const std::string& config_yaml);
    void start_instance(Instance& inst, Instance* previous);
    void stop_on_worker(Instance& inst, uint32_t worker);
    void maybe_destroy(Instance& inst);
    void destroy(Instance& inst);
    // loop.cpp
    bool deliver_one();
    void deliver(uint32_t worker, Message& message);
    void take_inbox();
    void enqueue(uint32_t worker, Message message);
    int64_t add_timer(Timer timer);
    bool cancel_timer(int64_t id);
    [[nodiscard]] std::optional<uint64_t> next_deadline() const;
    void fire_due(uint64_t at);
    void fire(const Timer& timer);
    void check_idle(uint64_t at);
    void finish_step();
    void plugin_failed(const Instance& inst, const char* callback, std::exception_ptr error, const char* consequence);
    template <class F> void invoke_conn(Conn& c, const char* callback, F&& call);
    template <class F>
    bool invoke_on(Instance& inst, uint32_t worker, const char* callback, const char* consequence, F&& call);
    // connections.cpp
    Conn& new_conn(Instance& inst, uint32_t worker, bool outbound);
    void touch(Conn& c);
    void settle(Conn& c);
    void mark_closing(Conn& c, ringd_close_reason reason);
    void mark_aborting(Conn& c, ringd_close_reason reason);
    void teardown(Conn& c, ringd_close_reason reason, bool reset);
    void deliver_data(Conn& c, std::string_view bytes);
    void deliver_peer_fin(Conn& c);
    std::size_t kernel_takes(Conn& c, std::size_t n);
    void deliver_spawn(Conn& c, const PendingSpawn& spawn, const SpawnResult& result);
    uint32_t pick_worker(std::optional<uint32_t> requested, const char* what);

    Options options_;
    ringd_host host_{};
    uint32_t serial_;
    std::vector<std::unique_ptr<Instance>> instances_; // the current one last
    std::deque<std::unique_ptr<Conn>> conns_;          // by id: (serial << 32) | (index + 1)
    std::atomic<uint32_t> issued_ids_{0};
    std::deque<Conn*> touched_;
    std::vector<std::deque<Message>> queues_;              // per worker
    uint32_t next_queue_ = 0;                              // round robin over the workers' queues
    std::map<std::pair<uint64_t, int64_t>, Timer> timers_; // by (due, id)
    std::unordered_map<int64_t, uint64_t> timer_due_;
    int64_t next_timer_id_ = 1;
    uint64_t now_ = 0;
    uint32_t next_worker_ = 0;
    SpawnResponder responder_;
    bool datagram_queue_full_ = false;
    DatagramCall datagram_call_;
    bool in_step_ = false;
    std::atomic<bool> stopped_{false};
    bool stopping_ = false;
    std::exception_ptr test_failure_;

    mutable std::mutex shared_mutex_; // guards what plugin threads reach: logs, misuses, inbox
    std::vector<LogLine> logs_;
    std::vector<std::string> misuses_;
    std::size_t misuses_reported_ = 0;
    std::vector<ForeignMessage> inbox_;
};

// Marks one public step: no step inside another (a spawn responder calling the kit), none after stop().
// finish() settles everything and throws what went wrong (the test's own exception, or a misuse).
class KitState::Step {
public:
    explicit Step(KitState& kit, bool allowed_after_stop = false);
    ~Step() { kit_.in_step_ = false; }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;
    void finish();

private:
    KitState& kit_;
};

} // namespace ringd::testkit::detail
