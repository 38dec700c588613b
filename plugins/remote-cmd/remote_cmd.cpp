// remote-cmd: runs allow-listed commands for clients, through the host's spawn service (no shell, cleared
// environment, own process group, timeout, capped output), and answers in one of three wire formats
// (response_encoder.hpp). The worker never blocks: a command's completion arrives as a callback.
//
// json-header and size-prefixed requests carry no length: a LineAssembler finds where each ends (at a
// newline, or when the connection has been quiet for request_assembly), never "one read is one request".
//
// Per connection, requests are queued and run one at a time, so answers come back in request order. A
// listener-wide ConcurrencyGate caps running commands; a request that finds no free slot waits in the
// gate's bounded FIFO (polling from its own connection's timer) and is answered "busy" if the queue is full
// or the wait exceeds queue_timeout.
//
// Memory per connection is bounded whatever the client does: at most kMaxQueuedJobs requests are queued
// (then the connection stops being read, and framed input beyond them stays undecoded), and the next request
// starts only once no more than kMaxUnsentReplyBytes of earlier replies are still queued in the host. A
// client that pipelines requests and never reads its replies thus holds about one reply (max_output) plus its
// queued requests, and is flow-controlled by TCP; the host's own max_output_buffer cannot do this, since it
// pauses reading only after the requests that make the output have been read.
#include "command_policy.hpp"
#include "concurrency_gate.hpp"
#include "frame_decoder.hpp"
#include "line_assembler.hpp"
#include "peer_credentials.hpp"
#include "request_planner.hpp"
#include "response_encoder.hpp"
#include "settings.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <deque>
#include <memory>
#include <ringd/plugin.hpp>
#include <sys/socket.h>
#include <variant>

namespace ringd::remote_cmd {
namespace {

constexpr std::size_t kMaxQueuedJobs = 16; // queued requests per connection; then reading and decoding pause
constexpr std::size_t kMaxUnsentReplyBytes = 64 * 1024; // more of a connection's replies unsent: next job waits
constexpr uint64_t kQueuePollMs = 5;                    // how often a waiting request re-checks the gate
// How often a connection whose replies are not leaving re-checks: soon at first (a reading client drains a
// reply within a millisecond or two), then less often, so a client that stopped reading costs little.
constexpr uint64_t kDrainPollFirstMs = 1;
constexpr uint64_t kDrainPollMaxMs = 64;
constexpr uint64_t kLingerMs = 2000; // after a fatal error, wait this long for the peer's FIN

using Clock = std::chrono::steady_clock;

// idle -> waiting (for a gate slot) -> running (spawned) -> idle; draining = jobs are queued but the host
// still holds too many reply bytes, so the next one waits (polling from a timer) for them to be sent;
// lingering = answered a fatal error, write side shut, reading and discarding until the peer closes (closing
// at once could turn the unread input into a RST that destroys the error answer before the peer reads it).
enum class Phase { idle, draining, waiting, running, lingering };

class RemoteCmd;

// Bytes of a connection's replies that the host has queued but not yet handed to the kernel. Owned jointly
// by the connection's state and every reply buffer still in the host's output queue, because the host frees
// those buffers when they are sent *or when the connection is gone*, which can be after on_close has freed
// the ConnState. The host frees them on the connection's worker thread (or after the workers have stopped),
// so a plain counter suffices.
struct UnsentReplies {
    std::size_t bytes = 0;
};

// One reply handed to the host with send_owned.
struct OwnedReply {
    std::string bytes;
    std::shared_ptr<UnsentReplies> unsent;

    // The host's free callback. It runs outside any plugin callback, in the middle of the host's own output
    // queue work (OutputQueue::consume / clear), or after on_close: it must not call the host or touch the
    // connection's state, only the shared counter.
    static void release(void*, void* ctx) noexcept
    {
        auto* reply = static_cast<OwnedReply*>(ctx);
        reply->unsent->bytes -= reply->bytes.size();
        delete reply;
    }
};

struct ConnState {
    ConnState(RemoteCmd* h, uint32_t max_request, std::size_t max_line)
        : handler(h), decoder(max_request), lines(max_line)
    {
    }
    RemoteCmd* handler;
    FrameDecoder decoder; // framed
    LineAssembler lines;  // json-header, size-prefixed
    std::deque<Job> jobs; // answered strictly in this order
    Phase phase = Phase::idle;
    uint64_t ticket = 0;         // the gate ticket while waiting
    int64_t timer_id = -1;       // the pending poll or linger timer
    int64_t assembly_timer = -1; // line protocols: ends a partial request once the connection is quiet
    Clock::time_point waiting_since;
    std::string running_name;       // the command in flight, for spawn-error messages
    std::optional<Failure> refusal; // the peer's credentials were refused at on_open
    std::shared_ptr<UnsentReplies> unsent = std::make_shared<UnsentReplies>();
    uint64_t drain_poll_ms = kDrainPollFirstMs; // the next draining timer's delay
    bool ignore_input = false;                  // a close_after job is queued
    bool paused = false;
    bool peer_done = false;
    bool end_checked = false; // the peer is done and the decoder's finish() was consulted
    // The last request was ended by the assembly window, not by a newline: bytes that come before it is
    // answered may be its late tail, so they are refused rather than run as a command of their own.
    bool window_ended = false;

    [[nodiscard]] std::size_t held_input() const { return decoder.buffered() + lines.buffered(); }
    [[nodiscard]] bool answering() const { return phase != Phase::idle || !jobs.empty(); }
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
        auto state = std::make_unique<ConnState>(this, settings_.max_request, max_line_request(settings_));
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
            // Only as many frames as the queue has room for; the decoder keeps the rest of the read, and
            // pump() decodes it as jobs are answered.
            std::vector<FrameDecoder::Event> events;
            st->decoder.feed(data, events, queue_room(*st));
            add_framed_jobs(*st, events);
        } else {
            take_lines(conn, *st, data);
        }
        if (!st->paused && (st->jobs.size() >= kMaxQueuedJobs || st->held_input() > 0)) {
            st->paused = conn.pause_reading() == 0;
        }
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
        pump(conn, *st); // checks for a truncated last frame once the buffered input is decoded
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
        if (st == nullptr) return;
        if (timer_id == st->assembly_timer) {
            st->assembly_timer = -1;
            end_partial_request(*st, true);
            pump(conn, *st);
            return;
        }
        if (timer_id != st->timer_id) return;
        st->timer_id = -1;
        if (st->phase == Phase::lingering) {
            conn.close();
            return;
        }
        if (st->phase == Phase::draining) {
            st->phase = Phase::idle;
            pump(conn, *st); // waits again if the replies are still there
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
        if (job.close_after) {
            st.ignore_input = true;
            st.decoder.discard_buffered(); // nothing after this job will be served
            st.lines.discard_buffered();
        }
        st.jobs.push_back(std::move(job));
    }

    static std::size_t queue_room(const ConnState& st)
    {
        return st.jobs.size() < kMaxQueuedJobs ? kMaxQueuedJobs - st.jobs.size() : 0;
    }

    void add_framed_jobs(ConnState& st, std::vector<FrameDecoder::Event>& events) const
    {
        for (FrameDecoder::Event& e : events) {
            add_job(st, e.is_error ? Job::fatal({ErrorKind::bad_request, e.bytes}) : planner_.framed_request(e.bytes));
        }
    }

    // Line protocols: the bytes of one read, assembled into requests (line_assembler.hpp).
    void take_lines(Connection conn, ConnState& st, std::span<const std::byte> data) const
    {
        if (st.window_ended && !data.empty()) {
            st.window_ended = false;
            if (st.answering()) {
                add_job(st, Job::fatal({ErrorKind::bad_request,
                                        "more bytes arrived before the previous request, which had no newline, was "
                                        "answered: end each request with a newline to send the next one early"}));
                return;
            }
        }
        std::vector<LineAssembler::Event> events;
        st.lines.feed(data, events, queue_room(st));
        add_line_jobs(st, events);
        restart_assembly_window(conn, st);
    }

    void add_line_jobs(ConnState& st, std::vector<LineAssembler::Event>& events) const
    {
        for (LineAssembler::Event& e : events) {
            add_job(st, e.too_large ? Job::fatal({ErrorKind::too_large, e.bytes}) : planner_.line_request(e.bytes));
        }
    }

    // A partial request ends when no byte has come for request_assembly: (re)starts that window after input.
    // Only once every byte received is scanned, since unscanned input (held while the queue is full) would
    // continue the partial request.
    void restart_assembly_window(Connection conn, ConnState& st) const
    {
        if (st.assembly_timer > 0) {
            (void)conn.cancel_timer(st.assembly_timer);
            st.assembly_timer = -1;
        }
        if (st.ignore_input || !st.lines.has_partial() || st.lines.buffered() > 0) return;
        const auto delay = static_cast<uint64_t>(settings_.request_assembly.count());
        if (const int64_t id = conn.start_timer(delay); id > 0) {
            st.assembly_timer = id;
        } else {
            end_partial_request(st, true); // no timer (the connection is closing): do not keep it forever
        }
    }

    // The partial request is complete: the window passed (`by_window`) or the peer finished sending.
    void end_partial_request(ConnState& st, bool by_window) const
    {
        if (st.ignore_input || st.phase == Phase::lingering || !st.lines.has_partial() || st.lines.buffered() > 0) {
            return;
        }
        st.window_ended = by_window;
        add_job(st, planner_.line_request(st.lines.take_partial()));
    }

    // Refills the job queue from input the decoder or assembler still holds and, once all input is decoded
    // and the peer is done, reports a stream that ended inside a frame (after every earlier request) or ends
    // a partial line request.
    void decode_held_input(Connection conn, ConnState& st) const
    {
        if (st.ignore_input || st.phase == Phase::lingering) return;
        if (st.lines.buffered() > 0 && queue_room(st) > 0) {
            std::vector<LineAssembler::Event> events;
            st.lines.decode_buffered(events, queue_room(st));
            add_line_jobs(st, events);
            restart_assembly_window(conn, st);
        }
        if (st.peer_done && st.lines.has_partial()) end_partial_request(st, false);
        if (st.decoder.buffered() > 0 && queue_room(st) > 0) {
            std::vector<FrameDecoder::Event> events;
            st.decoder.decode_buffered(events, queue_room(st));
            add_framed_jobs(st, events);
        }
        if (st.peer_done && !st.end_checked && st.decoder.buffered() == 0 && !st.ignore_input) {
            st.end_checked = true;
            if (auto error = st.decoder.finish()) add_job(st, Job::fatal({ErrorKind::bad_request, *error}));
        }
    }

    // Answers or starts queued jobs until one is running or waiting, or the replies already queued must be
    // sent first; ends the connection when the peer is done and nothing is left. Always the last thing a
    // callback does: after close() no callback but on_close arrives, and the host runs that only once ours
    // has returned.
    void pump(Connection conn, ConnState& st)
    {
        for (;;) {
            decode_held_input(conn, st);
            if (st.phase != Phase::idle || st.jobs.empty()) break;
            if (st.unsent->bytes > kMaxUnsentReplyBytes && wait_for_replies(conn, st)) break;
            st.drain_poll_ms = kDrainPollFirstMs;
            Job& job = st.jobs.front();
            if (auto* failure = std::get_if<Failure>(&job.plan)) {
                const bool fatal = job.close_after;
                answer(conn, st, *failure);
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
        if (st.paused && st.jobs.size() < kMaxQueuedJobs / 2 && st.held_input() == 0) {
            st.paused = conn.resume_reading() != 0;
        }
        if (st.phase == Phase::idle && st.jobs.empty() && st.peer_done) conn.close();
    }

    // The host still holds more than kMaxUnsentReplyBytes of this connection's replies: the client is not
    // reading them (or not yet). Starting the next job would add up to another max_output to ringd's memory,
    // so the queue waits instead. There is no "output sent" callback in the ABI, and the reply buffers' free
    // callback may not call the host, so a timer re-checks, less often the longer the client does not read.
    // Returns false if no timer can be started (the connection is closing: nothing will be sent anyway).
    bool wait_for_replies(Connection conn, ConnState& st) const
    {
        if (!start_timer(conn, st, st.drain_poll_ms)) return false;
        st.phase = Phase::draining;
        st.drain_poll_ms = std::min(st.drain_poll_ms * 2, kDrainPollMaxMs);
        return true;
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
            answer(conn, st, spawn_failure(plan.name, -rc));
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
            // spawn_step came after spawn_error: an older host leaves it out (step 0, exec, is what it meant).
            const bool has_step = r.struct_size > offsetof(ringd_spawn_result, spawn_step);
            const int step = has_step ? r.spawn_step : RINGD_SPAWN_STEP_EXEC;
            const Failure failure = spawn_failure(st.running_name, r.spawn_error, step, settings_.run_as);
            // Not the client's doing, and the same for every request until an operator fixes it: say so in the log.
            if (step == RINGD_SPAWN_STEP_CREDENTIALS) log().warn(failure.message);
            answer(conn, st, failure);
        } else {
            CommandResult result{r.exit_code,
                                 r.term_signal,
                                 r.timed_out != 0,
                                 r.truncated != 0,
                                 r.duration_us / 1000,
                                 {reinterpret_cast<const char*>(r.stdout_data), r.stdout_len},
                                 {reinterpret_cast<const char*>(r.stderr_data), r.stderr_len}};
            send_reply(conn, st, encode_result(settings_.protocol, result));
        }
        pump(conn, st);
    }

    void answer(Connection conn, ConnState& st, const Failure& failure) const
    {
        if (failure.kind == ErrorKind::not_allowed || failure.kind == ErrorKind::unauthorized ||
            failure.kind == ErrorKind::forbidden) {
            log().info("refused: " + loggable(failure.message));
        }
        send_reply(conn, st, encode_failure(settings_.protocol, failure));
    }

    void answer_busy(Connection conn, ConnState& st) const
    {
        st.jobs.pop_front();
        answer(conn, st,
               Failure{ErrorKind::busy, "busy: " + std::to_string(settings_.max_concurrent) +
                                            " commands already running on this listener; try again later"});
    }

    // Every reply goes out through send_owned (no copy) and is counted in st.unsent until the host frees it.
    void send_reply(Connection conn, ConnState& st, std::string bytes) const
    {
        auto* reply = new OwnedReply{std::move(bytes), st.unsent};
        // Counted before the call: a failing send_owned frees the buffer inside it.
        st.unsent->bytes += reply->bytes.size();
        host()->send_owned(conn.raw(), reply->bytes.data(), reply->bytes.size(), &OwnedReply::release, reply);
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
