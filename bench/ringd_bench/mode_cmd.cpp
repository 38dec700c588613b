// cmd mode: load on ringd's remote-cmd plugin in its framed protocol.
//
//   request:  u32 big-endian length L, then L bytes of JSON {"argv": [...]} (--argv, default ["true"])
//   response: u32 big-endian length H, then H bytes of JSON header
//             {"ok": true, "exit_code": 0, "stdout_size": n, "stderr_size": m, ...}, then n + m bytes of output
//             (stdout first, then stderr).
//
// --clients connections each keep one request in flight. A response counts as `ok` if its header says
// "ok": true and exit_code == --expect-exit (and, with --contains, stdout holds that text); anything else
// is an error. Connections are reused; a server that closes a connection after a complete response (one
// command per connection) is followed transparently (counted in `reconnects`), and --reconnect opens a new
// connection for every request from the start.
#include "clock.hpp"
#include "connector.hpp"
#include "epoll.hpp"
#include "measured_window.hpp"
#include "modes.hpp"

#include <cerrno>
#include <cstring>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sys/socket.h>

namespace ringd_bench {
namespace {

constexpr size_t kMaxHeader = 1 << 20;
constexpr size_t kKeepStdout = 64 * 1024;

enum class Phase { length, header, output };

struct Client {
    Fd fd;
    Phase phase = Phase::length;
    size_t sent = 0;
    unsigned char length_bytes[4]{};
    size_t length_got = 0;
    size_t header_len = 0;
    std::string header; // reserved once; reused for every response
    uint64_t stdout_left = 0, stderr_left = 0;
    std::string out; // the first kKeepStdout bytes of stdout, for --contains
    uint64_t started_ns = 0;
    uint64_t served = 0; // complete responses on this connection
    bool want_write = false;
};

class CmdRun {
public:
    CmdRun(const Options& options, Endpoint ep) : options_(options), ep_(std::move(ep)), scratch_(64 * 1024)
    {
        std::string body = nlohmann::json{{"argv", options.argv}}.dump();
        auto len = static_cast<uint32_t>(body.size());
        frame_ = {static_cast<char>(len >> 24), static_cast<char>(len >> 16), static_cast<char>(len >> 8),
                  static_cast<char>(len)};
        frame_ += body;
    }

    // Takes the initial connections (made by the caller so that setup failures surface before the timing).
    void run(std::vector<Fd> connections, uint64_t deadline)
    {
        clients_.resize(connections.size());
        alive_ = connections.size();
        uint64_t now = now_ns();
        for (size_t i = 0; i < clients_.size(); ++i) {
            clients_[i].header.reserve(4096);
            clients_[i].out.reserve(kKeepStdout);
            clients_[i].fd = std::move(connections[i]);
            epoll_.add(clients_[i].fd.get(), EPOLLIN, i);
            start_request(i, now);
        }
        std::vector<epoll_event> events(256);
        for (; now < deadline && alive_ > 0; now = now_ns()) {
            int n = epoll_.wait(events, wait_ms_until(now, deadline));
            for (int e = 0; e < n; ++e) {
                const epoll_event& ev = events[static_cast<size_t>(e)];
                size_t i = ev.data.u64;
                if (clients_[i].fd && (ev.events & EPOLLOUT)) send_more(i);
                if (clients_[i].fd && (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(i);
            }
        }
    }

    uint64_t ok = 0, failed = 0, errors = 0, reconnects = 0;
    LatencyHistogram latency;

private:
    void start_request(size_t i, uint64_t now)
    {
        Client& c = clients_[i];
        c.phase = Phase::length;
        c.sent = 0;
        c.length_got = 0;
        c.started_ns = now;
        send_more(i);
    }

    bool reopen(size_t i)
    {
        Client& c = clients_[i];
        c.fd.reset();
        c.served = 0;
        c.want_write = false;
        bool in_progress = false;
        // We close these ourselves (--reconnect): RST instead of FIN keeps TIME_WAIT from eating the ports.
        c.fd = start_connect(ep_, true, options_.reconnect, in_progress);
        if (!c.fd) {
            drop(i, std::string("reconnect: ") + std::strerror(errno));
            return false;
        }
        // The request is queued by send_more once the handshake completes (EPOLLOUT).
        epoll_.add(c.fd.get(), EPOLLIN | EPOLLOUT, i);
        c.want_write = true;
        return true;
    }

    void send_more(size_t i)
    {
        Client& c = clients_[i];
        while (c.sent < frame_.size()) {
            ssize_t n = ::send(c.fd.get(), frame_.data() + c.sent, frame_.size() - c.sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n > 0) {
                c.sent += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR || errno == ENOTCONN)) {
                if (!c.want_write) epoll_.modify(c.fd.get(), EPOLLIN | EPOLLOUT, i);
                c.want_write = true;
                return;
            }
            connection_lost(i, std::string("send: ") + std::strerror(errno));
            return;
        }
        if (c.want_write) epoll_.modify(c.fd.get(), EPOLLIN, i);
        c.want_write = false;
    }

    void on_readable(size_t i)
    {
        Client& c = clients_[i];
        ssize_t n = ::recv(c.fd.get(), scratch_.data(), scratch_.size(), MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (n <= 0) {
            connection_lost(i, n == 0 ? std::string("server closed the connection mid-response")
                                      : std::string("recv: ") + std::strerror(errno));
            return;
        }
        const char* p = scratch_.data();
        size_t left = static_cast<size_t>(n);
        while (left > 0 && clients_[i].fd) {
            size_t used = consume(i, p, left);
            if (used == 0) return; // the client was dropped
            p += used;
            left -= used;
        }
    }

    // Feeds response bytes to client i's parser; returns how many it used (0 if the client was dropped).
    size_t consume(size_t i, const char* p, size_t n)
    {
        Client& c = clients_[i];
        if (c.sent < frame_.size()) return drop(i, "response bytes before the request was sent"), 0;
        switch (c.phase) {
        case Phase::length: {
            size_t take = std::min(n, 4 - c.length_got);
            std::memcpy(c.length_bytes + c.length_got, p, take);
            c.length_got += take;
            if (c.length_got == 4) {
                c.header_len = (size_t{c.length_bytes[0]} << 24) | (size_t{c.length_bytes[1]} << 16) |
                               (size_t{c.length_bytes[2]} << 8) | size_t{c.length_bytes[3]};
                if (c.header_len == 0 || c.header_len > kMaxHeader)
                    return drop(i, "response header length " + std::to_string(c.header_len)), 0;
                c.header.clear();
                c.phase = Phase::header;
            }
            return take;
        }
        case Phase::header: {
            size_t take = std::min(n, c.header_len - c.header.size());
            c.header.append(p, take);
            if (c.header.size() == c.header_len && !parse_header(i)) return 0;
            return take;
        }
        case Phase::output: {
            size_t take = static_cast<size_t>(std::min<uint64_t>(n, c.stdout_left + c.stderr_left));
            size_t to_stdout = static_cast<size_t>(std::min<uint64_t>(take, c.stdout_left));
            if (c.out.size() < kKeepStdout) c.out.append(p, std::min(to_stdout, kKeepStdout - c.out.size()));
            c.stdout_left -= to_stdout;
            c.stderr_left -= take - to_stdout;
            if (c.stdout_left + c.stderr_left == 0) complete(i);
            return take;
        }
        }
        return 0;
    }

    bool parse_header(size_t i)
    {
        Client& c = clients_[i];
        auto h = nlohmann::json::parse(c.header, nullptr, false);
        if (h.is_discarded() || !h.is_object())
            return drop(i, "response header is not a JSON object: " + c.header), false;
        auto size_of = [&](const char* key) -> uint64_t {
            auto it = h.find(key);
            return it != h.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
        };
        verdict_ok_ = h.value("ok", false) && h.contains("exit_code") && h["exit_code"].is_number_integer() &&
                      h["exit_code"].get<int64_t>() == options_.expect_exit;
        if (!verdict_ok_) verdict_why_ = "response header " + c.header.substr(0, 300);
        c.stdout_left = size_of("stdout_size");
        c.stderr_left = size_of("stderr_size");
        c.out.clear();
        c.phase = Phase::output;
        if (c.stdout_left + c.stderr_left == 0) complete(i);
        return true;
    }

    void complete(size_t i)
    {
        Client& c = clients_[i];
        bool good = verdict_ok_;
        if (good && !options_.contains.empty() && c.out.find(options_.contains) == std::string::npos) {
            good = false;
            verdict_why_ = "stdout does not contain '" + options_.contains + "': '" + c.out.substr(0, 200) + "'";
        }
        uint64_t now = now_ns();
        if (good) {
            ++ok;
            latency.record(now - c.started_ns);
        } else {
            ++failed;
            ++errors;
            log_.note("client " + std::to_string(i) + ": " + verdict_why_);
        }
        ++c.served;
        if (options_.reconnect) {
            if (!reopen(i)) return;
            c.started_ns = now;
            c.phase = Phase::length;
            c.sent = 0;
            c.length_got = 0;
            return;
        }
        start_request(i, now);
    }

    // EOF or reset. Right after a complete response, with nothing of the next one read yet, it is the
    // server's one-command-per-connection policy: reconnect and resend. Anywhere else it is an error.
    void connection_lost(size_t i, const std::string& what)
    {
        Client& c = clients_[i];
        bool between = c.served > 0 && c.phase == Phase::length && c.length_got == 0;
        if (!between) {
            drop(i, what);
            return;
        }
        ++reconnects;
        uint64_t started = c.started_ns;
        if (!reopen(i)) return;
        c.started_ns = started; // the reconnect is part of this request's latency
        c.phase = Phase::length;
        c.sent = 0;
        c.length_got = 0;
    }

    bool drop(size_t i, const std::string& what)
    {
        ++errors;
        log_.note("client " + std::to_string(i) + ": " + what);
        clients_[i].fd.reset();
        --alive_;
        return false;
    }

    const Options& options_;
    Endpoint ep_;
    std::string frame_;
    std::vector<char> scratch_;
    std::vector<Client> clients_;
    Epoll epoll_;
    size_t alive_ = 0;
    bool verdict_ok_ = false; // of the header being processed (responses are handled one at a time)
    std::string verdict_why_;
    ErrorLog log_;
};

} // namespace

Result run_cmd(const Options& options, const ServerProbe& probe)
{
    Result result;
    result.mode = Mode::cmd;
    Endpoint ep = parse_endpoint(options.connect);
    auto conn = connect_all(ep, options.clients, options.max_pending_connects,
                            now_ns() + seconds_to_ns(options.ramp_timeout_s));
    result.add("clients", static_cast<int64_t>(options.clients));
    if (!conn.error.empty()) {
        std::cerr << "ringd-bench: " << conn.error << "\n";
        result.errors = options.clients - conn.connections.size();
        return result;
    }
    CmdRun run(options, ep);
    const auto children_before = probe.children_cpu_us();
    measure_window(probe, result,
                   [&] { run.run(std::move(conn.connections), now_ns() + seconds_to_ns(options.duration_s)); });
    const auto children_after = probe.children_cpu_us();
    // The commands' own CPU (reaped children), reported apart from the server's.
    if (children_before && children_after && run.ok > 0)
        result.add("children_cpu_us_per_req", (*children_after - *children_before) / static_cast<double>(run.ok));
    result.requests = run.ok;
    result.errors = run.errors;
    result.latency = run.latency;
    result.add("ok", static_cast<int64_t>(run.ok));
    result.add("failed", static_cast<int64_t>(run.failed));
    result.add("reconnects", static_cast<int64_t>(run.reconnects));
    return result;
}

} // namespace ringd_bench
