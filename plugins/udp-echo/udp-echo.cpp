// udp-echo: every datagram goes back to its sender, ASCII upper-cased (transform: upper, the default) or as
// is (transform: none), over IPv4 and IPv6. The host receives with multishot recvmsg into provided buffers
// and batches our replies through the ring; this file only decides whether and what to reply.
//
// Reflection and loop protection, in this order for each datagram (the host has already applied the
// listener's allow/deny):
//   1. longer than max_datagram: dropped and counted, never truncated-and-echoed;
//   2. from port 0 or a port in deny_source_ports (default 1-1023, where echo/chargen/daytime/DNS... live, so
//      two servers cannot be made to bounce a datagram between each other forever): dropped and counted;
//   3. over its source address's token bucket (rate_limit): dropped and counted.
//
// Threads: on_datagram runs on several workers at once. All mutable state (rate-limit table, scratch buffer,
// counters) lives in one Worker slot per worker, indexed by host->worker_index(); the Config is read-only.
// Counters: a worker logs its drops at debug level at most once per 10 s (on the first datagram after the
// window, if anything was dropped in it); destroy logs the totals at debug level.
#include "echo_config.hpp"
#include "rate_limiter.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <ringd/plugin.hpp>
#include <string>
#include <vector>

namespace {

using ringd::udp_echo::Config;
using ringd::udp_echo::RateLimiter;

constexpr int64_t log_interval_ns = 10'000'000'000;

int64_t monotonic_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Counters {
    uint64_t echoed = 0;
    uint64_t oversize = 0;
    uint64_t denied_port = 0;
    uint64_t rate_limited = 0;
    uint64_t queue_full = 0; // the worker's datagram send queue was full (-ENOBUFS)

    [[nodiscard]] bool any_drops() const { return oversize + denied_port + rate_limited + queue_full != 0; }
    Counters& operator+=(const Counters& o)
    {
        echoed += o.echoed;
        oversize += o.oversize;
        denied_port += o.denied_port;
        rate_limited += o.rate_limited;
        queue_full += o.queue_full;
        return *this;
    }
    [[nodiscard]] std::string str() const
    {
        return std::to_string(echoed) + " echoed; dropped " + std::to_string(oversize) + " oversize, " +
               std::to_string(denied_port) + " from denied source ports, " + std::to_string(rate_limited) +
               " rate-limited, " + std::to_string(queue_full) + " send queue full";
    }
};

// Everything one worker thread mutates; aligned so neighbouring workers never share a cache line.
struct alignas(64) Worker {
    std::optional<RateLimiter> limiter;
    std::vector<std::byte> scratch; // the upper-cased reply
    Counters window;                // since window_start_ns
    Counters total;
    int64_t window_start_ns = 0;
};

class UdpEcho final : public ringd::Handler {
public:
    UdpEcho(const ringd::InstanceArgs& args, Config config) : Handler(args), config_(std::move(config))
    {
        std::random_device entropy;
        workers_.resize(args.worker_count);
        const int64_t now = monotonic_ns();
        for (Worker& w : workers_) {
            w.window_start_ns = now;
            if (config_.rate_limit) {
                const uint64_t seed = (uint64_t{entropy()} << 32) ^ entropy();
                w.limiter.emplace(config_.rate_limit->per_second, config_.rate_limit->burst,
                                  config_.rate_limit->max_sources, seed);
            }
            if (config_.transform == Config::Transform::upper) w.scratch.resize(config_.max_datagram);
        }
    }

    ~UdpEcho() override
    {
        // destroy() runs after every callback has returned, so reading all workers' counters is safe here.
        Counters sum;
        uint64_t overflowed = 0;
        for (const Worker& w : workers_) {
            Counters all = w.total;
            all += w.window;
            sum += all;
            if (w.limiter) overflowed += w.limiter->overflowed();
        }
        log().debug("udp-echo totals: " + sum.str() + " (" + std::to_string(overflowed) +
                    " datagrams charged to the rate limiter's shared overflow bucket)");
    }

    static std::unique_ptr<UdpEcho> create(const ringd::InstanceArgs& args)
    {
        if (args.socket_kind != RINGD_KIND_DATAGRAM) throw ringd::ConfigError("", "udp-echo serves udp:// only");
        if (args.worker_count == 0) throw std::invalid_argument("udp-echo: worker_count is 0");
        return std::make_unique<UdpEcho>(args, ringd::udp_echo::parse_config(args.config_yaml));
    }

    void on_datagram(const ringd::Datagram& dgram) override
    {
        const uint32_t index = host()->worker_index();
        if (index >= workers_.size()) return; // outside the ABI's promise; never index out of bounds
        Worker& w = workers_[index];
        const int64_t now = monotonic_ns();
        handle(w, dgram, now);
        if (now - w.window_start_ns >= log_interval_ns) flush_window(w, index, now);
    }

private:
    void handle(Worker& w, const ringd::Datagram& dgram, int64_t now)
    {
        const std::span<const std::byte> payload = dgram.payload();
        if (payload.size() > config_.max_datagram) {
            ++w.window.oversize;
            return;
        }
        const auto source = ringd::udp_echo::source_of(dgram.peer(), dgram.peer_len());
        if (!source || config_.deny_source_ports.contains(source->port)) {
            ++w.window.denied_port;
            return;
        }
        if (w.limiter && !w.limiter->allow(source->key, now)) {
            ++w.window.rate_limited;
            return;
        }
        std::span<const std::byte> reply = payload;
        if (config_.transform == Config::Transform::upper) {
            for (std::size_t i = 0; i < payload.size(); ++i) {
                const auto c = static_cast<uint8_t>(payload[i]);
                w.scratch[i] = static_cast<std::byte>(c >= 'a' && c <= 'z' ? c - ('a' - 'A') : c);
            }
            reply = std::span<const std::byte>(w.scratch.data(), payload.size());
        }
        if (dgram.reply(reply) == 0) {
            ++w.window.echoed;
        } else {
            ++w.window.queue_full;
        }
    }

    void flush_window(Worker& w, uint32_t index, int64_t now)
    {
        if (w.window.any_drops()) {
            log().debug("udp-echo worker " + std::to_string(index) + ", last " +
                        std::to_string((now - w.window_start_ns) / 1'000'000'000) + " s: " + w.window.str());
        }
        w.total += w.window;
        w.window = {};
        w.window_start_ns = now;
    }

    Config config_;
    std::vector<Worker> workers_;
};

} // namespace

RINGD_EXPORT_HANDLER(UdpEcho, "udp-echo", "1.0.0", RINGD_KIND_DATAGRAM)
