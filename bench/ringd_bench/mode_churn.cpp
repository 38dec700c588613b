// churn mode: connection churn against a say-something-and-close service (daytime, ringd's time-of-day).
//
// --clients connections are always in progress: each connects, reads until the server closes, checks the
// reply is non-empty and holds --contains, closes and connects again. The latency recorded is connect() to
// EOF. Closing sends RST (SO_LINGER 0) so neither side piles up TIME_WAIT sockets and the run does not
// exhaust ephemeral ports. A failed connection (refused, reset, empty or wrong reply) is an error; its client
// waits a moment before trying again, so a dead server yields a bounded stream of errors, not a busy loop.
#include "clock.hpp"
#include "endpoint.hpp"
#include "epoll.hpp"
#include "measured_window.hpp"
#include "modes.hpp"

#include <cerrno>
#include <cstring>
#include <string_view>
#include <sys/socket.h>

namespace ringd_bench {
namespace {

constexpr size_t kKeep = 4096;                 // reply bytes kept per connection for the --contains check
constexpr uint64_t kRetryDelayNs = 10'000'000; // after a failure

struct Client {
    Fd fd;
    uint64_t started_ns = 0;
    uint64_t retry_at_ns = 0; // parked after a failure until then (fd invalid)
    size_t received = 0;
};

class ChurnRun {
public:
    ChurnRun(const Options& options, Endpoint ep)
        : options_(options), ep_(std::move(ep)), keep_(kKeep * options.clients), scratch_(64 * 1024)
    {
        clients_.resize(options.clients);
    }

    void run(uint64_t deadline)
    {
        uint64_t now = now_ns();
        for (size_t i = 0; i < clients_.size(); ++i)
            open(i, now);
        std::vector<epoll_event> events(512);
        for (; now < deadline; now = now_ns()) {
            uint64_t wake = parked_ ? std::min(deadline, now + kRetryDelayNs) : deadline;
            int n = epoll_.wait(events, wait_ms_until(now, wake));
            for (int e = 0; e < n; ++e)
                on_readable(events[static_cast<size_t>(e)].data.u64);
            if (parked_) reopen_parked(now_ns());
        }
    }

    [[nodiscard]] uint64_t requests() const { return requests_; }
    [[nodiscard]] uint64_t errors() const { return errors_; }
    LatencyHistogram latency;

private:
    void open(size_t i, uint64_t now)
    {
        Client& c = clients_[i];
        bool in_progress = false;
        c.fd = start_connect(ep_, false, true, in_progress);
        c.received = 0;
        c.started_ns = now;
        if (!c.fd) {
            fail(i, std::string("connect: ") + std::strerror(errno));
            return;
        }
        // EPOLLIN fires for data, for EOF and (with EPOLLERR, always reported) for a failed handshake.
        epoll_.add(c.fd.get(), EPOLLIN | EPOLLRDHUP, i);
    }

    void on_readable(size_t i)
    {
        Client& c = clients_[i];
        if (!c.fd) return;
        for (;;) {
            ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), MSG_DONTWAIT);
            if (n > 0) {
                auto got = static_cast<size_t>(n);
                if (c.received < kKeep)
                    std::memcpy(keep_.data() + i * kKeep + c.received, scratch_.data(),
                                std::min(got, kKeep - c.received));
                c.received += got;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
            if (n < 0) {
                fail(i, std::string("recv: ") + std::strerror(errno));
                return;
            }
            finish(i);
            return;
        }
    }

    void finish(size_t i)
    {
        Client& c = clients_[i];
        std::string_view reply(keep_.data() + i * kKeep, std::min(c.received, kKeep));
        if (c.received == 0) {
            fail(i, "server closed without sending anything");
            return;
        }
        if (!options_.contains.empty() && reply.find(options_.contains) == std::string_view::npos) {
            fail(i, "reply does not contain '" + options_.contains + "': '" + std::string(reply.substr(0, 200)) + "'");
            return;
        }
        uint64_t now = now_ns();
        latency.record(now - c.started_ns);
        ++requests_;
        c.fd.reset(); // RST: SO_LINGER 0
        open(i, now);
    }

    void fail(size_t i, const std::string& what)
    {
        ++errors_;
        log_.note("connection " + std::to_string(i) + ": " + what);
        clients_[i].fd.reset();
        clients_[i].retry_at_ns = now_ns() + kRetryDelayNs;
        ++parked_;
    }

    void reopen_parked(uint64_t now)
    {
        for (size_t i = 0; i < clients_.size() && parked_ > 0; ++i) {
            if (!clients_[i].fd && clients_[i].retry_at_ns <= now) {
                --parked_;
                open(i, now);
            }
        }
    }

    const Options& options_;
    Endpoint ep_;
    std::vector<char> keep_;
    std::vector<char> scratch_;
    std::vector<Client> clients_;
    Epoll epoll_;
    size_t parked_ = 0;
    uint64_t requests_ = 0, errors_ = 0;
    ErrorLog log_;
};

} // namespace

Result run_churn(const Options& options, const ServerProbe& probe)
{
    Result result;
    result.mode = Mode::churn;
    ChurnRun run(options, parse_endpoint(options.connect));
    const double self_used =
        measure_window(probe, result, [&] { run.run(now_ns() + seconds_to_ns(options.duration_s)); });
    result.requests = run.requests();
    result.errors = run.errors();
    result.latency = run.latency;
    result.add("clients", static_cast<int64_t>(options.clients));
    add_client_cpu(result, self_used);
    return result;
}

} // namespace ringd_bench
