// ringd plugin SDK, C++ layer: a handler class and one macro on top of the C ABI in plugin.h.
//
// A plugin derives from ringd::Handler, overrides the callbacks it needs, provides a static
//     static std::unique_ptr<MyHandler> create(const ringd::InstanceArgs& args);
// that parses args.config_yaml and throws ringd::ConfigError("key", "what was expected") on bad config,
// and exports itself with
//     RINGD_EXPORT_HANDLER(MyHandler, "my-plugin", "1.0.0", RINGD_KIND_STREAM)
//
// Exceptions thrown from a callback never cross the C ABI: the trampolines below catch them, log through the
// daemon's logger and abort only that connection. The header has no dependencies beyond the standard library.
//
// ABI 1.1 calls (connection ids, send_to/close/post from any thread, worker tasks and timers, flow control,
// metrics, handover) are checked against the host's table: in an older (1.0) host they return -ENOSYS (id()
// returns 0) instead of calling what is not there.
#ifndef RINGD_PLUGIN_HPP
#define RINGD_PLUGIN_HPP

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <ringd/plugin.h>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

// Whether this host has the ABI 1.1 (or later) function `field`, filled in.
#define RINGD_HOST_PROVIDES(host, field) (RINGD_HOST_HAS(host, field) && (host)->field != nullptr)

namespace ringd {

// Thrown by a handler's create() to reject its config; `key` is the dotted path of the offending key
// (empty for the config as a whole). The host reports it as file:line:col.
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string key, const std::string& message) : std::runtime_error(message), key_(std::move(key)) {}
    [[nodiscard]] const std::string& key() const noexcept { return key_; }

private:
    std::string key_;
};

struct InstanceArgs {
    const ringd_instance_args* raw;
    std::string_view listener_name;
    std::string_view config_yaml;
    uint32_t socket_kind;
    uint32_t worker_count;
};

// Logging for a listener; cheap to copy, valid as long as the instance.
class Logger {
public:
    Logger() = default;
    Logger(const ringd_host* host, ringd_listener* listener) : host_(host), listener_(listener) {}
    void log(ringd_log_level level, const std::string& msg) const
    {
        if (host_ != nullptr) host_->log(listener_, level, msg.c_str());
    }
    void debug(const std::string& msg) const { log(RINGD_LOG_DEBUG, msg); }
    void info(const std::string& msg) const { log(RINGD_LOG_INFO, msg); }
    void warn(const std::string& msg) const { log(RINGD_LOG_WARN, msg); }
    void error(const std::string& msg) const { log(RINGD_LOG_ERROR, msg); }

private:
    const ringd_host* host_ = nullptr;
    ringd_listener* listener_ = nullptr;
};

// A stream connection as seen from one callback. A thin value wrapper: copy it freely within the callback,
// but the underlying ringd_conn is valid only until on_close returns.
class Connection {
public:
    Connection(const ringd_host* host, ringd_conn* conn) : host_(host), conn_(conn) {}

    int send(std::string_view bytes) const { return host_->send(conn_, bytes.data(), bytes.size()); }
    int send(std::span<const std::byte> bytes) const { return host_->send(conn_, bytes.data(), bytes.size()); }
    // Hands a string to the host without copying it.
    int send(std::string&& bytes) const
    {
        auto* owned = new std::string(std::move(bytes));
        return host_->send_owned(
            conn_, owned->data(), owned->size(), [](void*, void* ctx) { delete static_cast<std::string*>(ctx); },
            owned);
    }
    // Reserve `len` bytes at the end of the output queue, fill them with `fill(uint8_t*)`, commit.
    template <class Fill> int send_in_place(std::size_t len, Fill&& fill) const
    {
        uint8_t* out = host_->send_reserve(conn_, len);
        if (out == nullptr) return -1;
        fill(out);
        host_->send_commit(conn_, len);
        return 0;
    }
    int close() const { return host_->close(conn_, RINGD_CLOSE_AFTER_FLUSH); }
    int abort() const { return host_->close(conn_, RINGD_CLOSE_ABORT); }
    int shutdown_write() const { return host_->shutdown_write(conn_); }
    int pause_reading() const { return host_->pause_reading(conn_); }
    int resume_reading() const { return host_->resume_reading(conn_); }
    int peer_address(sockaddr* addr, socklen_t* len) const { return host_->peer_address(conn_, addr, len); }
    int local_address(sockaddr* addr, socklen_t* len) const { return host_->local_address(conn_, addr, len); }
    // The first TLV of `type` of the connection's PROXY v2 header (ringd_host.proxy_tlv): 0 with *data/*len set,
    // -ENOENT, or -ENOSYS from a host without the call.
    int proxy_tlv(uint8_t type, const void** data, size_t* len) const
    {
        return RINGD_HOST_PROVIDES(host_, proxy_tlv) ? host_->proxy_tlv(conn_, type, data, len) : -ENOSYS;
    }
    template <class T> [[nodiscard]] T* user() const { return static_cast<T*>(host_->get_user(conn_)); }
    void set_user(void* user) const { host_->set_user(conn_, user); }
    int64_t start_timer(uint64_t delay_ms, void* arg = nullptr) const
    {
        return host_->timer_start(conn_, delay_ms, arg);
    }
    int cancel_timer(int64_t id) const { return host_->timer_cancel(conn_, id); }
    int spawn(const ringd_spawn_request& request, ringd_spawn_done_fn done, void* ctx) const
    {
        return host_->spawn(conn_, &request, done, ctx);
    }
    [[nodiscard]] ringd_conn* raw() const { return conn_; }

    // ---- ABI 1.1 ----
    // The id to reach this connection from anywhere (Handler::send_to, close, post); 0 in a 1.0 host.
    [[nodiscard]] ringd_conn_id id() const { return RINGD_HOST_PROVIDES(host_, conn_id) ? host_->conn_id(conn_) : 0; }
    // Bytes queued and not yet sent (>= 0), or a negative errno.
    [[nodiscard]] int64_t queued_output() const
    {
        return RINGD_HOST_PROVIDES(host_, queued_output) ? host_->queued_output(conn_) : -ENOSYS;
    }
    // One-shot: Handler::on_output_drained(conn) once queued output is at or below `low_water` bytes.
    int notify_output_below(std::size_t low_water) const
    {
        return RINGD_HOST_PROVIDES(host_, notify_output_below) ? host_->notify_output_below(conn_, low_water) : -ENOSYS;
    }

private:
    const ringd_host* host_;
    ringd_conn* conn_;
};

// One received datagram, valid during on_datagram only.
class Datagram {
public:
    Datagram(const ringd_host* host, ringd_datagram* dgram, std::span<const std::byte> payload, const sockaddr* peer,
             socklen_t peer_len)
        : host_(host), dgram_(dgram), payload_(payload), peer_(peer), peer_len_(peer_len)
    {
    }
    [[nodiscard]] std::span<const std::byte> payload() const { return payload_; }
    [[nodiscard]] const sockaddr* peer() const { return peer_; }
    [[nodiscard]] socklen_t peer_len() const { return peer_len_; }
    int reply(std::span<const std::byte> bytes) const
    {
        return host_->send_datagram(dgram_, bytes.data(), bytes.size(), nullptr, 0);
    }
    int reply(std::string_view bytes) const
    {
        return host_->send_datagram(dgram_, bytes.data(), bytes.size(), nullptr, 0);
    }

private:
    const ringd_host* host_;
    ringd_datagram* dgram_;
    std::span<const std::byte> payload_;
    const sockaddr* peer_;
    socklen_t peer_len_;
};

class Handler;
namespace detail {
template <class F> struct ConnTask;
template <class F> struct WorkerTask;
template <class F> struct Visitor;
} // namespace detail

// What Handler::connect returns: the new connection (valid until its on_close returns), or why there is none.
struct ConnectResult {
    int error;             // 0, or a negative errno: -EAGAIN, -EINVAL, -EPERM, -ESHUTDOWN, -ENOSYS (a 1.0 host), ...
    Connection connection; // meaningful only when error == 0
    explicit operator bool() const { return error == 0; }
};

// Base class of a plugin's per-listener instance. Callbacks for different connections may run concurrently
// on different workers (see plugin.h), so keep per-connection state behind Connection::user().
class Handler {
public:
    explicit Handler(const InstanceArgs& args)
        : host_(args.raw->host), listener_(args.raw->listener), worker_count_(args.worker_count),
          log_(args.raw->host, args.raw->listener)
    {
    }
    virtual ~Handler() = default;
    Handler(const Handler&) = delete;
    Handler& operator=(const Handler&) = delete;

    // Return false to refuse the connection.
    virtual bool on_open(Connection) { return true; }
    virtual void on_data(Connection, std::span<const std::byte>) {}
    // Default: close once everything queued has been sent.
    virtual void on_peer_shutdown(Connection conn) { conn.close(); }
    virtual void on_close(Connection, ringd_close_reason) {}
    virtual void on_datagram(const Datagram&) {}
    virtual void on_timer(Connection, int64_t /*timer_id*/, void* /*arg*/) {}

    // ---- ABI 1.1 callbacks ----
    // The output armed by Connection::notify_output_below fell to its low-water mark.
    virtual void on_output_drained(Connection) {}
    // This instance starts / stops serving on `worker` (on that worker's thread): per-worker state lives between.
    virtual void on_worker_start(uint32_t /*worker*/) {}
    virtual void on_worker_stop(uint32_t /*worker*/) {}
    // A timer from start_worker_timer fired, on the worker that started it.
    virtual void on_worker_timer(int64_t /*timer_id*/, void* /*arg*/) {}
    // A reload made this instance the successor of `previous` (see plugin.h): first on the main thread
    // (info.worker == RINGD_NO_WORKER), then on each worker. `previous` is an instance of a plugin with the same
    // name, possibly another build (info.previous_version): check what it is before relying on its type.
    virtual void on_handover(Handler& /*previous*/, const ringd_handover_info& /*info*/) {}
    // An outbound connection from connect() is established (error 0) or failed: -ECONNREFUSED, -ETIMEDOUT,
    // -ECANCELED (closed before the outcome), ...; after a failure on_close follows.
    virtual void on_connect(Connection, int /*error*/) {}

    [[nodiscard]] const ringd_host* host() const { return host_; }
    [[nodiscard]] const Logger& log() const { return log_; }
    [[nodiscard]] ringd_listener* listener() const { return listener_; }
    [[nodiscard]] uint32_t worker_count() const { return worker_count_; }

    // ---- ABI 1.1 helpers; each returns -ENOSYS in a host without the call ----

    // Any thread: queue a copy of `bytes` on connection `id` (see ringd_host.send_to).
    int send_to(ringd_conn_id id, std::string_view bytes) const
    {
        return RINGD_HOST_PROVIDES(host_, send_to) ? host_->send_to(id, bytes.data(), bytes.size()) : -ENOSYS;
    }
    int send_to(ringd_conn_id id, std::span<const std::byte> bytes) const
    {
        return RINGD_HOST_PROVIDES(host_, send_to) ? host_->send_to(id, bytes.data(), bytes.size()) : -ENOSYS;
    }
    // Any thread: close connection `id` (after flushing, or at once with abort).
    int close(ringd_conn_id id, bool abort = false) const
    {
        return RINGD_HOST_PROVIDES(host_, close_id)
                   ? host_->close_id(id, abort ? RINGD_CLOSE_ABORT : RINGD_CLOSE_AFTER_FLUSH)
                   : -ENOSYS;
    }
    // Any thread: run f(Connection) on connection `id`'s worker, after what this thread queued for it before,
    // only if the connection is still there then. `f` is destroyed in any case (on that worker, or here when
    // this fails). An exception from f aborts that connection.
    template <class F> int post(ringd_conn_id id, F&& f) const
    {
        if (!RINGD_HOST_PROVIDES(host_, post)) return -ENOSYS;
        using Task = detail::ConnTask<std::decay_t<F>>;
        auto task = std::make_unique<std::decay_t<F>>(std::forward<F>(f));
        const int rc = host_->post(listener_, id, &Task::run, task.get());
        if (rc == 0) (void)task.release();
        return rc;
    }
    // Any thread: run f() on worker `worker`, only while this instance serves there (between its
    // on_worker_start and on_worker_stop). `f` is destroyed in any case.
    template <class F> int post_worker(uint32_t worker, F&& f) const
    {
        if (!RINGD_HOST_PROVIDES(host_, post_worker)) return -ENOSYS;
        using Task = detail::WorkerTask<std::decay_t<F>>;
        auto task = std::make_unique<std::decay_t<F>>(std::forward<F>(f));
        const int rc = host_->post_worker(listener_, worker, &Task::run, task.get());
        if (rc == 0) (void)task.release();
        return rc;
    }
    // On a worker thread: f(Connection) for each open connection of this instance on this worker. f returns
    // void, or bool (false stops). Returns how many connections f was given, or a negative errno.
    template <class F> int for_each_connection(F&& f) const
    {
        if (!RINGD_HOST_PROVIDES(host_, for_each_connection)) return -ENOSYS;
        detail::Visitor<std::remove_reference_t<F>> visitor{this, &f};
        return host_->for_each_connection(listener_, &detail::Visitor<std::remove_reference_t<F>>::visit, &visitor);
    }
    // On a worker thread: on_worker_timer(id, arg) on this worker after delay_ms; positive id or -errno.
    int64_t start_worker_timer(uint64_t delay_ms, void* arg = nullptr) const
    {
        return RINGD_HOST_PROVIDES(host_, worker_timer_start) ? host_->worker_timer_start(listener_, delay_ms, arg)
                                                              : -ENOSYS;
    }
    int cancel_worker_timer(int64_t id) const
    {
        return RINGD_HOST_PROVIDES(host_, worker_timer_cancel) ? host_->worker_timer_cancel(listener_, id) : -ENOSYS;
    }
    // In create() (the constructor): a counter or gauge of this instance; id >= 0 or -errno.
    int register_metric(const char* name, uint32_t kind, const char* help) const
    {
        return RINGD_HOST_PROVIDES(host_, metric_register) ? host_->metric_register(listener_, name, kind, help)
                                                           : -ENOSYS;
    }
    // Any thread.
    void metric_add(int metric, int64_t delta) const
    {
        if (RINGD_HOST_PROVIDES(host_, metric_add)) host_->metric_add(listener_, metric, delta);
    }
    int metric_read(int metric, int64_t* value) const
    {
        return RINGD_HOST_PROVIDES(host_, metric_read) ? host_->metric_read(listener_, metric, value) : -ENOSYS;
    }
    // On a worker thread, in any callback or task of this instance: open a stream connection to `address`
    // (AF_INET, AF_INET6 or AF_UNIX). The outcome arrives as on_connect(); sends made before it are queued.
    // timeout_ms 0 = 10 s; `user` is the connection's initial user pointer.
    ConnectResult connect(const sockaddr* address, socklen_t address_len, uint32_t timeout_ms = 0,
                          void* user = nullptr) const
    {
        if (!RINGD_HOST_PROVIDES(host_, connect)) return {-ENOSYS, Connection(host_, nullptr)};
        ringd_connect_request request{};
        request.struct_size = sizeof request;
        request.timeout_ms = timeout_ms;
        request.address = address;
        request.address_len = address_len;
        request.user = user;
        ringd_conn* conn = nullptr;
        const int rc = host_->connect(listener_, &request, &conn);
        return {rc, Connection(host_, rc == 0 ? conn : nullptr)};
    }

private:
    const ringd_host* host_;
    ringd_listener* listener_;
    uint32_t worker_count_;
    Logger log_;
};

namespace detail {

inline void report(const Handler* handler, const char* where) noexcept
{
    try {
        throw;
    } catch (const std::exception& e) {
        handler->log().error(std::string(where) + " threw: " + e.what());
    } catch (...) {
        handler->log().error(std::string(where) + " threw a non-standard exception");
    }
}

template <class F> struct ConnTask {
    static void run(void* instance, ringd_conn* conn, void* arg) noexcept
    {
        auto* handler = static_cast<Handler*>(instance);
        try {
            std::unique_ptr<F> f(static_cast<F*>(arg)); // destroyed whether or not the connection is there
            if (conn != nullptr) (*f)(Connection(handler->host(), conn));
        } catch (...) {
            report(handler, "a task posted to a connection");
            if (conn != nullptr) handler->host()->close(conn, RINGD_CLOSE_ABORT);
        }
    }
};

template <class F> struct WorkerTask {
    static void run(void* instance, void* arg, int status) noexcept
    {
        auto* handler = static_cast<Handler*>(instance);
        try {
            std::unique_ptr<F> f(static_cast<F*>(arg));
            if (status == 0) (*f)();
        } catch (...) {
            report(handler, "a task posted to a worker");
        }
    }
};

template <class F> struct Visitor {
    const Handler* handler;
    F* f;
    static int visit(void* ctx, ringd_conn* conn) noexcept
    {
        auto* v = static_cast<Visitor*>(ctx);
        try {
            if constexpr (std::is_same_v<decltype((*v->f)(Connection(v->handler->host(), conn))), bool>) {
                return (*v->f)(Connection(v->handler->host(), conn)) ? 0 : 1;
            } else {
                (*v->f)(Connection(v->handler->host(), conn));
                return 0;
            }
        } catch (...) {
            report(v->handler, "for_each_connection's function");
            v->handler->host()->close(conn, RINGD_CLOSE_ABORT);
            return 1;
        }
    }
};

inline void copy_truncated(char* dst, std::size_t cap, std::string_view src)
{
    const std::size_t n = src.size() < cap - 1 ? src.size() : cap - 1;
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

// Reports an exception escaping a connection callback and aborts that connection.
inline void connection_failed(Handler* handler, ringd_conn* conn, const char* where) noexcept
{
    report(handler, where);
    if (conn != nullptr) handler->host()->close(conn, RINGD_CLOSE_ABORT);
}

template <class H> struct Trampolines {
    static int create(const ringd_instance_args* args, void** instance, ringd_error* error) noexcept
    {
        try {
            InstanceArgs a{args, args->listener_name, std::string_view(args->config_yaml, args->config_len),
                           args->socket_kind, args->worker_count};
            std::unique_ptr<H> handler = H::create(a);
            *instance = static_cast<Handler*>(handler.release());
            return 0;
        } catch (const ConfigError& e) {
            copy_truncated(error->message, sizeof error->message, e.what());
            copy_truncated(error->key, sizeof error->key, e.key());
        } catch (const std::exception& e) {
            copy_truncated(error->message, sizeof error->message, e.what());
        } catch (...) {
            copy_truncated(error->message, sizeof error->message, "unknown error while creating the instance");
        }
        return -1;
    }
    static void destroy(void* instance) noexcept { delete static_cast<Handler*>(instance); }
    static Handler* self(void* instance) { return static_cast<Handler*>(instance); }

    static int on_open(void* instance, ringd_conn* conn) noexcept
    {
        try {
            return self(instance)->on_open(Connection(self(instance)->host(), conn)) ? 0 : -1;
        } catch (...) {
            connection_failed(self(instance), nullptr, "on_open");
            return -1;
        }
    }
    static void on_data(void* instance, ringd_conn* conn, const uint8_t* data, std::size_t len) noexcept
    {
        try {
            self(instance)->on_data(Connection(self(instance)->host(), conn),
                                    std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), len));
        } catch (...) {
            connection_failed(self(instance), conn, "on_data");
        }
    }
    static void on_peer_shutdown(void* instance, ringd_conn* conn) noexcept
    {
        try {
            self(instance)->on_peer_shutdown(Connection(self(instance)->host(), conn));
        } catch (...) {
            connection_failed(self(instance), conn, "on_peer_shutdown");
        }
    }
    static void on_close(void* instance, ringd_conn* conn, ringd_close_reason reason) noexcept
    {
        try {
            self(instance)->on_close(Connection(self(instance)->host(), conn), reason);
        } catch (...) {
            connection_failed(self(instance), nullptr, "on_close");
        }
    }
    static void on_datagram(void* instance, ringd_datagram* dgram, const uint8_t* data, std::size_t len,
                            const sockaddr* peer, socklen_t peer_len) noexcept
    {
        try {
            self(instance)->on_datagram(
                Datagram(self(instance)->host(), dgram,
                         std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), len), peer, peer_len));
        } catch (...) {
            connection_failed(self(instance), nullptr, "on_datagram");
        }
    }
    static void on_timer(void* instance, ringd_conn* conn, int64_t id, void* arg) noexcept
    {
        try {
            self(instance)->on_timer(Connection(self(instance)->host(), conn), id, arg);
        } catch (...) {
            connection_failed(self(instance), conn, "on_timer");
        }
    }

    static void on_output_drained(void* instance, ringd_conn* conn) noexcept
    {
        try {
            self(instance)->on_output_drained(Connection(self(instance)->host(), conn));
        } catch (...) {
            connection_failed(self(instance), conn, "on_output_drained");
        }
    }
    static void on_worker_start(void* instance, uint32_t worker) noexcept
    {
        try {
            self(instance)->on_worker_start(worker);
        } catch (...) {
            report(self(instance), "on_worker_start");
        }
    }
    static void on_worker_stop(void* instance, uint32_t worker) noexcept
    {
        try {
            self(instance)->on_worker_stop(worker);
        } catch (...) {
            report(self(instance), "on_worker_stop");
        }
    }
    static void on_worker_timer(void* instance, int64_t id, void* arg) noexcept
    {
        try {
            self(instance)->on_worker_timer(id, arg);
        } catch (...) {
            report(self(instance), "on_worker_timer");
        }
    }
    static void on_connect(void* instance, ringd_conn* conn, int error) noexcept
    {
        try {
            self(instance)->on_connect(Connection(self(instance)->host(), conn), error);
        } catch (...) {
            connection_failed(self(instance), conn, "on_connect");
        }
    }
    static void on_handover(void* instance, void* previous, const ringd_handover_info* info) noexcept
    {
        try {
            self(instance)->on_handover(*self(previous), *info);
        } catch (...) {
            report(self(instance), "on_handover");
        }
    }

    static const ringd_plugin_descriptor* descriptor(const char* name, const char* version, uint32_t kinds) noexcept
    {
        static const ringd_plugin_descriptor d = {
            .abi_version = RINGD_PLUGIN_ABI_VERSION,
            .struct_size = sizeof(ringd_plugin_descriptor),
            .name = name,
            .version = version,
            .socket_kinds = kinds,
            .create = &create,
            .destroy = &destroy,
            .on_open = &on_open,
            .on_data = &on_data,
            .on_peer_shutdown = &on_peer_shutdown,
            .on_close = &on_close,
            .on_datagram = &on_datagram,
            .on_timer = &on_timer,
            .abi_minor = RINGD_PLUGIN_ABI_MINOR,
            .on_connect = &on_connect,
            .on_output_drained = &on_output_drained,
            .on_worker_start = &on_worker_start,
            .on_worker_stop = &on_worker_stop,
            .on_worker_timer = &on_worker_timer,
            .on_handover = &on_handover,
        };
        return &d;
    }
};

} // namespace detail
} // namespace ringd

// Exports HandlerClass as this shared object's plugin. Use once, at namespace scope, in one source file.
#define RINGD_EXPORT_HANDLER(HandlerClass, name, version, kinds)                                                       \
    extern "C" RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)                          \
    {                                                                                                                  \
        return ::ringd::detail::Trampolines<HandlerClass>::descriptor(name, version, kinds);                           \
    }

#endif // RINGD_PLUGIN_HPP
