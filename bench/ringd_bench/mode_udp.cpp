// udp mode: closed-loop UDP echo. Each client is its own connected UDP socket with one request in flight:
// send --size bytes, wait for the reply datagram, verify it, send the next.
//
// Datagrams get lost (a full socket buffer on either side drops them silently), so a request unanswered for
// --timeout-ms is sent again, identically, and counted in `timeouts`, not as an error. Each request carries
// its sequence number as its first letters (base 26, still lowercase), and its remaining bytes are a pure
// function of (client, sequence), so a late reply to an earlier request (the original of a resent one) is
// recognised, still verified in full, and counted as `stale` instead of being mistaken for a wrong reply.
// Latency is from the first send of a request, so resends show up in the high percentiles.
#include "clock.hpp"
#include "endpoint.hpp"
#include "epoll.hpp"
#include "measured_window.hpp"
#include "modes.hpp"
#include "payload.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <sys/socket.h>

namespace ringd_bench {
namespace {

constexpr uint64_t kScanIntervalNs = 10'000'000; // how often unanswered requests are looked for

struct Client {
    Fd fd;
    uint64_t seq = 0; // the request in flight
    uint64_t first_sent_ns = 0;
    uint64_t last_sent_ns = 0;
};

class UdpRun {
public:
    UdpRun(const Options& options, const Endpoint& ep)
        : options_(options), payload_(options.size, options.seed), digits_(std::min<size_t>(options.size, 6)),
          modulus_(pow26(digits_)), requests_buf_(options.size * options.clients), scratch_(kMaxDatagram + 1)
    {
        clients_.resize(options.clients);
        for (size_t i = 0; i < clients_.size(); ++i) {
            bool in_progress = false;
            clients_[i].fd = start_connect(ep, false, false, in_progress);
            if (!clients_[i].fd) throw std::runtime_error(std::string("udp socket/connect: ") + std::strerror(errno));
            epoll_.add(clients_[i].fd.get(), EPOLLIN, i);
        }
    }

    void run(uint64_t deadline)
    {
        uint64_t now = now_ns();
        for (size_t i = 0; i < clients_.size(); ++i)
            start_request(i, now);
        uint64_t next_scan = now + kScanIntervalNs;
        std::vector<epoll_event> events(512);
        for (; now < deadline; now = now_ns()) {
            int n = epoll_.wait(events, wait_ms_until(now, std::min(deadline, next_scan)));
            for (int e = 0; e < n; ++e)
                on_readable(events[static_cast<size_t>(e)].data.u64);
            now = now_ns();
            if (now >= next_scan) {
                resend_overdue(now);
                next_scan = now + kScanIntervalNs;
            }
        }
    }

    [[nodiscard]] uint64_t requests() const { return requests_; }
    [[nodiscard]] uint64_t errors() const { return errors_; }
    [[nodiscard]] uint64_t timeouts() const { return timeouts_; }
    [[nodiscard]] uint64_t stale() const { return stale_; }
    LatencyHistogram latency;

private:
    static uint64_t pow26(size_t digits)
    {
        uint64_t m = 1;
        for (size_t i = 0; i < digits; ++i)
            m *= 26;
        return m;
    }

    // Request `seq` of client `i`, built into `out` (options_.size bytes).
    void build(size_t i, uint64_t seq, char* out) const
    {
        std::memcpy(out, payload_.request(i, seq), options_.size);
        encode_sequence(out, digits_, seq % modulus_);
    }

    char* request_of(size_t i) { return requests_buf_.data() + i * options_.size; }

    void start_request(size_t i, uint64_t now)
    {
        Client& c = clients_[i];
        build(i, c.seq, request_of(i));
        c.first_sent_ns = now;
        transmit(i, now);
    }

    void transmit(size_t i, uint64_t now)
    {
        Client& c = clients_[i];
        c.last_sent_ns = now;
        ssize_t n = ::send(c.fd.get(), request_of(i), options_.size, MSG_DONTWAIT);
        // A full send buffer (EAGAIN/ENOBUFS) is a loss like any other: the resend timer covers it. A
        // refused datagram (no server: ICMP port unreachable) is an error.
        if (n < 0 && errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
            error(i, std::string("send: ") + std::strerror(errno));
    }

    void on_readable(size_t i)
    {
        Client& c = clients_[i];
        ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) error(i, std::string("recv: ") + std::strerror(errno));
            return;
        }
        if (static_cast<size_t>(n) != options_.size) {
            error(i, "reply is " + std::to_string(n) + " bytes, expected " + std::to_string(options_.size));
            return;
        }
        uint64_t seq_mod = 0;
        if (!decode_sequence(scratch_.data(), digits_, seq_mod)) {
            error(i, "reply does not start with a sequence number (not an echo of our request)");
            return;
        }
        if (seq_mod == c.seq % modulus_) {
            if (!reply_matches(options_.expect, request_of(i), scratch_.data(), options_.size)) {
                error(i, "reply " + describe_mismatch(options_.expect, request_of(i), scratch_.data(), options_.size));
                return;
            }
            uint64_t now = now_ns();
            latency.record(now - c.first_sent_ns);
            ++requests_;
            ++c.seq;
            start_request(i, now);
            return;
        }
        // A reply to an earlier request (the duplicate of a resent one): check it against what was sent then.
        uint64_t back = (c.seq % modulus_ + modulus_ - seq_mod) % modulus_;
        if (back == 0 || back > c.seq) {
            error(i, "reply for a request never sent");
            return;
        }
        std::vector<char>& old = old_request_;
        old.resize(options_.size);
        build(i, c.seq - back, old.data());
        if (!reply_matches(options_.expect, old.data(), scratch_.data(), options_.size)) {
            error(i, "late reply " + describe_mismatch(options_.expect, old.data(), scratch_.data(), options_.size));
            return;
        }
        ++stale_;
    }

    void resend_overdue(uint64_t now)
    {
        uint64_t timeout = static_cast<uint64_t>(options_.udp_timeout_ms * 1e6);
        for (size_t i = 0; i < clients_.size(); ++i) {
            if (now - clients_[i].last_sent_ns >= timeout) {
                ++timeouts_;
                transmit(i, now);
            }
        }
    }

    void error(size_t i, const std::string& what)
    {
        ++errors_;
        log_.note("client " + std::to_string(i) + ": " + what);
    }

    const Options& options_;
    Payload payload_;
    size_t digits_;
    uint64_t modulus_;
    std::vector<char> requests_buf_; // the request in flight, per client
    std::vector<char> scratch_;
    std::vector<char> old_request_;
    std::vector<Client> clients_;
    Epoll epoll_;
    uint64_t requests_ = 0, errors_ = 0, timeouts_ = 0, stale_ = 0;
    ErrorLog log_;
};

} // namespace

Result run_udp(const Options& options, const ServerProbe& probe)
{
    Result result;
    result.mode = Mode::udp;
    Endpoint ep = parse_endpoint(options.connect);
    UdpRun run(options, ep);
    const double self_used =
        measure_window(probe, result, [&] { run.run(now_ns() + seconds_to_ns(options.duration_s)); });
    result.requests = run.requests();
    result.errors = run.errors();
    result.latency = run.latency;
    result.add("clients", static_cast<int64_t>(options.clients));
    result.add("size", static_cast<int64_t>(options.size));
    result.add("timeouts", static_cast<int64_t>(run.timeouts()));
    result.add("stale", static_cast<int64_t>(run.stale()));
    add_client_cpu(result, self_used);
    return result;
}

} // namespace ringd_bench
