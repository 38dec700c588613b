// echo mode: closed-loop TCP (or unix-stream) echo load, the rust_echo_bench / echoload semantics.
//
// --clients connections are opened first (not timed); then each sends a --size request of random lowercase
// letters, waits for the complete reply, verifies it byte for byte (--expect upper|same), records the
// round-trip latency and sends the next one, for --duration seconds. Replies are verified as they arrive,
// chunk by chunk, against the request still in the payload pool, so no per-client receive buffer is kept.
// A client whose reply is wrong, short (EOF) or overlong is counted as an error and dropped.
#include "clock.hpp"
#include "connector.hpp"
#include "epoll.hpp"
#include "measured_window.hpp"
#include "modes.hpp"
#include "payload.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <sys/socket.h>

namespace ringd_bench {
namespace {

struct Client {
    Fd fd;
    uint64_t issued = 0; // requests sent so far: also selects the next request in the pool
    const char* request = nullptr;
    size_t sent = 0;
    size_t received = 0;
    uint64_t started_ns = 0;
    bool want_write = false; // EPOLLOUT armed because a send was short
};

class EchoRun {
public:
    EchoRun(const Options& options, std::vector<Fd> connections)
        : options_(options), payload_(options.size, options.seed), scratch_(64 * 1024)
    {
        clients_.resize(connections.size());
        for (size_t i = 0; i < clients_.size(); ++i) {
            clients_[i].fd = std::move(connections[i]);
            epoll_.add(clients_[i].fd.get(), EPOLLIN, i);
        }
        alive_ = clients_.size();
    }

    void run(uint64_t deadline)
    {
        for (size_t i = 0; i < clients_.size(); ++i)
            start_request(i, now_ns());
        std::vector<epoll_event> events(512);
        for (uint64_t now = now_ns(); now < deadline && alive_ > 0; now = now_ns()) {
            int n = epoll_.wait(events, wait_ms_until(now, deadline));
            for (int e = 0; e < n; ++e) {
                const epoll_event& ev = events[static_cast<size_t>(e)];
                size_t i = ev.data.u64;
                if (!clients_[i].fd) continue;
                if (ev.events & EPOLLOUT) send_more(i);
                if (clients_[i].fd && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(i);
            }
        }
    }

    [[nodiscard]] uint64_t requests() const { return requests_; }
    [[nodiscard]] uint64_t errors() const { return errors_; }
    [[nodiscard]] size_t dropped() const { return clients_.size() - alive_; }
    LatencyHistogram latency;

private:
    void start_request(size_t i, uint64_t now)
    {
        Client& c = clients_[i];
        c.request = payload_.request(i, c.issued++);
        c.sent = 0;
        c.received = 0;
        c.started_ns = now;
        send_more(i);
    }

    void send_more(size_t i)
    {
        Client& c = clients_[i];
        while (c.sent < options_.size) {
            ssize_t n = ::send(c.fd.get(), c.request + c.sent, options_.size - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                c.sent += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                if (!c.want_write) epoll_.modify(c.fd.get(), EPOLLIN | EPOLLOUT, i);
                c.want_write = true;
                return;
            }
            fail(i, std::string("send: ") + std::strerror(errno));
            return;
        }
        if (c.want_write) epoll_.modify(c.fd.get(), EPOLLIN, i);
        c.want_write = false;
    }

    // One recv per readiness report: level-triggered epoll reports the socket again if more is queued. (Reading
    // on until EAGAIN, as echoload does, costs 0.3 to 1 extra recv per request measured here, mostly EAGAIN.)
    void on_readable(size_t i)
    {
        Client& c = clients_[i];
        ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) return;
            fail(i, std::string("recv: ") + std::strerror(errno));
            return;
        }
        if (n == 0) {
            fail(i, "server closed the connection after " + std::to_string(c.received) + " of " +
                        std::to_string(options_.size) + " reply bytes");
            return;
        }
        auto got = static_cast<size_t>(n);
        if (c.received + got > c.sent) {
            fail(i, "server sent " + std::to_string(c.received + got - c.sent) + " bytes more than it was sent");
            return;
        }
        if (!reply_matches(options_.expect, c.request + c.received, scratch_.data(), got)) {
            fail(i, "reply " + describe_mismatch(options_.expect, c.request + c.received, scratch_.data(), got) +
                        " (at reply offset " + std::to_string(c.received) + ")");
            return;
        }
        c.received += got;
        if (c.received < options_.size) return;
        uint64_t now = now_ns();
        latency.record(now - c.started_ns);
        ++requests_;
        start_request(i, now);
    }

    void fail(size_t i, const std::string& what)
    {
        ++errors_;
        log_.note("client " + std::to_string(i) + ": " + what);
        epoll_.remove(clients_[i].fd.get());
        clients_[i].fd.reset();
        --alive_;
    }

    const Options& options_;
    Payload payload_;
    std::vector<char> scratch_;
    std::vector<Client> clients_;
    Epoll epoll_;
    size_t alive_ = 0;
    uint64_t requests_ = 0;
    uint64_t errors_ = 0;
    ErrorLog log_;
};

} // namespace

Result run_echo(const Options& options, const ServerProbe& probe)
{
    Result result;
    result.mode = Mode::echo;
    Endpoint ep = parse_endpoint(options.connect);
    auto conn = connect_all(ep, options.clients, options.max_pending_connects,
                            now_ns() + seconds_to_ns(options.ramp_timeout_s));
    result.add("clients", static_cast<int64_t>(options.clients));
    result.add("size", static_cast<int64_t>(options.size));
    if (!conn.error.empty()) {
        std::cerr << "ringd-bench: " << conn.error << "\n";
        result.errors = options.clients - conn.connections.size();
        return result;
    }
    EchoRun run(options, std::move(conn.connections));
    const double self_used =
        measure_window(probe, result, [&] { run.run(now_ns() + seconds_to_ns(options.duration_s)); });
    result.requests = run.requests();
    result.errors = run.errors();
    result.latency = run.latency;
    result.add("dropped_clients", static_cast<int64_t>(run.dropped()));
    add_client_cpu(result, self_used);
    return result;
}

} // namespace ringd_bench
