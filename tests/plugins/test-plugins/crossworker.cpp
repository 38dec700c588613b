// crossworker: the ABI 1.1 calls through the C++ SDK, driven by a line protocol, for
// tests/integration/test_cross_worker.py. Each command line gets one reply line on the same connection.
//
//   who                        -> "id <conn id> worker <worker index>"
//   send <id> <text>           send_to(id, text\n) from this worker            -> "ok <rc>"
//   tsend <id> <text>          the same from the plugin's own thread           -> "ok <rc>" (when done)
//   close <id>                 close(id)                                        -> "ok <rc>"
//   post <id> <text>           post(id, send text\n there)                      -> "ok <rc>"
//   worker <w>                 post_worker(w, send "task on <w'>\n" back here)  -> "ok <rc>", then that line
//   broadcast <text>           a task on every worker sends text\n to each connection there (for_each_connection)
//                                                                               -> "ok <workers posted>"
//   count                      -> "count <connections of this instance on this worker>"
//   ticks                      -> "ticks <n0> <n1> ..." worker timers fired per worker (a 20 ms timer each)
//   metrics                    -> "metrics connections <g> ticks <c> sent <c>" (metric_read)
//   incr                       -> "counter <n>": a counter the instance shares with its predecessor (handover)
//   handover                   -> "handover main <0|1> workers <n>": where on_handover ran for this instance
//   pingpong <id> <hops>       posts bounce between here and <id>'s worker <hops> times
//                                                  -> "lat n <hops> p50 <ns> p99 <ns>" (post to task start)
//   flood <id> <count> <size>  send_to(id) <count> messages of <size> bytes from this worker, as fast as the
//                              mailbox takes them                              -> "flood <count> <ns>"
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <ringd/plugin.hpp>
#include <sstream>
#include <thread>
#include <vector>

namespace {

int64_t now_ns()
{
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The plugin's own thread, to call send_to from a thread that is no worker.
class OwnThread {
public:
    OwnThread() : thread_([this] { loop(); }) {}
    ~OwnThread()
    {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    void run(std::function<void()> job)
    {
        {
            std::lock_guard lock(mutex_);
            jobs_.push_back(std::move(job));
        }
        wake_.notify_one();
    }

private:
    void loop()
    {
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
            if (stop_) return;
            auto job = std::move(jobs_.front());
            jobs_.pop_front();
            lock.unlock();
            job();
            lock.lock();
        }
    }
    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::function<void()>> jobs_;
    bool stop_ = false;
    std::thread thread_; // last: starts once the rest exists
};

struct Chain { // a ping-pong between two connections' workers
    ringd_conn_id origin, here, there;
    int hops_left;
    int64_t posted_at = 0;
    std::vector<int64_t> samples;
};

struct Flood {
    ringd_conn_id origin, target;
    uint64_t count, sent = 0;
    std::string payload;
    int64_t started_at;
};

class CrossWorker final : public ringd::Handler {
public:
    explicit CrossWorker(const ringd::InstanceArgs& args)
        : Handler(args), ticks_(args.worker_count), handed_over_(args.worker_count),
          counter_(std::make_shared<std::atomic<int64_t>>(0))
    {
        connections_metric_ = register_metric("connections", RINGD_METRIC_GAUGE, "open connections");
        ticks_metric_ = register_metric("ticks", RINGD_METRIC_COUNTER, "worker timer ticks");
        sent_metric_ = register_metric("sent", RINGD_METRIC_COUNTER, "send_to calls that succeeded");
        if (connections_metric_ < 0 || ticks_metric_ < 0 || sent_metric_ < 0)
            throw std::runtime_error("metric_register failed");
        for (auto& t : ticks_)
            t = 0;
        for (auto& h : handed_over_)
            h = 0;
    }
    static std::unique_ptr<CrossWorker> create(const ringd::InstanceArgs& args)
    {
        return std::make_unique<CrossWorker>(args);
    }

    bool on_open(ringd::Connection) override
    {
        metric_add(connections_metric_, 1);
        return true;
    }
    void on_close(ringd::Connection conn, ringd_close_reason) override
    {
        metric_add(connections_metric_, -1);
        delete conn.user<std::string>();
    }
    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        auto* pending = conn.user<std::string>();
        if (pending == nullptr) {
            pending = new std::string;
            conn.set_user(pending);
        }
        pending->append(reinterpret_cast<const char*>(data.data()), data.size());
        for (std::size_t nl; (nl = pending->find('\n')) != std::string::npos;) {
            const std::string line = pending->substr(0, nl);
            pending->erase(0, nl + 1);
            command(conn, line);
        }
    }
    void on_worker_start(uint32_t) override { start_worker_timer(20); }
    void on_worker_timer(int64_t, void*) override
    {
        ++ticks_[host()->worker_index()];
        metric_add(ticks_metric_, 1);
        start_worker_timer(20);
    }
    void on_handover(ringd::Handler& previous, const ringd_handover_info& info) override
    {
        auto* before = dynamic_cast<CrossWorker*>(&previous);
        if (before == nullptr) return;
        if (info.worker == RINGD_NO_WORKER) {
            counter_ = before->counter_; // read only: `previous` may be serving right now
            handed_over_main_ = 1;
        } else {
            handed_over_[info.worker] = 1;
        }
    }

private:
    int send_counted(ringd_conn_id id, std::string_view text) const
    {
        const int rc = send_to(id, text);
        if (rc == 0) metric_add(sent_metric_, 1);
        return rc;
    }

    void command(ringd::Connection conn, const std::string& line)
    {
        std::istringstream in(line);
        std::string verb;
        in >> verb;
        ringd_conn_id id = 0;
        std::string rest;
        auto text_after = [&] {
            std::getline(in >> std::ws, rest);
            return rest + "\n";
        };
        auto reply = [&](const std::string& text) { conn.send(text + "\n"); };
        const ringd_conn_id self = conn.id();
        if (verb == "who") {
            reply("id " + std::to_string(self) + " worker " + std::to_string(host()->worker_index()));
        } else if (verb == "send" && in >> id) {
            reply("ok " + std::to_string(send_counted(id, text_after())));
        } else if (verb == "tsend" && in >> id) {
            own_thread_.run([this, self, id, text = text_after()] {
                const int rc = send_counted(id, text);
                send_to(self, "ok " + std::to_string(rc) + "\n");
            });
        } else if (verb == "close" && in >> id) {
            reply("ok " + std::to_string(close(id)));
        } else if (verb == "post" && in >> id) {
            reply("ok " + std::to_string(post(id, [text = text_after()](ringd::Connection c) { c.send(text); })));
        } else if (uint32_t w = 0; verb == "worker" && in >> w) {
            reply("ok " + std::to_string(post_worker(w, [this, self] {
                      send_to(self, "task on " + std::to_string(host()->worker_index()) + "\n");
                  })));
        } else if (verb == "broadcast") {
            const std::string text = text_after();
            int posted = 0;
            for (uint32_t w = 0; w < worker_count(); ++w) {
                if (post_worker(w, [this, text] { for_each_connection([&](ringd::Connection c) { c.send(text); }); }) ==
                    0)
                    ++posted;
            }
            reply("ok " + std::to_string(posted));
        } else if (verb == "count") {
            reply("count " + std::to_string(for_each_connection([](ringd::Connection) {})));
        } else if (verb == "ticks") {
            std::string out = "ticks";
            for (const auto& t : ticks_)
                out += " " + std::to_string(t.load());
            reply(out);
        } else if (verb == "metrics") {
            int64_t c = 0, t = 0, s = 0;
            metric_read(connections_metric_, &c);
            metric_read(ticks_metric_, &t);
            metric_read(sent_metric_, &s);
            reply("metrics connections " + std::to_string(c) + " ticks " + std::to_string(t) + " sent " +
                  std::to_string(s));
        } else if (verb == "incr") {
            reply("counter " + std::to_string(++*counter_));
        } else if (verb == "handover") {
            int workers = 0;
            for (const auto& h : handed_over_)
                workers += h.load();
            reply("handover main " + std::to_string(handed_over_main_.load()) + " workers " + std::to_string(workers));
        } else if (int hops = 0; verb == "pingpong" && in >> id >> hops) {
            hop(std::make_unique<Chain>(Chain{self, self, id, hops, 0, {}}));
        } else if (uint64_t count = 0, size = 0; verb == "flood" && in >> id >> count >> size) {
            pump(std::make_shared<Flood>(Flood{self, id, count, 0, std::string(size, 'f'), now_ns()}));
        } else {
            reply("error " + line);
        }
    }

    // Posts the chain to the other end; the task there records how long it took and posts it back.
    void hop(std::unique_ptr<Chain> chain) const
    {
        if (chain->hops_left-- == 0) {
            std::vector<int64_t>& s = chain->samples;
            std::sort(s.begin(), s.end());
            const auto at = [&](double q) { return s.empty() ? 0 : s[std::size_t(q * double(s.size() - 1))]; };
            send_to(chain->origin, "lat n " + std::to_string(s.size()) + " p50 " + std::to_string(at(0.5)) + " p99 " +
                                       std::to_string(at(0.99)) + "\n");
            return;
        }
        std::swap(chain->here, chain->there);
        chain->posted_at = now_ns();
        const ringd_conn_id to = chain->here;
        const int rc = post(to, [this, chain = std::move(chain)](ringd::Connection) mutable {
            chain->samples.push_back(now_ns() - chain->posted_at);
            hop(std::move(chain));
        });
        if (rc != 0) send_to(to, "pingpong failed " + std::to_string(rc) + "\n");
    }

    // Sends as long as the target's mailbox takes it; a full mailbox (or every 4,096 messages, to let this
    // worker's loop turn and wake the target) continues in a task on this worker.
    void pump(std::shared_ptr<Flood> f) const
    {
        for (unsigned batch = 0; f->sent < f->count && batch < 4096; ++batch) {
            const int rc = send_to(f->target, f->payload);
            if (rc == -ENOBUFS) break;
            if (rc != 0) {
                send_to(f->origin, "flood failed " + std::to_string(rc) + "\n");
                return;
            }
            ++f->sent;
        }
        if (f->sent == f->count) {
            send_to(f->origin,
                    "flood " + std::to_string(f->count) + " " + std::to_string(now_ns() - f->started_at) + "\n");
            return;
        }
        post_worker(host()->worker_index(), [this, f] { pump(f); });
    }

    std::vector<std::atomic<uint64_t>> ticks_;
    std::vector<std::atomic<int>> handed_over_;
    std::atomic<int> handed_over_main_{0};
    std::shared_ptr<std::atomic<int64_t>> counter_; // shared with the successor after a reload
    int connections_metric_ = -1, ticks_metric_ = -1, sent_metric_ = -1;
    mutable OwnThread own_thread_; // last: stopped (joined) first
};

} // namespace

RINGD_EXPORT_HANDLER(CrossWorker, "crossworker", "1.0.0", RINGD_KIND_STREAM)
