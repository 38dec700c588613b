/*
 * ringd plugin ABI — the whole contract between the ringd daemon and a handler plugin.
 *
 * Pure C, no dependencies beyond <stddef.h>, <stdint.h> and <sys/socket.h>, so a plugin can be built by any
 * compiler (or language) that can produce a shared library with a C entry point.
 *
 * A plugin is a shared object exporting exactly one symbol, RINGD_PLUGIN_ENTRY_SYMBOL, a function that returns
 * a pointer to a static ringd_plugin_descriptor. The host loads it with RTLD_NOW|RTLD_LOCAL, calls the entry,
 * and refuses the plugin (naming the file) unless descriptor->abi_version equals the host's
 * RINGD_PLUGIN_ABI_VERSION.
 *
 * Compatibility within a major version (the 1.x promise)
 *   - Minor versions only append: new fields at the ends of the structs below, never a field moved, removed or
 *     given another meaning. Each struct's `struct_size` tells the other side how much of it exists.
 *   - A plugin built against an older minor header loads in a newer host and works unchanged: the host reads
 *     no descriptor field beyond the plugin's struct_size, and treats the missing callbacks as NULL.
 *   - A plugin built against a newer minor header can run in an older host: before calling a host function
 *     added in 1.N, it checks RINGD_HOST_HAS(host, field) (the host table's struct_size) and does without.
 *   - Structs a plugin passes in (ringd_spawn_request, ringd_connect_request) are read only up to their
 *     struct_size; one too small for the fields of the minor version that introduced it is refused (-EINVAL).
 *
 * ABI 1.1 (RINGD_PLUGIN_ABI_MINOR 1) adds: connection ids and calls that reach a connection from any thread
 * (send_to, close_id, post), tasks on a worker (post_worker), iteration over an instance's connections,
 * outbound connections (connect, on_connect), visible flow control (queued_output, notify_output_below,
 * on_output_drained), per-worker timers and lifecycle hooks, plugin counters and gauges, state handover
 * across a reload (on_handover), and, appended later, the TLVs of a connection's PROXY protocol header
 * (proxy_tlv).
 *
 * Threading model
 *   - create() is called on the daemon's main thread, once per listener (and again on every reload). destroy()
 *     is called exactly once for every create() that returned 0, even one that left *instance NULL (a plugin
 *     without state), on any ringd thread, after every callback and task for that instance has returned and
 *     nothing references it any more.
 *   - The host table (ringd_instance_args.host) is the same for every instance and stays valid for the
 *     instance's whole life: callbacks are not passed it again, so keep the pointer create() saw (plugin.hpp's
 *     Handler does).
 *   - Connection callbacks (on_open, on_connect, on_data, on_output_drained, on_peer_shutdown, on_close,
 *     on_timer, spawn completions, tasks posted to the connection) for one connection always run on the same
 *     worker thread and never concurrently with each other.
 *   - Different connections of one instance may run on different worker threads at the same time, so the
 *     instance itself must be treated as read-only after create(), or protected by the plugin. For lock-free
 *     per-worker state, index an array of ringd_instance_args.worker_count entries with
 *     host->worker_index(), which is stable for the calling thread.
 *   - Every host function that takes a ringd_conn* must be called on that connection's worker thread (from any
 *     callback running there; a call on another connection of the same worker takes effect before the worker
 *     next submits I/O). Called from any other thread, it changes nothing and returns -EPERM (NULL from
 *     send_reserve and get_user), and the misuse is logged. To act on a connection from another thread (another
 *     worker, a thread of the plugin's own), use its ringd_conn_id: send_to, close_id and post (ABI 1.1) carry
 *     the request to the connection's worker as a message through that worker's ring; nothing touches another
 *     worker's state.
 *
 * Errors: host functions return 0 (or a non-negative value) on success and a negative errno value on failure.
 * C++ exceptions must never cross this ABI; the host guards every call anyway, and a callback that throws
 * has its connection aborted and logged, while the daemon keeps running.
 */
#ifndef RINGD_PLUGIN_H
#define RINGD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Major ABI version: the host loads only plugins built against the same major version. */
#define RINGD_PLUGIN_ABI_VERSION 1u
/* Minor version of this header. ringd_host.abi_minor and ringd_plugin_descriptor.abi_minor carry it. */
#define RINGD_PLUGIN_ABI_MINOR 1u

/* The one symbol a plugin exports: `const ringd_plugin_descriptor *ringd_plugin_entry_v1(void);` */
#define RINGD_PLUGIN_ENTRY_SYMBOL "ringd_plugin_entry_v1"

#if defined(__GNUC__)
#define RINGD_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RINGD_PLUGIN_EXPORT
#endif

/* Socket kinds a plugin can serve (bit mask in ringd_plugin_descriptor.socket_kinds). Unix stream
 * listeners are RINGD_KIND_STREAM; udp:// listeners are RINGD_KIND_DATAGRAM. */
#define RINGD_KIND_STREAM 0x1u
#define RINGD_KIND_DATAGRAM 0x2u

/* Log levels for ringd_host.log, lowest to highest severity (mirroring syslog's order). */
typedef enum ringd_log_level {
    RINGD_LOG_TRACE = 0,
    RINGD_LOG_DEBUG = 1,
    RINGD_LOG_INFO = 2,
    RINGD_LOG_WARN = 3,
    RINGD_LOG_ERROR = 4
} ringd_log_level;

/* Why a stream connection closed (the `reason` argument of on_close). */
typedef enum ringd_close_reason {
    RINGD_CLOSE_PEER = 0,    /* the peer closed or reset the connection */
    RINGD_CLOSE_LOCAL = 1,   /* the plugin asked for the close (RINGD_CLOSE_ABORT included) */
    RINGD_CLOSE_IDLE = 2,    /* idle_timeout expired */
    RINGD_CLOSE_ERROR = 3,   /* a socket error, or a plugin callback failed (threw) */
    RINGD_CLOSE_SHUTDOWN = 4 /* the daemon is stopping, or the listener was removed and its drain timed out */
} ringd_close_reason;

/* Flags for ringd_host.close. */
#define RINGD_CLOSE_AFTER_FLUSH 0x0u /* deliver everything queued, then FIN (the normal close) */
#define RINGD_CLOSE_ABORT 0x1u       /* drop queued output and reset the connection now */

/* Opaque handles. Their lifetimes are documented on the callbacks that hand them out. */
typedef struct ringd_conn ringd_conn;         /* one stream connection (accepted, or opened by host->connect) */
typedef struct ringd_datagram ringd_datagram; /* one received datagram, valid during on_datagram only */
typedef struct ringd_listener ringd_listener; /* the instance's own handle (it names the listener it serves);
                                                 valid for the instance's whole life */

/* ABI 1.1: a connection's id. Unlike a ringd_conn*, an id may be kept anywhere (another connection's state, a
 * plugin thread) and used from any thread: it is never reused while the daemon runs, so a call with the id of a
 * connection that is gone fails cleanly (-ENOENT) instead of reaching another connection. 0 is never an id. */
typedef uint64_t ringd_conn_id;

/* ABI 1.1: ringd_handover_info.worker for the handover on the main thread (see on_handover). */
#define RINGD_NO_WORKER 0xffffffffu

/* ABI 1.1: kinds for host->metric_register. */
#define RINGD_METRIC_COUNTER 0u /* only goes up: metric_add with a delta >= 0 */
#define RINGD_METRIC_GAUGE 1u   /* goes up and down: metric_add with any delta */

/* Error report from create(). The plugin writes a NUL-terminated message, and optionally the dotted path of
 * the config key at fault (e.g. "rate_limit.burst"), which the host turns into file:line:col. */
typedef struct ringd_error {
    char message[512];
    char key[128];
} ringd_error;

struct ringd_host;

/* What create() is given. All pointers are owned by the host and valid only during the create() call:
 * copy whatever the instance keeps. */
typedef struct ringd_instance_args {
    uint32_t struct_size;          /* sizeof(ringd_instance_args) as the host knows it */
    uint32_t socket_kind;          /* RINGD_KIND_STREAM or RINGD_KIND_DATAGRAM: the listener's kind */
    const char* listener_name;     /* the listener's unique `name:` */
    const char* config_yaml;       /* the listener's `config:` mapping, re-emitted as YAML text ("{}" if absent) */
    size_t config_len;             /* bytes in config_yaml, excluding the terminating NUL */
    uint32_t worker_count;         /* number of worker threads; host->worker_index() is below this */
    const struct ringd_host* host; /* the host service table; valid for the whole life of the instance */
    ringd_listener* listener;      /* handle for host->log; valid for the whole life of the instance */
} ringd_instance_args;

/* ---- Child processes (host->spawn) -------------------------------------------------------------------- */

/* A command for the host to run. Pointers are owned by the caller and only read during the spawn() call. */
typedef struct ringd_spawn_request {
    uint32_t struct_size;    /* sizeof(ringd_spawn_request); spawn() returns -EINVAL, reading nothing else, if it
                                is smaller than the struct of ABI 1.0 */
    const char* const* argv; /* NULL-terminated; argv[0] is an absolute path or a name searched in PATH of envp */
    const char* const* envp; /* NULL-terminated environment; NULL means PATH=/usr/local/bin:/usr/bin:/bin and
                                LANG=C.UTF-8 only */
    const char* cwd;         /* working directory, or NULL for "/" */
    uint32_t timeout_ms;     /* 0 = none; on expiry SIGTERM to the process group, SIGKILL 1 s later */
    uint64_t max_output;     /* cap on stdout+stderr bytes kept; the rest is read and discarded */
    int64_t run_as_uid;      /* -1 = same as ringd; otherwise setuid (needs root). Without run_as_gid: the
                                user's primary group and supplementary groups (initgroups-like); a uid
                                without a passwd entry fails with ENOENT at RINGD_SPAWN_STEP_CREDENTIALS */
    int64_t run_as_gid;      /* -1 = same as ringd (or the user's, with run_as_uid); otherwise setgid, and the
                                supplementary groups are dropped */
} ringd_spawn_request;

/* Which step of starting a child failed (ringd_spawn_result.spawn_step, meaningful when spawn_error != 0). */
typedef enum ringd_spawn_step {
    RINGD_SPAWN_STEP_EXEC = 0,        /* execve itself (older hosts: also any failure of a child started
                                         without run_as) */
    RINGD_SPAWN_STEP_HOST = 1,        /* the host's own resources: pipes, fork, pidfd */
    RINGD_SPAWN_STEP_STDIO = 2,       /* /dev/null and the output pipes onto descriptors 0, 1 and 2 */
    RINGD_SPAWN_STEP_CREDENTIALS = 3, /* looking up the run_as user, setgroups, setgid, setuid for run_as */
    RINGD_SPAWN_STEP_CWD = 4          /* chdir to the request's cwd */
} ringd_spawn_step;

/* What a finished child produced. Owned by the host; valid only during the completion callback. */
typedef struct ringd_spawn_result {
    uint32_t struct_size;
    int spawn_error;      /* 0, or a positive errno if the child could not be started (then nothing ran;
                             spawn_step says which step failed) */
    int exit_code;        /* exit status if the child exited, else -1 */
    int term_signal;      /* signal number if the child was killed by a signal, else 0 */
    int timed_out;        /* 1 if the timeout fired */
    int truncated;        /* 1 if output beyond max_output was discarded */
    uint64_t duration_us; /* from spawn to the last of: exit observed, both pipes at EOF */
    const uint8_t* stdout_data;
    size_t stdout_len;
    const uint8_t* stderr_data;
    size_t stderr_len;
    int spawn_step; /* a ringd_spawn_step, with spawn_error. Appended later: an older host does not set it, so
                       read it only if struct_size > offsetof(ringd_spawn_result, spawn_step) */
} ringd_spawn_result;

/* Called on the connection's worker thread once the child has exited and its pipes are drained. Not called
 * if the connection closes first (the host then kills the child's process group and reaps it). */
typedef void (*ringd_spawn_done_fn)(void* ctx, ringd_conn* conn, const ringd_spawn_result* result);

/* ---- Outbound connections (host->connect, ABI 1.1) ------------------------------------------------------- */

/* Where to connect. Pointers are owned by the caller and only read during the connect() call. */
typedef struct ringd_connect_request {
    uint32_t struct_size;           /* sizeof(ringd_connect_request); smaller than ABI 1.1's struct: -EINVAL */
    uint32_t timeout_ms;            /* connect timeout; 0 means 10 s. Expiry reports -ETIMEDOUT to on_connect */
    const struct sockaddr* address; /* AF_INET, AF_INET6 or AF_UNIX (stream); copied */
    socklen_t address_len;
    void* user; /* the connection's initial user pointer (get_user), so on_connect and on_close can find the
                   plugin's state even when the connect fails */
} ringd_connect_request;

/* ---- Tasks (host->post, host->post_worker, ABI 1.1) ------------------------------------------------------ */

/* A task for a connection's worker. Runs there exactly once if post() returned 0: with `conn` the live
 * connection (every host call on it is allowed, as in its own callbacks), or with `conn` NULL when the
 * connection was gone by the time the task arrived, so the task can still free `arg`. `instance` is the
 * instance that posted the task (kept alive until the task has run). */
typedef void (*ringd_conn_task_fn)(void* instance, ringd_conn* conn, void* arg);

/* A task for a worker. Runs there exactly once if post_worker() returned 0: with status 0 while the instance
 * serves on that worker (between its on_worker_start and on_worker_stop there), or with status -ESRCH when it
 * does not (not yet, or no longer), so the task can still free `arg`. */
typedef void (*ringd_worker_task_fn)(void* instance, void* arg, int status);

/* ---- Host services --------------------------------------------------------------------------------------- */

/* Function table the host gives every instance (ringd_instance_args.host). Valid for the instance's life. */
typedef struct ringd_host {
    uint32_t abi_version; /* RINGD_PLUGIN_ABI_VERSION of the host */
    uint32_t struct_size; /* sizeof(ringd_host) as the host knows it: check before using later fields */

    /* Logging through the daemon's logger, tagged with the listener's name. `msg` is copied. */
    void (*log)(ringd_listener* listener, ringd_log_level level, const char* msg);

    /* Index of the calling worker thread, in [0, worker_count). */
    uint32_t (*worker_index)(void);

    /* -- stream connections -- */

    /* Queue bytes for sending; they are copied, so `data` may be reused at once. Bytes go out in the order
     * queued. Returns 0, -EPIPE if the write side is already shut down or the connection is closing. */
    int (*send)(ringd_conn* conn, const void* data, size_t len);

    /* Queue a buffer without copying: the host owns `data` from this call on and calls free_fn(data, ctx)
     * once it has been sent or the connection is gone (also when this call fails). */
    int (*send_owned)(ringd_conn* conn, void* data, size_t len, void (*free_fn)(void* data, void* ctx), void* ctx);

    /* Zero-copy append: returns a pointer to `len` writable bytes at the end of the output queue, or NULL.
     * Fill them, then call send_commit() with how many were written (≤ len) before any other host call on
     * this connection and before the callback returns. A send_commit() without a reservation is ignored. */
    uint8_t* (*send_reserve)(ringd_conn* conn, size_t len);
    void (*send_commit)(ringd_conn* conn, size_t used);

    /* Close: RINGD_CLOSE_AFTER_FLUSH sends what is queued, then FIN; RINGD_CLOSE_ABORT resets now.
     * on_close follows (possibly later, after the flush). No data callbacks arrive after this call. */
    int (*close)(ringd_conn* conn, uint32_t flags);

    /* Send FIN once everything queued so far is sent; reading continues (half-close). */
    int (*shutdown_write)(ringd_conn* conn);

    /* Stop / restart delivering on_data. While paused the kernel's receive buffer fills and the peer is
     * flow-controlled. The host also pauses on its own while queued output exceeds max_output_buffer (a relay,
     * whose output on one connection comes from another, keeps its queues below that and pauses the other side
     * itself: docs/plugins.md, "Outbound connections"). */
    int (*pause_reading)(ringd_conn* conn);
    int (*resume_reading)(ringd_conn* conn);

    /* Peer and local addresses. *len is in/out like getpeername(2). On a listener with `proxy_protocol`, the
     * client and destination its PROXY header named (the socket's own when the header named none, e.g. LOCAL). */
    int (*peer_address)(ringd_conn* conn, struct sockaddr* addr, socklen_t* len);
    int (*local_address)(ringd_conn* conn, struct sockaddr* addr, socklen_t* len);

    /* One pointer per connection for the plugin's state; NULL at on_open. The plugin frees it in on_close. */
    void* (*get_user)(ringd_conn* conn);
    void (*set_user)(ringd_conn* conn, void* user);

    /* One-shot timer: on_timer(instance, conn, timer_id, arg) runs after delay_ms on the connection's worker.
     * Returns a positive timer id, or a negative errno. Pending timers are cancelled when the connection
     * closes (on_timer is then never called). A delay beyond a year counts as a year. */
    int64_t (*timer_start)(ringd_conn* conn, uint64_t delay_ms, void* arg);
    int (*timer_cancel)(ringd_conn* conn, int64_t timer_id);

    /* -- datagrams -- */

    /* Send one datagram from the listener's socket that received `dgram` (call during on_datagram). `to`
     * NULL means back to the sender. The payload is copied; sends are batched through the ring. Returns 0,
     * or -ENOBUFS if the worker's datagram send queue is full (the datagram is dropped and counted). */
    int (*send_datagram)(ringd_datagram* dgram, const void* data, size_t len, const struct sockaddr* to,
                         socklen_t to_len);

    /* -- child processes -- */

    /* Run a command asynchronously on the connection's worker: no shell, stdin from /dev/null, its own
     * process group, stdout/stderr collected through the ring, exit observed through a pidfd.
     * done(ctx, conn, result) runs when it has finished. Returns 0 or a negative errno (then done is never
     * called): -EINVAL, or -ENOENT/-EACCES when argv[0] is not found or not executable. The process itself is
     * started off the worker thread; if that fails (e.g. ENOEXEC, or EPERM switching to run_as_uid), done runs
     * with result->spawn_error and result->spawn_step set. */
    int (*spawn)(ringd_conn* conn, const ringd_spawn_request* request, ringd_spawn_done_fn done, void* ctx);

    /* Credentials of the peer process (SO_PEERCRED) on Unix-socket connections; -ENOTSUP-like errors
     * (negative errno) elsewhere. Any out-pointer may be NULL. */
    int (*peer_credentials)(ringd_conn* conn, int32_t* pid, uint32_t* uid, uint32_t* gid);

    /* ==== ABI 1.1: check RINGD_HOST_HAS(host, abi_minor) (or any field below) before using these. ==== */

    uint32_t abi_minor; /* the host's RINGD_PLUGIN_ABI_MINOR */

    /* -- reaching connections from anywhere -- */

    /* The connection's id (on the connection's worker; 0 from any other thread). Stable for its whole life. */
    ringd_conn_id (*conn_id)(ringd_conn* conn);

    /* Any thread. Queue a copy of `data` for the connection, as send() would on its worker, in the order of the
     * calls made by one thread. Returns 0 once queued, -ENOENT if the connection is known to be gone, -EPIPE if
     * it is closing or its write side is shut, -EINVAL for an id that cannot be valid (0, or naming no worker),
     * -ENOBUFS if the connection's worker's mailbox is full (see below; nothing is queued, try again later).
     * A connection that goes away while the bytes are on their way drops them. On the connection's own worker
     * the bytes are queued at once, exactly like send().
     *
     * The mailbox: send_to, close_id, post and post_worker from another thread travel as messages to the
     * target worker, which applies them in its own loop (woken through its io_uring). Each worker's mailbox
     * holds at most 16 MiB of messages not yet taken by that worker, counting each message's payload plus
     * about 100 bytes; a call that would exceed it fails with -ENOBUFS (so does one message larger than that).
     * Messages from one thread to one worker are applied in the order they were made. */
    int (*send_to)(ringd_conn_id id, const void* data, size_t len);

    /* Any thread. close() by id (RINGD_CLOSE_AFTER_FLUSH or RINGD_CLOSE_ABORT; at once on the connection's own
     * worker). Returns 0, -ENOENT (gone), -EINVAL (an id that cannot be valid, or unknown flags), -ENOBUFS
     * (mailbox full). */
    int (*close_id)(ringd_conn_id id, uint32_t flags);

    /* Any thread. Run fn(instance, conn, arg) on the connection's worker (see ringd_conn_task_fn), after what
     * the same thread queued for that connection before; on that worker too it runs later, from its loop, never
     * inside this call. `self` is the posting instance's own handle. Returns 0 (fn will run exactly once), or
     * -ENOENT, -EINVAL, -ENOBUFS (mailbox full) or -ESHUTDOWN (the instance is being destroyed): then fn will
     * never run and `arg` is still the caller's. */
    int (*post)(ringd_listener* self, ringd_conn_id id, ringd_conn_task_fn fn, void* arg);

    /* Any thread. Run fn(instance, arg, status) on worker `worker` (< worker_count); see ringd_worker_task_fn.
     * Tasks from one thread to one worker run in the order posted. Returns 0 (fn will run exactly once), or
     * -EINVAL for a worker out of range, -ENOBUFS (mailbox full), -ESHUTDOWN (the workers are not running: the
     * daemon is stopping, or it is `ringd --check-config`); then fn will never run. */
    int (*post_worker)(ringd_listener* self, uint32_t worker, ringd_worker_task_fn fn, void* arg);

    /* On a worker thread: calls fn(ctx, conn) for each open connection of this instance on the calling worker
     * (accepted and outbound, not yet closing), stopping early when fn returns non-zero. fn may send to, close
     * or otherwise act on the connection it is given, and on connections it was given before. Returns how many
     * connections fn was called for, or -EPERM off a worker thread (-EINVAL without fn). For all workers, post a
     * task to each. A fn that lets an exception escape has that connection aborted and ends the iteration. */
    int (*for_each_connection)(ringd_listener* self, int (*fn)(void* ctx, ringd_conn* conn), void* ctx);

    /* -- outbound connections -- */

    /* On a worker thread (in any callback or task of this instance): open a stream connection through the
     * engine. On success returns 0 and sets *conn (valid until on_close returns, like an accepted one); sends
     * made before the connection is established are queued and go out once it is. The outcome arrives as
     * on_connect(instance, conn, 0 or -errno); after a failure on_close(RINGD_CLOSE_ERROR) follows at once.
     * A close (either flag), the idle timeout or a shutdown before the outcome cancels the connect and drops
     * what was queued: on_connect(-ECANCELED, or -ETIMEDOUT for the idle timeout), then on_close with the
     * reason. So every connection connect() returned gets exactly one on_connect, before its on_close.
     * Outbound connections belong to the instance: they run on the calling worker, count against the
     * listener's max_outbound_connections and idle_timeout, and are closed by a shutdown like accepted ones.
     * Errors: -EPERM off a worker thread, -EINVAL (bad request or address), -EAGAIN when
     * max_outbound_connections are open, -ESHUTDOWN when the daemon is stopping or the instance no longer
     * takes new connections (a reload replaced it, or its listener was removed), -EOPNOTSUPP for the instance
     * of a udp:// listener (outbound connections use the limits of a stream listener), or a socket(2) errno. */
    int (*connect)(ringd_listener* self, const ringd_connect_request* request, ringd_conn** conn);

    /* -- flow control -- */

    /* Bytes queued on the connection and not yet taken by the kernel (>= 0; a send in flight counts until it
     * completes), or a negative errno. */
    int64_t (*queued_output)(ringd_conn* conn);

    /* One-shot: call on_output_drained(instance, conn) once this connection's queued output is at or below
     * `low_water` bytes (on the next settle if it already is; never from inside this call). A second call
     * replaces the first. Returns 0, or -EPIPE once the connection is closing (a close drops the request too).
     * What a proxy needs: stop reading one side while the other side's output is high, resume when it
     * drains. */
    int (*notify_output_below)(ringd_conn* conn, size_t low_water);

    /* -- per-worker timers -- */

    /* On a worker thread: one-shot on_worker_timer(instance, timer_id, arg) after delay_ms on the calling
     * worker, belonging to no connection. Returns a positive id or a negative errno (-EPERM off a worker,
     * -ESRCH where the instance does not serve: before its on_worker_start or from its on_worker_stop there).
     * Timers still pending when the instance stops on that worker are dropped (never called). Cancelling
     * returns 0, or -ENOENT for a timer that fired, was cancelled or is not this worker's. */
    int64_t (*worker_timer_start)(ringd_listener* self, uint64_t delay_ms, void* arg);
    int (*worker_timer_cancel)(ringd_listener* self, int64_t timer_id);

    /* -- counters and gauges -- */

    /* During create() only (main thread): register a metric of this instance. `name` matches
     * [a-z_][a-z0-9_]* (at most 64 characters; exported as ringd_plugin_<name> with the listener's label),
     * `help` is one line of text (or NULL). Returns an id >= 0, or -EINVAL (bad name or kind, a line break in
     * help), -EEXIST (name taken), -ENOSPC (more than 64 metrics), -EPERM (not during create, or from another
     * thread than the one running create). */
    int (*metric_register)(ringd_listener* self, const char* name, uint32_t kind, const char* help);

    /* Any thread; costs a plain store on a worker (each worker has its own cells, summed on read), an atomic
     * add elsewhere. Adds delta to a counter (delta >= 0) or a gauge. Unknown ids, and a negative delta for a
     * counter, are ignored. */
    void (*metric_add)(ringd_listener* self, int metric, int64_t delta);

    /* Any thread: the metric's current value, summed over the workers. Returns 0 or -EINVAL (unknown id). */
    int (*metric_read)(ringd_listener* self, int metric, int64_t* value);

    /* -- the PROXY protocol (appended after the first 1.1 release: check RINGD_HOST_HAS(host, proxy_tlv)) -- */

    /* On the connection's worker: the first TLV of `type` (PP2_TYPE_ALPN 0x01, PP2_TYPE_AUTHORITY 0x02,
     * PP2_TYPE_UNIQUE_ID 0x05, PP2_TYPE_SSL 0x20, a custom 0xE0-0xEF, ...) of the PROXY protocol v2 header the
     * connection arrived with, on a listener with `proxy_protocol` (docs/proxy-protocol.md). Returns 0 and sets
     * *data and *len to its value, which the host owns and keeps unchanged until on_close returns (*len may be 0);
     * -ENOENT when the header has no such TLV, or there was no v2 header (a v1 header, a listener without
     * proxy_protocol, an outbound connection); -EINVAL when data or len is NULL; -EPERM off the connection's
     * worker. Datagrams have no connection, so their headers' TLVs are not available. */
    int (*proxy_tlv)(ringd_conn* conn, uint8_t type, const void** data, size_t* len);
} ringd_host;

/* Whether the host table has `field` (a plugin built against a newer header, in an older host). */
#define RINGD_HOST_HAS(host, field)                                                                                    \
    ((host)->struct_size >= offsetof(ringd_host, field) + sizeof(((const ringd_host*)0)->field))

/* What on_handover is told. Owned by the host; valid during the call. */
typedef struct ringd_handover_info {
    uint32_t struct_size;
    uint32_t worker;              /* RINGD_NO_WORKER on the main thread, else the worker the call runs on */
    const char* previous_version; /* the previous instance's plugin version (it may be another build) */
} ringd_handover_info;

/* ---- The plugin's descriptor ---------------------------------------------------------------------------- */

typedef struct ringd_plugin_descriptor {
    uint32_t abi_version;  /* must be RINGD_PLUGIN_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(ringd_plugin_descriptor) */
    const char* name;      /* short name, e.g. "echo-upper"; static storage */
    const char* version;   /* plugin version, e.g. "1.0.0"; static storage */
    uint32_t socket_kinds; /* RINGD_KIND_* bits this plugin serves */

    /* Validate the config and build an instance for one listener. Return 0 and set *instance (NULL is allowed
     * for a plugin without state; destroy(NULL) still follows), or return non-zero and fill *error. Called on
     * the main thread, also by `ringd --check-config`. */
    int (*create)(const ringd_instance_args* args, void** instance, ringd_error* error);
    void (*destroy)(void* instance);

    /* Stream callbacks. `conn` is valid from on_open until on_close returns. Any may be NULL.
     * on_open: a new connection (return non-zero to refuse it: it is closed at once, on_close still runs).
     * on_data: `data` is owned by the host and valid only until on_data returns. */
    int (*on_open)(void* instance, ringd_conn* conn);
    void (*on_data)(void* instance, ringd_conn* conn, const uint8_t* data, size_t len);
    /* The peer sent FIN (read side at EOF). Every byte the peer sent before it has been given to on_data first,
     * even if reading was paused meanwhile (then this waits until the plugin resumes reading). The connection
     * stays open for sending until the plugin closes it; if NULL, the host closes after flushing queued output. */
    void (*on_peer_shutdown)(void* instance, ringd_conn* conn);
    void (*on_close)(void* instance, ringd_conn* conn, ringd_close_reason reason);

    /* Datagram callback: one whole datagram. `data`, `peer` and `dgram` are valid only during the call. */
    void (*on_datagram)(void* instance, ringd_datagram* dgram, const uint8_t* data, size_t len,
                        const struct sockaddr* peer, socklen_t peer_len);

    /* A timer started with host->timer_start fired. */
    void (*on_timer)(void* instance, ringd_conn* conn, int64_t timer_id, void* arg);

    /* ==== ABI 1.1: a host reads these only when struct_size covers them; a 1.0 plugin has none. ==== */

    uint32_t abi_minor; /* RINGD_PLUGIN_ABI_MINOR the plugin was built with */

    /* An outbound connection (host->connect) is established (error 0) or failed (-errno: -ECONNREFUSED,
     * -ETIMEDOUT, -ECANCELED when it was closed first, ...; on_close follows at once). Then the connection gets
     * the same callbacks as an accepted one. */
    void (*on_connect)(void* instance, ringd_conn* conn, int error);

    /* The output armed by host->notify_output_below fell to its low-water mark. */
    void (*on_output_drained)(void* instance, ringd_conn* conn);

    /* The instance starts / stops serving on a worker, on that worker's thread: start before any callback
     * there, stop after the last one (its last connection there closed, its listener retired or replaced).
     * Keep per-worker state (indexed by `worker`) between the two without locks. */
    void (*on_worker_start)(void* instance, uint32_t worker);
    void (*on_worker_stop)(void* instance, uint32_t worker);

    /* A timer started with host->worker_timer_start fired, on the worker that started it. */
    void (*on_worker_timer)(void* instance, int64_t timer_id, void* arg);

    /* A reload created `instance` for a listener whose previous instance, `previous`, came from a plugin of the
     * same name: the new instance may take or share the previous one's state (a chat room, a cache). Called
     * first on the main thread (info->worker == RINGD_NO_WORKER), after create() and before the new instance
     * serves, while `previous` may still be serving on the workers (read only what is safe to read
     * concurrently); then on each worker's thread where `previous` is present, right after
     * on_worker_start(instance, worker) there, where both instances' state for that worker can be touched
     * without locks (no callback of either runs there meanwhile). A listener that moved to another address is
     * handed over the same way. A failure (an exception) is logged and counted; the reload goes on.
     * `previous` keeps serving the connections it already has until they close, on its own code; it is
     * destroyed after its last one. */
    void (*on_handover)(void* instance, void* previous, const ringd_handover_info* info);
} ringd_plugin_descriptor;

typedef const ringd_plugin_descriptor* (*ringd_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGD_PLUGIN_H */
