// idle mode: what many idle connections cost the server, and whether it still serves every one of them.
//
//  1. read the server's VmRSS (--server-pid) and CPU time;
//  2. open --clients connections, ramped with a bounded number of handshakes in flight, within
//     --ramp-timeout seconds;
//  3. let the server catch up (a completed handshake only means the kernel queued it: the server may not
//     have accepted it yet) by sampling VmRSS until it stops changing, then read it again: the difference
//     divided by the connection count is the memory cost of one idle connection;
//  4. send one --size message on every connection and verify every reply (--expect), within --duration;
//  5. close them all.
// requests_per_s and the percentiles describe step 4; server_cpu_us_per_req covers steps 2 to 4 per
// connection (accept, bookkeeping, one echo).
#include "clock.hpp"
#include "connector.hpp"
#include "epoll.hpp"
#include "modes.hpp"
#include "payload.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sys/socket.h>
#include <thread>

namespace ringd_bench {
namespace {

constexpr double kSettleMaxS = 5.0;
constexpr auto kSettleStep = std::chrono::milliseconds(100);

// Samples VmRSS until three samples in a row agree (or kSettleMaxS passes) and returns the last one.
std::optional<long> settled_rss(const ServerProbe& probe)
{
    auto last = probe.rss_kib();
    if (!last) return last;
    uint64_t give_up = now_ns() + seconds_to_ns(kSettleMaxS);
    int stable = 0;
    while (stable < 3 && now_ns() < give_up) {
        std::this_thread::sleep_for(kSettleStep);
        auto cur = probe.rss_kib();
        if (!cur) return cur;
        stable = *cur == *last ? stable + 1 : 0;
        last = cur;
    }
    return last;
}

struct Conn {
    Fd fd;
    size_t received = 0;
    uint64_t sent_ns = 0;
    bool done = false;
};

// Step 4: one echo on every connection. Returns the number verified; errors are added to `errors`.
uint64_t echo_round(const Options& options, std::vector<Conn>& conns, uint64_t deadline, LatencyHistogram& latency,
                    uint64_t& errors)
{
    Payload payload(options.size, options.seed);
    ErrorLog log;
    Epoll epoll;
    std::vector<char> scratch(64 * 1024);
    size_t waiting = 0;
    auto fail = [&](size_t i, const std::string& what) {
        ++errors;
        log.note("connection " + std::to_string(i) + ": " + what);
        conns[i].done = true;
        conns[i].fd.reset();
        --waiting;
    };
    for (size_t i = 0; i < conns.size(); ++i) {
        Conn& c = conns[i];
        epoll.add(c.fd.get(), EPOLLIN, i);
        ++waiting;
        c.sent_ns = now_ns();
        ssize_t n = ::send(c.fd.get(), payload.request(i, 0), options.size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n != static_cast<ssize_t>(options.size))
            fail(i, n < 0 ? std::string("send: ") + std::strerror(errno) : std::string("short send"));
    }
    uint64_t verified = 0;
    std::vector<epoll_event> events(512);
    for (uint64_t now = now_ns(); waiting > 0 && now < deadline; now = now_ns()) {
        int n = epoll.wait(events, wait_ms_until(now, deadline));
        for (int e = 0; e < n; ++e) {
            size_t i = events[static_cast<size_t>(e)].data.u64;
            Conn& c = conns[i];
            if (c.done) continue;
            ssize_t r = ::recv(c.fd.get(), scratch.data(), scratch.size(), MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                fail(i, r == 0 ? std::string("closed by the server") : std::string("recv: ") + std::strerror(errno));
                continue;
            }
            auto got = static_cast<size_t>(r);
            const char* request = payload.request(i, 0);
            if (c.received + got > options.size) {
                fail(i, "reply longer than the request");
                continue;
            }
            if (!reply_matches(options.expect, request + c.received, scratch.data(), got)) {
                fail(i, "reply " + describe_mismatch(options.expect, request + c.received, scratch.data(), got));
                continue;
            }
            c.received += got;
            if (c.received == options.size) {
                latency.record(now_ns() - c.sent_ns);
                c.done = true;
                --waiting;
                ++verified;
            }
        }
    }
    if (waiting > 0) {
        errors += waiting;
        log.note(std::to_string(waiting) + " connections got no complete reply in time");
    }
    return verified;
}

} // namespace

Result run_idle(const Options& options, const ServerProbe& probe)
{
    Result result;
    result.mode = Mode::idle;
    Endpoint ep = parse_endpoint(options.connect);
    auto rss_before = probe.rss_kib();
    auto cpu_before = probe.cpu_us();
    auto conn = connect_all(ep, options.clients, options.max_pending_connects,
                            now_ns() + seconds_to_ns(options.ramp_timeout_s));
    result.add("connections", static_cast<int64_t>(options.clients));
    result.add("connected", static_cast<int64_t>(conn.connections.size()));
    if (!conn.error.empty()) {
        std::cerr << "ringd-bench: " << conn.error << "\n";
        result.errors += options.clients - conn.connections.size();
    } else {
        result.add("connect_s", conn.seconds);
    }
    auto rss_after = settled_rss(probe);
    if (rss_before && rss_after) {
        result.add("rss_before_kib", static_cast<int64_t>(*rss_before));
        result.add("rss_after_kib", static_cast<int64_t>(*rss_after));
        if (!conn.connections.empty())
            result.add("kib_per_conn",
                       static_cast<double>(*rss_after - *rss_before) / static_cast<double>(conn.connections.size()));
    }

    std::vector<Conn> conns(conn.connections.size());
    for (size_t i = 0; i < conns.size(); ++i)
        conns[i].fd = std::move(conn.connections[i]);
    uint64_t start = now_ns();
    uint64_t errors = 0;
    result.requests = echo_round(options, conns, start + seconds_to_ns(options.duration_s), result.latency, errors);
    result.elapsed_s = static_cast<double>(now_ns() - start) / 1e9;
    result.errors += errors;
    auto cpu_after = probe.cpu_us();
    if (cpu_before && cpu_after) result.server_cpu_us = *cpu_after - *cpu_before;
    if (auto rss_echo = probe.rss_kib()) result.add("rss_after_echo_kib", static_cast<int64_t>(*rss_echo));
    conns.clear(); // close every connection
    return result;
}

} // namespace ringd_bench
