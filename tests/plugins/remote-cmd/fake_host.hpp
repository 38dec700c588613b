// A fake ringd host for driving the real remote-cmd.so through its C ABI, single-threaded and synchronous:
// sends are appended to the connection's `out`, spawn requests are recorded (argv copied during the call,
// as the ABI allows) and completed by the test with complete(), timers are recorded and fired by the test.
// Buffers given with send_owned are freed at once, as if the kernel took them immediately, unless the
// connection's `hold_owned` is set: then they stay "unsent" until the test calls Plugin::transmit() (or the
// connection is gone: Plugin::close() frees them after on_close, as ringd does).
// run_for_real() executes a recorded request with fork/exec, for end-to-end checks without the daemon.
#pragma once

#include <catch2/catch.hpp>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <map>
#include <memory>
#include <netinet/in.h>
#include <poll.h>
#include <ringd/plugin.h>
#include <spawn.h>
#include <string>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>
#include <vector>

#ifndef REMOTE_CMD_PLUGIN
#error "REMOTE_CMD_PLUGIN must name the built remote-cmd.so"
#endif

struct SpawnCall {
    std::vector<std::string> argv;
    bool default_env = false;
    bool default_cwd = false;
    uint32_t timeout_ms = 0;
    uint64_t max_output = 0;
    int64_t uid = 0;
    int64_t gid = 0;
    ringd_spawn_done_fn done = nullptr;
    void* ctx = nullptr;
};

// The opaque handle, defined here: the plugin only ever passes the pointer back.
struct ringd_conn {
    std::string out;
    bool closed = false;
    uint32_t close_flags = 0;
    bool write_shut = false;
    bool paused = false;
    void* user = nullptr;
    sockaddr_storage peer{};
    socklen_t peer_len = 0;
    int32_t pid = 4242;
    uint32_t uid = 1000;
    uint32_t gid = 1000;
    std::vector<SpawnCall> spawns; // not yet completed, oldest first
    int spawn_errno = 0;           // make the next spawn() call fail with -spawn_errno
    std::map<int64_t, void*> timers;
    std::vector<uint64_t> timer_delays; // of every timer_start, in order
    bool hold_owned = false;

    struct Owned {
        void* data;
        void (*free_fn)(void*, void*);
        void* ctx;
    };
    std::vector<Owned> held; // owned buffers queued but not yet "sent"

    // The kernel takes every held buffer: the host frees them (outside any plugin callback).
    void transmit()
    {
        for (const Owned& o : std::exchange(held, {}))
            o.free_fn(o.data, o.ctx);
    }

    // Takes everything sent so far.
    std::string take()
    {
        std::string s = std::move(out);
        out.clear();
        return s;
    }
};

namespace fake {

inline std::vector<std::string> g_log;
inline int64_t g_next_timer = 1;

inline void log(ringd_listener*, ringd_log_level, const char* msg)
{
    g_log.emplace_back(msg);
}
inline uint32_t worker_index()
{
    return 0;
}
inline int send(ringd_conn* c, const void* data, size_t len)
{
    if (c->closed || c->write_shut) return -EPIPE;
    c->out.append(static_cast<const char*>(data), len);
    return 0;
}
inline int send_owned(ringd_conn* c, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx)
{
    const int rc = send(c, data, len);
    if (rc == 0 && c->hold_owned) {
        c->held.push_back({data, free_fn, ctx});
    } else {
        free_fn(data, ctx);
    }
    return rc;
}
inline uint8_t* send_reserve(ringd_conn*, size_t)
{
    return nullptr;
}
inline void send_commit(ringd_conn*, size_t) {}
inline int close(ringd_conn* c, uint32_t flags)
{
    c->closed = true;
    c->close_flags = flags;
    return 0;
}
inline int shutdown_write(ringd_conn* c)
{
    c->write_shut = true;
    return 0;
}
inline int pause_reading(ringd_conn* c)
{
    c->paused = true;
    return 0;
}
inline int resume_reading(ringd_conn* c)
{
    c->paused = false;
    return 0;
}
inline int peer_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    const socklen_t n = std::min(*len, c->peer_len);
    std::memcpy(addr, &c->peer, n);
    *len = c->peer_len;
    return 0;
}
inline int local_address(ringd_conn* c, sockaddr* addr, socklen_t* len)
{
    return peer_address(c, addr, len);
}
inline void* get_user(ringd_conn* c)
{
    return c->user;
}
inline void set_user(ringd_conn* c, void* user)
{
    c->user = user;
}
inline int64_t timer_start(ringd_conn* c, uint64_t delay_ms, void* arg)
{
    const int64_t id = g_next_timer++;
    c->timers[id] = arg;
    c->timer_delays.push_back(delay_ms);
    return id;
}
inline int timer_cancel(ringd_conn* c, int64_t id)
{
    return c->timers.erase(id) ? 0 : -ENOENT;
}
inline int send_datagram(ringd_datagram*, const void*, size_t, const sockaddr*, socklen_t)
{
    return -ENOTSUP;
}
inline int spawn(ringd_conn* c, const ringd_spawn_request* r, ringd_spawn_done_fn done, void* ctx)
{
    if (c->spawn_errno != 0) return -std::exchange(c->spawn_errno, 0);
    SpawnCall call;
    for (const char* const* a = r->argv; *a != nullptr; ++a)
        call.argv.emplace_back(*a);
    call.default_env = r->envp == nullptr;
    call.default_cwd = r->cwd == nullptr;
    call.timeout_ms = r->timeout_ms;
    call.max_output = r->max_output;
    call.uid = r->run_as_uid;
    call.gid = r->run_as_gid;
    call.done = done;
    call.ctx = ctx;
    c->spawns.push_back(std::move(call));
    return 0;
}
inline int peer_credentials(ringd_conn* c, int32_t* pid, uint32_t* uid, uint32_t* gid)
{
    *pid = c->pid;
    *uid = c->uid;
    *gid = c->gid;
    return 0;
}

// The host table; without peer credentials it looks like a host that predates that service.
inline ringd_host make_host(bool with_peer_credentials)
{
    ringd_host h{};
    h.abi_version = RINGD_PLUGIN_ABI_VERSION;
    h.struct_size = with_peer_credentials ? sizeof(ringd_host) : offsetof(ringd_host, peer_credentials);
    h.log = log;
    h.worker_index = worker_index;
    h.send = send;
    h.send_owned = send_owned;
    h.send_reserve = send_reserve;
    h.send_commit = send_commit;
    h.close = close;
    h.shutdown_write = shutdown_write;
    h.pause_reading = pause_reading;
    h.resume_reading = resume_reading;
    h.peer_address = peer_address;
    h.local_address = local_address;
    h.get_user = get_user;
    h.set_user = set_user;
    h.timer_start = timer_start;
    h.timer_cancel = timer_cancel;
    h.send_datagram = send_datagram;
    h.spawn = spawn;
    h.peer_credentials = with_peer_credentials ? peer_credentials : nullptr;
    return h;
}

// Runs a recorded spawn for real (fork/exec, stdin /dev/null, default env) and returns what it produced.
struct RealRun {
    std::string out, err;
    int status = 0;
};
inline RealRun run_for_real(const SpawnCall& call)
{
    int out_pipe[2];
    int err_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    REQUIRE(::pipe(err_pipe) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<char*> argv;
    for (const auto& a : call.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    char path_env[] = "PATH=/usr/local/bin:/usr/bin:/bin";
    char* envp[] = {path_env, nullptr};
    pid_t pid = 0;
    REQUIRE(posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp) == 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    RealRun run;
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        REQUIRE(::poll(fds, 2, 10'000) > 0);
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || fds[i].revents == 0) continue;
            char buffer[4096];
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n <= 0) {
                ::close(fds[i].fd);
                fds[i].fd = -1;
                --open_fds;
            } else {
                (i == 0 ? run.out : run.err).append(buffer, static_cast<std::size_t>(n));
            }
        }
    }
    REQUIRE(::waitpid(pid, &run.status, 0) == pid);
    return run;
}

// The plugin, loaded from its .so, with one instance created from `yaml`.
class Plugin {
public:
    explicit Plugin(const std::string& yaml, bool with_peer_credentials = true)
        : host_(make_host(with_peer_credentials))
    {
        handle_ = ::dlopen(REMOTE_CMD_PLUGIN, RTLD_NOW | RTLD_LOCAL);
        REQUIRE(handle_ != nullptr);
        auto entry = reinterpret_cast<ringd_plugin_entry_fn>(::dlsym(handle_, RINGD_PLUGIN_ENTRY_SYMBOL));
        REQUIRE(entry != nullptr);
        d_ = entry();
        REQUIRE(d_->abi_version == RINGD_PLUGIN_ABI_VERSION);
        ringd_instance_args args{};
        args.struct_size = sizeof args;
        args.socket_kind = RINGD_KIND_STREAM;
        args.listener_name = "cmd";
        args.config_yaml = yaml.c_str();
        args.config_len = yaml.size();
        args.worker_count = 1;
        args.host = &host_;
        args.listener = nullptr;
        create_rc_ = d_->create(&args, &instance_, &error_);
    }
    ~Plugin()
    {
        for (auto& c : conns_) {
            if (c->user != nullptr) d_->on_close(instance_, c.get(), RINGD_CLOSE_SHUTDOWN);
            c->transmit();
        }
        if (create_rc_ == 0) d_->destroy(instance_);
        ::dlclose(handle_);
    }
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    [[nodiscard]] bool created() const { return create_rc_ == 0; }
    [[nodiscard]] const ringd_error& error() const { return error_; }
    [[nodiscard]] const ringd_plugin_descriptor& descriptor() const { return *d_; }

    // A new connection from a TCP peer (or a unix peer with the given credentials).
    ringd_conn& open(bool unix_peer = false, uint32_t uid = 1000, uint32_t gid = 1000)
    {
        auto c = std::make_unique<ringd_conn>();
        if (unix_peer) {
            c->peer.ss_family = AF_UNIX;
            c->peer_len = sizeof(sa_family_t);
        } else {
            c->peer.ss_family = AF_INET;
            c->peer_len = sizeof(sockaddr_in);
        }
        c->uid = uid;
        c->gid = gid;
        REQUIRE(d_->on_open(instance_, c.get()) == 0);
        conns_.push_back(std::move(c));
        return *conns_.back();
    }
    void data(ringd_conn& c, std::string_view bytes)
    {
        d_->on_data(instance_, &c, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    }
    void peer_shutdown(ringd_conn& c) { d_->on_peer_shutdown(instance_, &c); }
    void close(ringd_conn& c)
    {
        c.spawns.clear(); // the host kills the child; its completion never comes
        c.timers.clear();
        d_->on_close(instance_, &c, RINGD_CLOSE_PEER);
        c.transmit(); // ringd frees the output queue only after on_close
    }
    // Completes the oldest pending spawn of `c` with `r` (output views must stay valid during the call).
    // `struct_size` below sizeof r plays an older host that knew fewer fields.
    void complete(ringd_conn& c, ringd_spawn_result r, uint32_t struct_size = sizeof(ringd_spawn_result))
    {
        REQUIRE_FALSE(c.spawns.empty());
        SpawnCall call = std::move(c.spawns.front());
        c.spawns.erase(c.spawns.begin());
        r.struct_size = struct_size;
        call.done(call.ctx, &c, &r);
    }
    void complete_ok(ringd_conn& c, std::string_view out = "", std::string_view err = "", int exit_code = 0)
    {
        ringd_spawn_result r{};
        r.exit_code = exit_code;
        r.duration_us = 2500;
        r.stdout_data = reinterpret_cast<const uint8_t*>(out.data());
        r.stdout_len = out.size();
        r.stderr_data = reinterpret_cast<const uint8_t*>(err.data());
        r.stderr_len = err.size();
        complete(c, r);
    }
    // Fires every pending timer of `c` once.
    void fire_timers(ringd_conn& c)
    {
        auto timers = std::exchange(c.timers, {});
        for (const auto& [id, arg] : timers)
            d_->on_timer(instance_, &c, id, arg);
    }

private:
    ringd_host host_;
    void* handle_ = nullptr;
    const ringd_plugin_descriptor* d_ = nullptr;
    void* instance_ = nullptr;
    ringd_error error_{};
    int create_rc_ = -1;
    std::vector<std::unique_ptr<ringd_conn>> conns_;
};

} // namespace fake
