// ringd plugin test kit: run a plugin in-process against scripted connections, with no sockets and no daemon.
//
//     ringd::testkit::Kit kit(ringd::testkit::Plugin::load("build/plugins/echo-upper.so"), "{}");
//     auto c = kit.open();
//     c.feed_split("hello", {1, 3});
//     assert(c.take_output() == "HELLO");
//
// The kit is a host: it implements every function of ringd/plugin.h (ABI 1.1 included) the way ringd does,
// over simulated workers, a simulated kernel and virtual time, and it enforces the header's rules (a call on a
// connection of another worker fails with -EPERM, a callback that throws aborts its connection). It depends
// only on the standard library and plugin.h, and it never asserts itself: it returns values and throws
// exceptions, so any test framework (or none) can check them.
//
// Delivery model (docs: sdk/testkit/README.md): every step (open, feed, advance, ...) runs the plugin's
// callbacks, then settles like a worker's loop turn: output goes to the peer (unless held), FIN and closes
// follow, and messages between workers (send_to, close_id, post, post_worker, spawn completions) are
// delivered in order until nothing is left, unless Options::deliver_after_each_step is false, when they wait
// for run(). Threads of the plugin's own may call the "any thread" functions; what they queue is delivered by
// the next step or run().
//
// Single-threaded: a Kit and its Connection handles are used from the thread that made the Kit.
#ifndef RINGD_TESTKIT_HPP
#define RINGD_TESTKIT_HPP

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <optional>
#include <ringd/plugin.h>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::testkit {

namespace detail {
struct Library;
struct Conn;
class KitState;
} // namespace detail

// The plugin could not be loaded: dlopen failed, no entry symbol, or the descriptor fails ringd's ABI checks.
class LoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// create() refused its config. key() is the dotted path of the key at fault (empty for the config as a whole).
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string key, const std::string& message) : std::runtime_error(message), key_(std::move(key)) {}
    [[nodiscard]] const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

// The plugin broke a rule of plugin.h (a call from the wrong worker, a handle used after its life, ...). Thrown
// at the end of the step in which it happened, when Options::throw_on_misuse is set; always in misuses().
class Misuse : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

// A plugin: loaded from a .so like ringd loads it, or compiled into the test. Cheap to copy.
class Plugin {
public:
    // dlopen(RTLD_NOW | RTLD_LOCAL), the entry symbol, ringd's descriptor checks. Throws LoadError.
    [[nodiscard]] static Plugin load(const std::string& path);
    // A descriptor linked into the test (the same checks). Throws LoadError.
    [[nodiscard]] static Plugin linked(const ringd_plugin_descriptor* descriptor);

    // The descriptor as the host sees it: fields beyond the plugin's struct_size (a plugin built against an
    // older minor ABI) read as zero.
    [[nodiscard]] const ringd_plugin_descriptor& descriptor() const;
    [[nodiscard]] std::string_view name() const { return descriptor().name; }

private:
    explicit Plugin(std::shared_ptr<const detail::Library> library) : library_(std::move(library)) {}
    std::shared_ptr<const detail::Library> library_;
    friend class Kit;
    friend class detail::KitState;
};

enum class Kind : uint32_t { stream = RINGD_KIND_STREAM, datagram = RINGD_KIND_DATAGRAM };

struct Options {
    uint32_t workers = 1;
    std::string listener_name = "test";
    Kind kind = Kind::stream;
    // The listener's limits. idle_timeout_ms 0 = none (ringd's default is 60 s: set it to test idleness).
    uint64_t idle_timeout_ms = 0;
    uint64_t max_output_buffer = 1024 * 1024; // reading pauses above it, resumes at half, as in ringd
    uint32_t max_outbound_connections = 64;   // host->connect returns -EAGAIN beyond it
    // true: every step ends by delivering all queued messages and tasks; false: they wait for Kit::run().
    bool deliver_after_each_step = true;
    bool throw_on_misuse = true;
    // Play an older host: the host table's struct_size (fields beyond it are NULL), e.g.
    // offsetof(ringd_host, abi_minor) for a 1.0 host.
    uint32_t host_struct_size = sizeof(ringd_host);
    std::string local_address = "127.0.0.1:7000"; // local_address() of accepted TCP connections
};

// Credentials a unix-socket peer reports through host->peer_credentials.
struct Credentials {
    int32_t pid = 4242;
    uint32_t uid = 1000;
    uint32_t gid = 1000;
};

struct OpenOptions {
    // "ADDR:PORT", "[V6ADDR]:PORT", or "unix:PATH" ("unix:" alone: an unnamed unix peer, as clients are).
    std::string peer = "127.0.0.1:40000";
    std::optional<uint32_t> worker{}; // default: round robin, as the kernel spreads accepted connections
    Credentials credentials{};        // unix peers only; others get -ENOTSUP from peer_credentials
    bool hold_output = false;         // the peer does not read: output stays queued until Connection::drain()
};

// What the plugin asked host->spawn to run (copied during the call).
struct SpawnCall {
    std::vector<std::string> argv{};
    std::optional<std::vector<std::string>> envp{}; // nullopt: the host's default environment
    std::optional<std::string> cwd{};               // nullopt: "/"
    uint32_t timeout_ms = 0;
    uint64_t max_output = 0;
    int64_t run_as_uid = -1;
    int64_t run_as_gid = -1;
};

// How a spawned command ended, as the completion callback will see it.
struct SpawnResult {
    int exit_code = 0; // -1 when killed by a signal
    int term_signal = 0;
    bool timed_out = false;
    bool truncated = false;
    uint64_t duration_us = 0;
    std::string out{};   // stdout
    std::string err{};   // stderr
    int spawn_error = 0; // a positive errno: the command never ran
    int spawn_step = RINGD_SPAWN_STEP_EXEC;
    uint32_t struct_size = sizeof(ringd_spawn_result); // smaller: an older host's result (fewer fields)

    [[nodiscard]] static SpawnResult exited(int code, std::string out = {}, std::string err = {});
    [[nodiscard]] static SpawnResult killed(int signal, bool timed_out = false);
    [[nodiscard]] static SpawnResult not_started(int error, ringd_spawn_step step = RINGD_SPAWN_STEP_EXEC);
};

// A spawn responder's decision for one call.
struct SpawnReply {
    enum class Kind { pending, refuse, finish } kind = Kind::pending;
    int error = 0;        // refuse: spawn() returns -error and the completion never runs
    SpawnResult result{}; // finish: the completion runs with it once the calling callback has returned

    [[nodiscard]] static SpawnReply later() { return {}; } // stays pending: Connection::complete_spawn()
    [[nodiscard]] static SpawnReply refuse(int error) { return {Kind::refuse, error, {}}; }
    [[nodiscard]] static SpawnReply finish(SpawnResult r) { return {Kind::finish, 0, std::move(r)}; }
};
using SpawnResponder = std::function<SpawnReply(const SpawnCall&)>;

struct TimerInfo {
    int64_t id = 0;
    uint64_t due_ms = 0;   // on the kit's clock (Kit::now())
    uint64_t delay_ms = 0; // as asked
    void* arg = nullptr;
};

struct SentDatagram {
    std::string payload{};
    std::string to{}; // "ADDR:PORT", "[V6ADDR]:PORT" or "unix:PATH"
};

struct LogLine {
    ringd_log_level level = RINGD_LOG_INFO;
    std::string listener{}; // the listener's name; "ringd-testkit" for the kit's own reports (misuse, failures)
    std::string message{};
};

// A scripted connection (accepted by open(), or outbound through host->connect). A handle: cheap to copy, valid
// while its Kit lives, also after the connection closed. Every method that acts is a step (see the top).
class Connection {
public:
    // ---- the peer's side: input -------------------------------------------------------------------------
    // Bytes from the peer, as one read. While the plugin (or the host's backpressure) pauses reading they are
    // held and delivered on resume; while the plugin's close flushes they are discarded, as ringd does. Throws
    // std::logic_error once the connection is closed, after peer_shutdown(), or before an outbound one is accepted.
    void feed(std::string_view bytes);
    // The same bytes in reads of the given sizes, in order; what the sizes leave over is one last read. Should
    // the plugin close the connection on the way, the reads after that are dropped (feed() would throw).
    void feed_split(std::string_view bytes, std::initializer_list<std::size_t> sizes);
    void feed_split(std::string_view bytes, std::span<const std::size_t> sizes);
    // One read per byte: the segmentation that finds framing bugs. Stops like feed_split at a close.
    void feed_bytewise(std::string_view bytes);
    void peer_shutdown(); // the peer's FIN
    void reset();         // the peer's RST: queued output is dropped, on_close(RINGD_CLOSE_PEER)

    // ---- the peer's side: output ------------------------------------------------------------------------
    [[nodiscard]] const std::string& output() const; // what the peer has received and not yet taken
    std::string take_output();
    // Hold output in the host's queue (the peer stops reading), or let it flow again.
    void hold_output(bool hold);
    // Lets up to `n` queued bytes leave (the peer read them); returns how many left. Buffers given with
    // send_owned are freed once every byte of them left; on_output_drained and a pending FIN or close follow.
    std::size_t drain(std::size_t n = std::numeric_limits<std::size_t>::max());
    [[nodiscard]] std::size_t queued_output() const; // bytes the host holds, not yet taken by the "kernel"

    // ---- state ------------------------------------------------------------------------------------------
    [[nodiscard]] ringd_conn_id id() const;
    [[nodiscard]] uint32_t worker() const;
    [[nodiscard]] bool connecting() const; // an outbound connection waiting for accept/refuse/time_out
    [[nodiscard]] bool closing() const;    // the plugin closed it; output is still leaving
    [[nodiscard]] bool closed() const;     // on_close has run
    [[nodiscard]] std::optional<ringd_close_reason> close_reason() const;
    [[nodiscard]] bool fin_sent() const;      // the host sent FIN (shutdown_write or a close after flush)
    [[nodiscard]] bool was_reset() const;     // it ended with a reset (an abort, a failed callback, the peer's RST)
    [[nodiscard]] bool paused() const;        // the plugin paused reading
    [[nodiscard]] bool backpressured() const; // the host paused reading: queued output above max_output_buffer

    // ---- outbound connections (host->connect) -----------------------------------------------------------
    [[nodiscard]] std::string address() const; // where the plugin connects ("ADDR:PORT", ...)
    [[nodiscard]] uint32_t connect_timeout_ms() const;
    void accept();                          // on_connect(0); queued output starts to flow
    void refuse(int error = -ECONNREFUSED); // on_connect(error), then on_close(RINGD_CLOSE_ERROR)
    void time_out();                        // refuse(-ETIMEDOUT); also what advance() does at the timeout

    // ---- host->spawn and timers ---------------------------------------------------------------------------
    [[nodiscard]] std::vector<SpawnCall> spawns() const; // pending, oldest first
    void complete_spawn(const SpawnResult& result);      // completes the oldest pending spawn
    [[nodiscard]] std::vector<TimerInfo> timers() const; // pending on_timer timers, soonest first

private:
    Connection(detail::KitState* kit, detail::Conn* conn) : kit_(kit), conn_(conn) {}
    detail::KitState* kit_;
    detail::Conn* conn_;
    friend class Kit;
    friend class detail::KitState;
};

class Kit {
public:
    // Creates one instance of `plugin` for a listener (main thread), then starts it on every worker
    // (on_worker_start). Throws ConfigError when create() refuses, LoadError when the plugin does not serve
    // the listener's kind, std::invalid_argument for bad options.
    Kit(Plugin plugin, std::string config_yaml = "{}", Options options = {});
    // stop(), swallowing what it would throw.
    ~Kit();
    Kit(Kit&&) noexcept;
    Kit& operator=(Kit&&) = delete;
    Kit(const Kit&) = delete;
    Kit& operator=(const Kit&) = delete;

    // A new accepted connection: on_open (a refusal closes it at once; on_close follows).
    Connection open(const OpenOptions& options = {});
    // One datagram from `from` on a datagram listener; returns what the plugin sent during on_datagram.
    std::vector<SentDatagram> datagram(std::string_view payload, std::string_view from = "127.0.0.1:40000",
                                       std::optional<uint32_t> worker = std::nullopt);
    // The same with a raw source address (a malformed one, say).
    std::vector<SentDatagram> datagram(std::string_view payload, const sockaddr* from, socklen_t from_len,
                                       std::optional<uint32_t> worker = std::nullopt);
    // The worker's datagram send queue is full: send_datagram returns -ENOBUFS and drops.
    void set_datagram_queue_full(bool full);

    // Virtual time: fires every timer (connection, worker, connect timeouts, idle timeouts) due within `ms`,
    // in order of their deadlines, each as its own step.
    void advance(uint64_t ms);
    // Advances to the soonest pending timer and fires what is due then. False if none is pending.
    bool advance_to_next_timer();
    [[nodiscard]] uint64_t now() const; // ms since the kit started

    // Delivers every queued message and task (and what they queue in turn), then settles.
    void run();

    [[nodiscard]] std::vector<Connection> pending_connects() const; // outbound, waiting for the test
    [[nodiscard]] std::vector<Connection> connections() const;      // every connection not yet closed
    // Decides every later spawn() call; without one (or after on_spawn(nullptr)) spawns stay pending.
    void on_spawn(SpawnResponder responder);

    // A metric the current instance registered: its value summed over the workers. Throws std::out_of_range.
    [[nodiscard]] int64_t metric(std::string_view name) const;

    // A reload: creates a new instance (throws ConfigError, and the old one goes on), hands over (on_handover on
    // the main thread, then on each worker right after on_worker_start there). New connections and datagrams
    // go to the new instance; old connections stay on the old one, which stops on a worker with its last
    // connection there and is destroyed after its last one.
    void reload(std::string config_yaml);
    void reload(Plugin plugin, std::string config_yaml); // another build of the plugin
    // Closes every connection (on_close with RINGD_CLOSE_SHUTDOWN); the listener goes on serving.
    void close_all();
    // The daemon stops: close_all(), every task delivered, on_worker_stop on every worker, destroy() once per
    // instance. Later steps throw std::logic_error.
    void stop();

    [[nodiscard]] std::vector<LogLine> logs() const;
    [[nodiscard]] bool logged(std::string_view needle) const; // some log message contains it
    void clear_logs();
    [[nodiscard]] std::vector<std::string> misuses() const;
    [[nodiscard]] void* instance() const; // the current instance, as create() returned it
    [[nodiscard]] const ringd_host* host() const;

private:
    std::unique_ptr<detail::KitState> state_;
};

} // namespace ringd::testkit

#endif // RINGD_TESTKIT_HPP
