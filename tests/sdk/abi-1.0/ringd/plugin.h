/*
 * ringd plugin ABI — the whole contract between the ringd daemon and a handler plugin.
 *
 * Pure C, no dependencies beyond <stddef.h>, <stdint.h> and <sys/socket.h>, so a plugin can be built by any
 * compiler (or language) that can produce a shared library with a C entry point.
 *
 * A plugin is a shared object exporting exactly one symbol, RINGD_PLUGIN_ENTRY_SYMBOL, a function that returns
 * a pointer to a static ringd_plugin_descriptor. The host loads it with RTLD_NOW|RTLD_LOCAL, calls the entry,
 * and refuses the plugin (naming the file) unless descriptor->abi_version equals the host's
 * RINGD_PLUGIN_ABI_VERSION. Minor, backward-compatible additions only append fields to the ends of the structs
 * below; their `struct_size` fields tell each side how much of the other's struct it may read.
 *
 * Threading model
 *   - create() is called on the daemon's main thread, once per listener (and again on reload when the
 *     listener's plugin config changes). destroy() is called exactly once per instance, on any ringd thread,
 *     after every callback for that instance has returned and no connection references it any more.
 *   - Connection callbacks (on_open, on_data, on_close, on_timer, spawn completions) for one connection always
 *     run on the same worker thread and never concurrently with each other.
 *   - Different connections of one instance may run on different worker threads at the same time, so the
 *     instance itself must be treated as read-only after create(), or protected by the plugin. For lock-free
 *     per-worker state, index an array of ringd_instance_args.worker_count entries with
 *     host->worker_index(), which is stable for the calling thread.
 *   - Every host function that takes a ringd_conn* must be called on that connection's worker thread (from any
 *     callback running there; a call on another connection of the same worker takes effect before the worker
 *     next submits I/O). Called from any other thread, it changes nothing and returns -EPERM (NULL from
 *     send_reserve and get_user), and the misuse is logged.
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
typedef struct ringd_conn ringd_conn;         /* one accepted stream connection */
typedef struct ringd_datagram ringd_datagram; /* one received datagram, valid during on_datagram only */
typedef struct ringd_listener ringd_listener; /* the listener an instance serves; valid for the instance's life */

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
     * flow-controlled. The host also pauses on its own while queued output exceeds max_output_buffer. */
    int (*pause_reading)(ringd_conn* conn);
    int (*resume_reading)(ringd_conn* conn);

    /* Peer and local addresses. *len is in/out like getpeername(2). */
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
} ringd_host;

/* ---- The plugin's descriptor ---------------------------------------------------------------------------- */

typedef struct ringd_plugin_descriptor {
    uint32_t abi_version;  /* must be RINGD_PLUGIN_ABI_VERSION */
    uint32_t struct_size;  /* sizeof(ringd_plugin_descriptor) */
    const char* name;      /* short name, e.g. "echo-upper"; static storage */
    const char* version;   /* plugin version, e.g. "1.0.0"; static storage */
    uint32_t socket_kinds; /* RINGD_KIND_* bits this plugin serves */

    /* Validate the config and build an instance for one listener. Return 0 and set *instance, or return
     * non-zero and fill *error. Called on the main thread, also by `ringd --check-config`. */
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
} ringd_plugin_descriptor;

typedef const ringd_plugin_descriptor* (*ringd_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* RINGD_PLUGIN_H */
