// A fake ringd host for unit tests that drive a built plugin .so through its C ABI only: dlopen, the entry
// symbol, create() with a config, and callbacks whose host calls (sends, closes, datagrams, logs) are recorded.
// The Recorder doubles as the ringd_conn, ringd_datagram and ringd_listener handle, so every host function
// finds it from its first argument. Single-threaded; worker_index() returns fake::worker.
#pragma once

#include <arpa/inet.h>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <dlfcn.h>
#include <netinet/in.h>
#include <ringd/plugin.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fake {

inline uint32_t worker = 0;

struct Recorder {
    std::vector<std::string> logs;      // "<level>: <message>"
    std::string sent;                   // bytes queued on the stream connection
    std::vector<uint32_t> closes;       // flags of each close() call
    std::vector<std::string> datagrams; // payloads passed to send_datagram
    int send_datagram_result = 0;       // what send_datagram returns (e.g. -ENOBUFS)
    void* user = nullptr;

    ringd_conn* conn() { return reinterpret_cast<ringd_conn*>(this); }
    ringd_datagram* dgram() { return reinterpret_cast<ringd_datagram*>(this); }
    ringd_listener* listener() { return reinterpret_cast<ringd_listener*>(this); }
    [[nodiscard]] bool logged(const std::string& needle) const
    {
        for (const std::string& line : logs) {
            if (line.find(needle) != std::string::npos) return true;
        }
        return false;
    }
};

template <class T> Recorder& rec(T* handle)
{
    return *reinterpret_cast<Recorder*>(handle);
}

inline const ringd_host* host()
{
    static const ringd_host table = [] {
        ringd_host h{};
        h.abi_version = RINGD_PLUGIN_ABI_VERSION;
        h.struct_size = sizeof(ringd_host);
        h.log = [](ringd_listener* l, ringd_log_level level, const char* msg) {
            rec(l).logs.push_back(std::to_string(level) + ": " + msg);
        };
        h.worker_index = [] { return worker; };
        h.send = [](ringd_conn* c, const void* data, size_t len) {
            if (!rec(c).closes.empty()) return -EPIPE;
            rec(c).sent.append(static_cast<const char*>(data), len);
            return 0;
        };
        h.send_owned = [](ringd_conn* c, void* data, size_t len, void (*free_fn)(void*, void*), void* ctx) {
            const bool closed = !rec(c).closes.empty();
            if (!closed) rec(c).sent.append(static_cast<const char*>(data), len);
            free_fn(data, ctx);
            return closed ? -EPIPE : 0;
        };
        h.send_reserve = [](ringd_conn*, size_t) -> uint8_t* { return nullptr; };
        h.send_commit = [](ringd_conn*, size_t) {};
        h.close = [](ringd_conn* c, uint32_t flags) {
            rec(c).closes.push_back(flags);
            return 0;
        };
        h.shutdown_write = [](ringd_conn*) { return 0; };
        h.pause_reading = [](ringd_conn*) { return 0; };
        h.resume_reading = [](ringd_conn*) { return 0; };
        h.peer_address = [](ringd_conn*, sockaddr*, socklen_t*) { return -ENOTCONN; };
        h.local_address = [](ringd_conn*, sockaddr*, socklen_t*) { return -ENOTCONN; };
        h.get_user = [](ringd_conn* c) { return rec(c).user; };
        h.set_user = [](ringd_conn* c, void* user) { rec(c).user = user; };
        h.timer_start = [](ringd_conn*, uint64_t, void*) -> int64_t { return -ENOSYS; };
        h.timer_cancel = [](ringd_conn*, int64_t) { return -ENOSYS; };
        h.send_datagram = [](ringd_datagram* d, const void* data, size_t len, const sockaddr*, socklen_t) {
            rec(d).datagrams.emplace_back(static_cast<const char*>(data), len);
            return rec(d).send_datagram_result;
        };
        h.spawn = [](ringd_conn*, const ringd_spawn_request*, ringd_spawn_done_fn, void*) { return -ENOSYS; };
        return h;
    }();
    return &table;
}

inline sockaddr_in ipv4(const char* dotted, uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (inet_pton(AF_INET, dotted, &a.sin_addr) != 1) throw std::invalid_argument(dotted);
    return a;
}

inline sockaddr_in6 ipv6(const char* text, uint16_t port)
{
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    if (inet_pton(AF_INET6, text, &a.sin6_addr) != 1) throw std::invalid_argument(text);
    return a;
}

// One dlopen'ed plugin, as the host loads it (RTLD_NOW | RTLD_LOCAL).
class Plugin {
public:
    explicit Plugin(const char* path) : handle_(dlopen(path, RTLD_NOW | RTLD_LOCAL))
    {
        if (handle_ == nullptr) throw std::runtime_error(std::string("dlopen: ") + dlerror());
        auto entry = reinterpret_cast<ringd_plugin_entry_fn>(dlsym(handle_, RINGD_PLUGIN_ENTRY_SYMBOL));
        if (entry == nullptr) throw std::runtime_error("no " RINGD_PLUGIN_ENTRY_SYMBOL);
        descriptor_ = entry();
    }
    ~Plugin() { dlclose(handle_); }
    Plugin(const Plugin&) = delete;
    Plugin& operator=(const Plugin&) = delete;

    [[nodiscard]] const ringd_plugin_descriptor& descriptor() const { return *descriptor_; }

    // create() outcome; destroys the instance (if any) when it goes out of scope.
    struct Instance {
        const ringd_plugin_descriptor* d = nullptr;
        void* instance = nullptr;
        int rc = -1;
        ringd_error error{};
        Instance() = default;
        Instance(const Instance&) = delete;
        Instance& operator=(const Instance&) = delete;
        ~Instance()
        {
            if (rc == 0 && instance != nullptr) d->destroy(instance);
        }
        void datagram(Recorder& r, std::string_view payload, const sockaddr* peer, socklen_t peer_len) const
        {
            d->on_datagram(instance, r.dgram(), reinterpret_cast<const uint8_t*>(payload.data()), payload.size(), peer,
                           peer_len);
        }
        template <class Addr> void datagram(Recorder& r, std::string_view payload, const Addr& peer) const
        {
            datagram(r, payload, reinterpret_cast<const sockaddr*>(&peer), sizeof peer);
        }
    };

    // `log` receives the instance's log lines (the listener handle is the Recorder).
    void create(Instance& out, const std::string& yaml, uint32_t kind, Recorder& log, uint32_t workers = 2) const
    {
        ringd_instance_args args{};
        args.struct_size = sizeof args;
        args.socket_kind = kind;
        args.listener_name = "test-listener";
        args.config_yaml = yaml.c_str();
        args.config_len = yaml.size();
        args.worker_count = workers;
        args.host = host();
        args.listener = log.listener();
        out.d = descriptor_;
        out.rc = descriptor_->create(&args, &out.instance, &out.error);
    }

private:
    void* handle_;
    const ringd_plugin_descriptor* descriptor_ = nullptr;
};

} // namespace fake
