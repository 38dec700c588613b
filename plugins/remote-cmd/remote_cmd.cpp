// remote-cmd: runs allow-listed commands for clients, through the host's spawn service (no shell, cleared
// environment, own process group, timeout, capped output), and answers in one of three wire formats
// (response_encoder.hpp). The worker never blocks: a command's completion arrives as a callback.
//
// Per connection, requests are queued and run one at a time, so answers come back in request order. A
// listener-wide ConcurrencyGate caps running commands; a request that finds no free slot waits in the
// gate's bounded FIFO (polling from its own connection's timer) and is answered "busy" if the queue is full
// or the wait exceeds queue_timeout. A connection with too many queued requests stops being read.
#include "command_policy.hpp"
#include "concurrency_gate.hpp"
#include "frame_decoder.hpp"
#include "peer_credentials.hpp"
#include "request_planner.hpp"
#include "response_encoder.hpp"
#include "settings.hpp"

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <ringd/plugin.hpp>
#include <sys/socket.h>
#include <variant>

namespace ringd::remote_cmd {
namespace {

constexpr std::size_t kPauseReadingAt = 16; // queued requests per connection before reading pauses
constexpr uint64_t kQueuePollMs = 5;        // how often a waiting request re-checks the gate
constexpr uint64_t kLingerMs = 2000;        // after a fatal error, wait this long for the peer's FIN

using Clock = std::chrono::steady_clock;

// idle -> waiting (for a gate slot) -> running (spawned) -> idle; lingering = answered a fatal error, write
// side shut, reading and discarding until the peer closes (closing at once could turn the unread input into
// a RST that destroys the error answer before the peer reads it).
enum class Phase { idle, waiting, running, lingering };

class RemoteCmd;

struct ConnState {
    ConnState(RemoteCmd* h, uint32_t max_request) : handler(h), decoder(max_request) {}
    RemoteCmd* handler;
    FrameDecoder decoder;
    std::deque<Job> jobs; // answered strictly in this order
    Phase phase = Phase::idle;
    uint64_t ticket = 0;   // the gate ticket while waiting
    int64_t timer_id = -1; // the one pending timer (poll or linger)
    Clock::time_point waiting_since;
    std::string running_name;       // the command in flight, for spawn-error messages
    std::optional<Failure> refusal; // the peer's credentials were refused at on_open
    bool ignore_input = false;      // a close_after job is queued
    bool paused = false;
    bool peer_done = false;
};

class RemoteCmd final : public Handler {
public:
    RemoteCmd(const InstanceArgs& args, Settings settings)
        : Handler(args), settings_(std::move(settings)), planner_(settings_),
          gate_(settings_.max_concurrent, settings_.max_queued), peer_credentials_(peer_credentials_service(host()))
    {
    }

    static std::unique_ptr<RemoteCmd> create(const InstanceArgs& args)
    {
        Settings settings = parse_settings(args.config_yaml);
        if (settings.checks_peer() && peer_credentials_service(args.raw->host) == nullptr) {
            throw ConfigError(settings.allow_uids ? "allow_uids" : "allow_gids",
                              "this ringd cannot report peer credentials (no peer_credentials host service)");
        }
        auto handler = std::make_unique<RemoteCmd>(args, std::move(settings));
        for (const std::string& warning : handler->settings_.warnings)
            handler->log().warn(warning);
        return handler;
    }

    bool on_open(Connection conn) override
    {
        auto state = std::make_unique<ConnState>(this, settings_.max_request);
        if (settings_.checks_peer()) state->refusal = check_peer(conn);
        conn.set_user(state.release());
        return true;
    }

    void on_data(Connection conn, std::span<const std::byte> data) override
    {
        auto* st = conn.user<ConnState>();
        if (st == nullptr || st->ignore_input || st->phase == Phase::lingering) return;
        if (st->refusal) {
            add_job(*st, Job::fatal(*st->refusal));
        } else if (settings_.protocol == Protocol::framed) {
            std::vector<FrameDecoder::Event> events;
            st->decoder.feed(data, events);
            for (FrameDecoder::Event& e : events) {
                add_job(*st,
                        e.is_error ? Job::fatal({ErrorKind::bad_request, e.bytes}) : planner_.framed_request(e.bytes));
            }
        } else {
            add_job(*st, planner_.line_request({reinterpret_cast<const char*>(data.data()), data.size()}));
        }
        if (st->jobs.size() >= kPauseReadingAt && !st->paused) st->paused = conn.pause_reading() == 0;
        pump(conn, *st);
    }

    void on_peer_shutdown(Connection conn) override
    {
        auto* st = conn.user<ConnState>();
        if (st == nullptr) return;
        st->peer_done = true;
        if (st->phase == Phase::lingering) {
            conn.close();
            return;
        }
        if (auto error = st->decoder.finish(); error && !st->ignore_input) {
            add_job(*st, Job::fatal({ErrorKind::bad_request, *error}));
        }
        pump(conn, *st);
    }

    void on_close(Connection conn, ringd_close_reason) override
    {
        std::unique_ptr<ConnState> st(conn.user<ConnState>());
        conn.set_user(nullptr);
        if (!st) return;
        // The host kills a running child itself and then never calls spawn_done: give its slot back here.
        if (st->phase == Phase::running) gate_.release();
        if (st->phase == Phase::waiting) gate_.leave_queue(st->ticket);
    }

    void on_timer(Connection conn, int64_t timer_id, void*) override
    {
        auto* st = conn.user<ConnState>();
        if (st == nullptr || timer_id != st->timer_id) return;
        st->timer_id = -1;
        if (st->phase == Phase::lingering) {
            conn.close();
            return;
        }
        if (st->phase != Phase::waiting) return;
        if (gate_.try_acquire_queued(st->ticket)) {
            st->phase = Phase::idle;
            launch(conn, *st);
        } else if (Clock::now() - st->waiting_since >= settings_.queue_timeout ||
                   !start_timer(conn, *st, kQueuePollMs)) {
            gate_.leave_queue(st->ticket);
            st->phase = Phase::idle;
            answer_busy(conn, *st);
        }
        pump(conn, *st);
    }

    // host->spawn completion; a C callback, so nothing may escape it.
    static void spawn_done(void* ctx, ringd_conn* raw, const ringd_spawn_result* result) noexcept
    {
        auto* st = static_cast<ConnState*>(ctx);
        RemoteCmd* self = st->handler;
        try {
            self->finished(Connection(self->host(), raw), *st, *result);
        } catch (const std::exception& e) {
            self->log().error(std::string("spawn completion threw: ") + e.what());
            self->host()->close(raw, RINGD_CLOSE_ABORT);
        } catch (...) {
            self->log().error("spawn completion threw a non-standard exception");
            self->host()->close(raw, RINGD_CLOSE_ABORT);
        }
    }

private:
    static void add_job(ConnState& st, Job job)
    {
        st.ignore_input = st.ignore_input || job.close_after;
        st.jobs.push_back(std::move(job));
    }

    // Answers or starts queued jobs until one is running or waiting; ends the connection when the peer is
    // done and nothing is left. Always the last thing a callback does: after close() no callback but
    // on_close arrives, and the host runs that only once ours has returned.
    void pump(Connection conn, ConnState& st)
    {
        while (st.phase == Phase::idle && !st.jobs.empty()) {
            Job& job = st.jobs.front();
            if (auto* failure = std::get_if<Failure>(&job.plan)) {
                const bool fatal = job.close_after;
                answer(conn, *failure);
                st.jobs.pop_front();
                if (fatal) return linger(conn, st);
            } else if (gate_.try_acquire()) {
                launch(conn, st);
            } else if (auto ticket = gate_.enqueue(); ticket && start_timer(conn, st, kQueuePollMs)) {
                st.phase = Phase::waiting;
                st.ticket = *ticket;
                st.waiting_since = Clock::now();
            } else {
                if (ticket) gate_.leave_queue(*ticket);
                answer_busy(conn, st);
            }
        }
        if (st.paused && st.jobs.size() < kPauseReadingAt / 2) st.paused = conn.resume_reading() != 0;
        if (st.phase == Phase::idle && st.jobs.empty() && st.peer_done) conn.close();
    }

    // Spawns the front job, which holds a gate slot already.
    void launch(Connection conn, ConnState& st)
    {
        Job job = std::move(st.jobs.front());
        st.jobs.pop_front();
        auto& plan = std::get<ExecPlan>(job.plan);
        int rc = -ENOMEM;
        try {
            std::vector<const char*> argv;
            for (const std::string& arg : plan.argv)
                argv.push_back(arg.c_str());
            argv.push_back(nullptr);
            ringd_spawn_request request{};
            request.struct_size = sizeof request;
            request.argv = argv.data();
            request.timeout_ms = job.timeout_ms;
            request.max_output = settings_.max_output;
            request.run_as_uid = settings_.run_as_uid;
            request.run_as_gid = settings_.run_as_gid;
            st.running_name = plan.name;
            rc = conn.spawn(request, &RemoteCmd::spawn_done, &st);
        } catch (...) {
            gate_.release();
            throw;
        }
        if (rc < 0) {
            gate_.release();
            answer(conn, spawn_failure(plan.name, -rc));
            return;
        }
        st.phase = Phase::running;
        log().debug("started " + loggable(plan.argv.front()) + " (" + std::to_string(plan.argv.size()) + " args)");
    }

    void finished(Connection conn, ConnState& st, const ringd_spawn_result& r)
    {
        gate_.release();
        st.phase = Phase::idle;
        if (r.spawn_error != 0) {
            answer(conn, spawn_failure(st.running_name, r.spawn_error));
        } else {
            CommandResult result{r.exit_code,
                                 r.term_signal,
                                 r.timed_out != 0,
                                 r.truncated != 0,
                                 r.duration_us / 1000,
                                 {reinterpret_cast<const char*>(r.stdout_data), r.stdout_len},
                                 {reinterpret_cast<const char*>(r.stderr_data), r.stderr_len}};
            conn.send(encode_result(settings_.protocol, result));
        }
        pump(conn, st);
    }

    void answer(Connection conn, const Failure& failure) const
    {
        if (failure.kind == ErrorKind::not_allowed || failure.kind == ErrorKind::unauthorized ||
            failure.kind == ErrorKind::forbidden) {
            log().info("refused: " + loggable(failure.message));
        }
        conn.send(encode_failure(settings_.protocol, failure));
    }

    void answer_busy(Connection conn, ConnState& st) const
    {
        st.jobs.pop_front();
        answer(conn, Failure{ErrorKind::busy, "busy: " + std::to_string(settings_.max_concurrent) +
                                                  " commands already running on this listener; try again later"});
    }

    bool start_timer(Connection conn, ConnState& st, uint64_t delay_ms) const
    {
        st.timer_id = conn.start_timer(delay_ms);
        return st.timer_id > 0;
    }

    void linger(Connection conn, ConnState& st) const
    {
        st.jobs.clear();
        st.phase = Phase::lingering;
        if (st.peer_done || conn.shutdown_write() != 0 || !start_timer(conn, st, kLingerMs)) conn.close();
    }

    std::optional<Failure> check_peer(Connection conn)
    {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        if (conn.peer_address(reinterpret_cast<sockaddr*>(&peer), &len) != 0 || peer.ss_family != AF_UNIX) {
            if (!warned_not_unix_.exchange(true)) {
                log().warn("allow_uids/allow_gids need a unix-socket listener: refusing every non-unix peer");
            }
            return Failure{ErrorKind::forbidden, "this listener only serves unix-socket peers it can identify"};
        }
        int32_t pid = 0;
        uint32_t uid = 0;
        uint32_t gid = 0;
        if (peer_credentials_(conn.raw(), &pid, &uid, &gid) != 0) {
            return Failure{ErrorKind::forbidden, "cannot read the peer's credentials"};
        }
        return peer_refusal(settings_, pid, uid, gid);
    }

    const Settings settings_;
    const RequestPlanner planner_;
    ConcurrencyGate gate_;
    const PeerCredentialsFn peer_credentials_;
    std::atomic<bool> warned_not_unix_{false};
};

} // namespace
} // namespace ringd::remote_cmd

RINGD_EXPORT_HANDLER(ringd::remote_cmd::RemoteCmd, "remote-cmd", "1.0.0", RINGD_KIND_STREAM)
