// tcp-proxy: relays every client connection to an upstream (tcp:// or unix://), byte for byte, both ways.
//
// Glue only: the config (proxy_config), the choice of upstream and its down marking (upstream_set), what a failed
// connect means (connect_outcome) and each direction's flow control (flow) are pieces of their own. What this
// file decides (README.md has the user's view):
//   - Each client gets an outbound connection (host->connect) opened from on_open, on the client's worker: the
//     two connections of a pair run on one thread and share their Pair without locks, and the proxy has no
//     thread of its own.
//   - A connect that fails because of the upstream marks it down and the client tries the next upstream it has
//     not tried; with none left the client is closed at once.
//   - Backpressure: a side whose peer's queue is full (`buffer`) is not read until that queue drains (Flow).
//   - A FIN from one side becomes shutdown_write on the other, after every byte before it; once both sides have
//     sent FIN both are closed. A side that closes for any other reason (reset, error, idle timeout) has the
//     other closed after what is queued for it has been sent.
//   - With send_proxy, the PROXY header naming the client's connection is queued on each upstream connection the
//     moment it is established, ahead of anything the client sent (ringd's own encoder, one copy of the code).
#include "connect_outcome.hpp"
#include "flow.hpp"
#include "proxy_config.hpp"
#include "proxy_protocol/encoder.hpp"
#include "upstream_set.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <ringd/plugin.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace ringd::tcp_proxy;

// Where a pair's upstream connection is.
enum class Link : uint8_t {
    none,       // not yet, or no more: the client is being closed
    connecting, // the client's bytes are kept in Pair::up
    relaying,
};

// The state the client connection and its upstream connection share (the user pointer of both).
struct Pair {
    Pair(UpstreamSet::Attempt attempt, uint64_t buffer) : attempt(attempt), up(buffer), down(buffer) {}
    ringd_conn* client = nullptr;   // until its on_close
    ringd_conn* upstream = nullptr; // the current upstream connection while link != none
    Link link = Link::none;
    std::size_t upstream_index = 0; // which upstream `upstream` goes to
    UpstreamSet::Attempt attempt;   // the upstreams this client has tried
    Flow up;                        // client -> upstream
    Flow down;                      // upstream -> client
    unsigned open = 1;              // connections of this pair whose on_close has not run yet
};

int64_t steady_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string describe_error(int error)
{
    return std::strerror(-error);
}

// "10s", "1500ms": as the config writes durations.
std::string describe_duration(std::chrono::milliseconds d)
{
    return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s" : std::to_string(d.count()) + "ms";
}

class TcpProxy final : public ringd::Handler {
public:
    TcpProxy(const ringd::InstanceArgs& args, Config config)
        : Handler(args), config_(std::move(config)),
          upstreams_(config_.upstreams.size(), config_.balance, config_.down_time),
          connect_timeout_ms_(uint32_t(config_.connect_timeout.count())),
          connections_(register_metric("connections", RINGD_METRIC_COUNTER, "client connections accepted")),
          connect_failures_(register_metric("upstream_connect_failures", RINGD_METRIC_COUNTER,
                                            "connects to an upstream that failed (refused, timed out, ...)")),
          no_upstream_(register_metric("clients_without_upstream", RINGD_METRIC_COUNTER,
                                       "clients closed because no upstream could be connected")),
          bytes_to_upstream_(register_metric("bytes_to_upstream", RINGD_METRIC_COUNTER, "bytes relayed upstream")),
          bytes_to_client_(register_metric("bytes_to_client", RINGD_METRIC_COUNTER, "bytes relayed to clients")),
          upstreams_down_(register_metric("upstreams_down", RINGD_METRIC_GAUGE,
                                          "upstreams marked down that have not accepted a connection since"))
    {
    }

    static std::unique_ptr<TcpProxy> create(const ringd::InstanceArgs& args)
    {
        return std::make_unique<TcpProxy>(args, parse_config(args.config_yaml));
    }

    bool on_open(ringd::Connection client) override
    {
        metric_add(connections_, 1);
        auto pair = std::make_unique<Pair>(upstreams_.attempt(), config_.buffer);
        pair->client = client.raw();
        client.set_user(pair.get());
        Pair& p = *pair.release(); // on_close frees it from now on
        if (!connect_next(p)) client.close();
        return true;
    }

    void on_connect(ringd::Connection upstream, int error) override
    {
        Pair& pair = *upstream.user<Pair>();
        if (error == 0) {
            // (A client that left meanwhile has cancelled this connect: on_connect then says -ECANCELED.)
            pair.link = Link::relaying;
            if (config_.send_proxy != SendProxy::off) upstream.send(proxy_header(client(pair)));
            if (upstreams_.mark_up(pair.upstream_index)) {
                metric_add(upstreams_down_, -1);
                log().info("upstream " + config_.upstreams[pair.upstream_index].text + " is up again");
            }
            return resume(pair, pair.up, client(pair), upstream, bytes_to_upstream_); // what the client sent so far
        }
        upstreams_.closed(pair.upstream_index);
        pair.upstream = nullptr;
        pair.link = Link::none;
        const ConnectFailure failure = classify_connect_failure(error, ConnectStage::outcome);
        if (failure == ConnectFailure::cancelled || pair.client == nullptr) return;
        if (failure == ConnectFailure::upstream) {
            upstream_failed(pair.upstream_index, error);
        } else {
            local_failure(error);
        }
        if (failure == ConnectFailure::local || !connect_next(pair)) client(pair).close();
    }

    void on_data(ringd::Connection conn, std::span<const std::byte> bytes) override
    {
        Pair& pair = *conn.user<Pair>();
        if (conn.raw() != pair.client) {
            if (pair.client != nullptr) relay(pair.down, conn, client(pair), bytes, bytes_to_client_);
        } else if (pair.link == Link::relaying) {
            relay(pair.up, conn, upstream(pair), bytes, bytes_to_upstream_);
        } else if (pair.link == Link::connecting) {
            if (pair.up.keep(bytes)) conn.pause_reading(); // resumed once an upstream has taken them
        }
    }

    // The queue a relay() filled has drained to its low-water mark.
    void on_output_drained(ringd::Connection conn) override
    {
        Pair& pair = *conn.user<Pair>();
        if (pair.link != Link::relaying || pair.client == nullptr) return; // closing anyway
        if (conn.raw() == pair.client) {
            resume(pair, pair.down, upstream(pair), conn, bytes_to_client_);
        } else {
            resume(pair, pair.up, client(pair), conn, bytes_to_upstream_);
        }
    }

    void on_peer_shutdown(ringd::Connection conn) override
    {
        Pair& pair = *conn.user<Pair>();
        const bool from_client = conn.raw() == pair.client;
        Flow& flow = from_client ? pair.up : pair.down;
        flow.sender_finished();
        // Before the upstream is connected the client's FIN waits in Pair::up, for resume() to pass on.
        if (pair.link == Link::relaying && pair.client != nullptr && flow.fin_to_pass()) {
            (from_client ? upstream(pair) : client(pair)).shutdown_write();
            close_if_done(pair);
        }
    }

    void on_close(ringd::Connection conn, ringd_close_reason) override
    {
        auto* pair = conn.user<Pair>();
        if (conn.raw() == pair->client) {
            pair->client = nullptr;
            if (pair->link == Link::relaying) flush_and_close(pair->up, upstream(*pair), bytes_to_upstream_);
            if (pair->link == Link::connecting) upstream(*pair).close(); // cancels the connect
        } else if (conn.raw() == pair->upstream) {
            upstreams_.closed(pair->upstream_index);
            pair->upstream = nullptr;
            pair->link = Link::none;
            if (pair->client != nullptr) flush_and_close(pair->down, client(*pair), bytes_to_client_);
        } // else: an upstream whose connect failed; on_connect has dealt with it
        if (--pair->open == 0) delete pair;
    }

private:
    ringd::Connection client(const Pair& pair) const { return {host(), pair.client}; }
    ringd::Connection upstream(const Pair& pair) const { return {host(), pair.upstream}; }

    // The header that starts an upstream connection: source = the client's peer address, destination = the
    // address it connected to (both as ringd reports them, so a client that came through a PROXY-speaking
    // balancer is named as that balancer named it). An address the host cannot give (an unnamed unix peer) is
    // left empty, which the encoder sends as UNKNOWN (v1) or UNSPEC (v2).
    std::string proxy_header(ringd::Connection from) const
    {
        namespace pp = ringd::proxy_protocol;
        pp::SocketAddress source, destination;
        source.length = sizeof source.storage;
        if (from.peer_address(reinterpret_cast<sockaddr*>(&source.storage), &source.length) != 0) source = {};
        destination.length = sizeof destination.storage;
        if (from.local_address(reinterpret_cast<sockaddr*>(&destination.storage), &destination.length) != 0) {
            destination = {};
        }
        if (config_.send_proxy == SendProxy::v1) return pp::encode_v1(source, destination);
        const std::vector<uint8_t> v2 = pp::encode_v2(source, destination);
        return {v2.begin(), v2.end()};
    }

    // Opens a connection to the next upstream this client has not tried that is not down. False when there is
    // none (or ringd cannot open one): the caller closes the client.
    bool connect_next(Pair& pair)
    {
        while (const auto i = pair.attempt.next(steady_ns())) {
            const auto& endpoint = config_.upstreams[*i];
            const ringd::ConnectResult r = connect(reinterpret_cast<const sockaddr*>(&endpoint.address),
                                                   endpoint.address_len, connect_timeout_ms_, &pair);
            if (r) {
                pair.upstream = r.connection.raw();
                pair.upstream_index = *i;
                pair.link = Link::connecting;
                ++pair.open;
                upstreams_.opened(*i);
                return true;
            }
            if (classify_connect_failure(r.error, ConnectStage::request) == ConnectFailure::local) {
                local_failure(r.error);
                return false;
            }
            upstream_failed(*i, r.error);
        }
        metric_add(no_upstream_, 1);
        return false;
    }

    // Bytes read from `from` go to `to`, as far as its queue has room; with the rest kept, `from` pauses.
    void relay(Flow& flow, ringd::Connection from, ringd::Connection to, std::span<const std::byte> bytes, int metric)
    {
        const std::span<const std::byte> now = flow.take(bytes, uint64_t(to.queued_output()));
        if (!now.empty()) {
            if (to.send(now) != 0) { // `to` is closing: nothing more can reach its peer
                from.close();
                return;
            }
            metric_add(metric, int64_t(now.size()));
        }
        if (flow.stalled()) {
            from.pause_reading();
            to.notify_output_below(flow.low_water());
        }
    }

    // `to` takes bytes again (just connected, or drained): what `flow` kept goes first, then its FIN, then
    // `from` is read again. If what is kept does not fit yet, `from` stays paused until the next drain.
    void resume(Pair& pair, Flow& flow, ringd::Connection from, ringd::Connection to, int metric)
    {
        std::string bytes = flow.release(uint64_t(to.queued_output()));
        if (!bytes.empty()) {
            metric_add(metric, int64_t(bytes.size()));
            to.send(std::move(bytes)); // handed over, not copied
        }
        if (flow.stalled()) {
            to.notify_output_below(flow.low_water());
            return;
        }
        from.resume_reading();
        if (flow.fin_to_pass()) {
            to.shutdown_write();
            close_if_done(pair);
        }
    }

    // `to`'s peer is gone: what was kept for `to` is queued whatever its size (at most one read), then `to` is
    // closed once it has been sent.
    void flush_and_close(Flow& flow, ringd::Connection to, int metric)
    {
        std::string rest = flow.release_all();
        if (!rest.empty()) {
            metric_add(metric, int64_t(rest.size()));
            to.send(std::move(rest));
        }
        to.close();
    }

    // Both sides sent FIN and both FINs were passed on: nothing more can flow either way.
    void close_if_done(Pair& pair)
    {
        if (!pair.up.done() || !pair.down.done()) return;
        client(pair).close();
        upstream(pair).close();
    }

    void upstream_failed(std::size_t index, int error)
    {
        metric_add(connect_failures_, 1);
        if (!upstreams_.mark_down(index, steady_ns())) return; // this outage is logged already
        metric_add(upstreams_down_, 1);
        log().warn("upstream " + config_.upstreams[index].text + " is down (connect: " + describe_error(error) +
                   "); skipping it for " + describe_duration(config_.down_time));
    }

    // ringd itself could not open an upstream connection: logged at most every 10 s, not per client.
    void local_failure(int error)
    {
        metric_add(no_upstream_, 1);
        const int64_t now = steady_ns();
        int64_t last = last_local_warning_.load(std::memory_order_relaxed);
        if (last != 0 && now - last < 10'000'000'000) return;
        if (!last_local_warning_.compare_exchange_strong(last, now, std::memory_order_relaxed)) return;
        log().warn("cannot open an upstream connection (" + describe_error(error) +
                   (error == -EAGAIN ? ": the listener's max_outbound_connections are open" : "") +
                   "): closing clients meanwhile");
    }

    Config config_;
    UpstreamSet upstreams_;
    uint32_t connect_timeout_ms_;
    std::atomic<int64_t> last_local_warning_{0};
    int connections_, connect_failures_, no_upstream_, bytes_to_upstream_, bytes_to_client_, upstreams_down_;
};

} // namespace

RINGD_EXPORT_HANDLER(TcpProxy, "tcp-proxy", "1.0.0", RINGD_KIND_STREAM)
