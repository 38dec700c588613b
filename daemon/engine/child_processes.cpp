// Spawned commands: started by the ChildLauncher thread, then pipes and pidfd through the ring, timeouts by group.
#include "engine/child_processes.hpp"

#include "engine/leftovers.hpp"
#include "engine/user_data.hpp"
#include "engine/worker.hpp"

#include <cerrno>
#include <cstring>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ringd::engine {

namespace {

constexpr std::size_t read_chunk = 16 * 1024;
constexpr auto kill_grace = std::chrono::seconds(1);
const char* const default_env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", nullptr};

// argv[0] without a slash is looked up in the PATH of the child's environment, never in ringd's own.
std::string resolve_program(const char* name, const char* const* envp)
{
    if (std::strchr(name, '/') != nullptr) return name;
    std::string path = "/usr/local/bin:/usr/bin:/bin";
    for (const char* const* e = envp; *e != nullptr; ++e) {
        if (std::strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
    }
    std::size_t start = 0;
    while (start <= path.size()) {
        std::size_t end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        std::string candidate = path.substr(start, end - start) + "/" + name;
        if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    return {};
}

} // namespace

struct ChildProcesses::Child {
    uint32_t index = 0;
    uint32_t reuse_tag = 0;
    bool in_use = false;
    pid_t pid = -1;
    UniqueFd pidfd;
    UniqueFd out_fd;
    UniqueFd err_fd;
    uint32_t conn_index = 0;
    uint32_t conn_reuse_tag = 0;
    ringd_spawn_done_fn done = nullptr;
    void* ctx = nullptr;
    bool orphaned = false;
    std::string out;
    std::string err;
    uint64_t max_output = 0;
    bool truncated = false;
    bool exited = false;
    int status = 0; // si_code / si_status from waitid
    int code = 0;
    bool out_eof = false;
    bool err_eof = false;
    bool gave_up_on_pipes = false; // the leader is gone; what still holds a pipe left the group
    int pending_ops = 0;
    Clock::time_point started{};
    std::optional<Clock::time_point> term_at;
    std::optional<Clock::time_point> kill_at;
    bool timed_out = false;
    std::unique_ptr<char[]> out_buf{new char[read_chunk]};
    std::unique_ptr<char[]> err_buf{new char[read_chunk]};
};

ChildProcesses::ChildProcesses(Worker& worker) : worker_(worker) {}

ChildProcesses::~ChildProcesses()
{
    kill_all();
}

int ChildProcesses::spawn(uint32_t conn_index, uint32_t conn_reuse_tag, const ringd_spawn_request& request,
                          ringd_spawn_done_fn done, void* ctx, Clock::time_point now)
{
    if (request.argv == nullptr || request.argv[0] == nullptr) return -EINVAL;
    const char* const* envp = request.envp != nullptr ? request.envp : default_env;
    // The common refusals (no such program, not executable) stay synchronous: a few stat-like calls.
    std::string program = resolve_program(request.argv[0], envp);
    if (program.empty()) return -ENOENT;
    if (::access(program.c_str(), X_OK) != 0) return -errno;

    ChildLauncher::Job job;
    job.program = std::move(program);
    for (const char* const* a = request.argv; *a != nullptr; ++a)
        job.argv.emplace_back(*a);
    for (const char* const* e = envp; *e != nullptr; ++e)
        job.envp.emplace_back(*e);
    job.cwd = request.cwd != nullptr ? request.cwd : "/";
    job.run_as_uid = request.run_as_uid;
    job.run_as_gid = request.run_as_gid;

    uint32_t index;
    if (!free_.empty()) {
        index = free_.back();
        free_.pop_back();
    } else {
        index = uint32_t(children_.size());
        children_.push_back(std::make_unique<Child>());
    }
    Child& c = *children_[index];
    const uint32_t reuse_tag = c.reuse_tag + 1;
    c = Child{};
    c.index = index;
    c.reuse_tag = reuse_tag;
    c.in_use = true;
    c.conn_index = conn_index;
    c.conn_reuse_tag = conn_reuse_tag;
    c.done = done;
    c.ctx = ctx;
    c.max_output = request.max_output;
    c.started = now;
    if (request.timeout_ms > 0) c.term_at = now + std::chrono::milliseconds(request.timeout_ms);
    ++running_;

    job.slot = index;
    job.reuse_tag = reuse_tag;
    if (!launcher_) {
        // Before the first command: what commands leave behind must come to ringd, not to init (leftovers.hpp).
        if (!become_subreaper()) spdlog::warn("cannot make ringd a child subreaper: {}", std::strerror(errno));
        auto deliver = [this](std::shared_ptr<ChildLauncher::Launch> launch) {
            worker_.post([this, launch](Worker&) { on_launched(*launch, Clock::now()); });
        };
        launcher_ = std::make_unique<ChildLauncher>(deliver, "ringd-spawn" + std::to_string(worker_.index()));
    }
    launcher_->submit(std::move(job));
    return 0;
}

void ChildProcesses::on_launched(ChildLauncher::Launch& launch, Clock::time_point now)
{
    Child& c = *children_[launch.slot];
    if (!c.in_use || c.reuse_tag != launch.reuse_tag) return; // cannot happen: the slot waits for its launch
    if (launch.error != 0) {
        if (!c.orphaned && c.done != nullptr) {
            ringd_spawn_result r{};
            r.struct_size = sizeof r;
            r.spawn_error = launch.error;
            r.spawn_step = launch.step;
            r.exit_code = -1;
            r.duration_us = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count());
            worker_.deliver_spawn_result(c.conn_index, c.conn_reuse_tag, c.done, c.ctx, r);
        }
        release(c.index);
        return;
    }
    c.pid = std::exchange(launch.pid, -1);
    c.pidfd = std::move(launch.pidfd);
    c.out_fd = std::move(launch.stdout_read);
    c.err_fd = std::move(launch.stderr_read);
    // Its connection closed, or the worker gave up on its children, while it was being started.
    if (c.orphaned) kill_child_group(c.pid, c.pidfd.get(), SIGKILL);

    io_uring_sqe* sqe = worker_.ring().sqe();
    io_uring_prep_poll_add(sqe, c.pidfd.get(), POLLIN);
    io_uring_sqe_set_data64(sqe, make_user_data(Op::child_pidfd, c.index, c.reuse_tag));
    ++c.pending_ops;
    arm_read(c, false);
    arm_read(c, true);
}

void ChildProcesses::arm_read(Child& c, bool is_stderr)
{
    io_uring_sqe* sqe = worker_.ring().sqe();
    io_uring_prep_read(sqe, is_stderr ? c.err_fd.get() : c.out_fd.get(), is_stderr ? c.err_buf.get() : c.out_buf.get(),
                       read_chunk, 0);
    io_uring_sqe_set_data64(sqe, make_user_data(is_stderr ? Op::child_stderr : Op::child_stdout, c.index, c.reuse_tag));
    ++c.pending_ops;
}

bool ChildProcesses::owns(uint32_t index, uint32_t reuse_tag) const
{
    return index < children_.size() && children_[index] && children_[index]->pending_ops > 0 &&
           user_data_matches(make_user_data(Op::child_pidfd, index, reuse_tag), children_[index]->reuse_tag);
}

void ChildProcesses::on_pidfd(uint32_t index, int /*res*/, Clock::time_point now)
{
    Child& c = *children_[index];
    --c.pending_ops;
    // Peek first (WNOWAIT): while the leader is an unreaped zombie its process group id cannot be reused, so
    // signalling the group is safe. No command leaves processes behind: whatever is still in its group
    // (a backgrounded grandchild, one that ignores SIGTERM) is killed now, then the leader is reaped.
    siginfo_t info{};
    const idtype_t by_pidfd = idtype_t(P_PIDFD);
    const auto pidfd = id_t(c.pidfd.get());
    if (::waitid(by_pidfd, pidfd, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0) {
        c.status = info.si_code;
        c.code = info.si_status;
    } else {
        c.status = CLD_KILLED;
        c.code = SIGKILL;
    }
    ::kill(-c.pid, SIGKILL);
    siginfo_t reaped{};
    ::waitid(by_pidfd, pidfd, &reaped, WEXITED | WNOHANG);
    // Its descendants in other groups (setsid, or a job-control shell's jobs) were handed to ringd as it exited.
    sweep_leftovers(now);
    c.exited = true;
    c.term_at.reset();
    // A process that left the group (setsid) may still hold the pipes: stop waiting for them a second later.
    if (!c.out_eof || !c.err_eof) c.kill_at = now + kill_grace;
    maybe_finish(c, now);
}

void ChildProcesses::on_output(uint32_t index, bool is_stderr, int res, Clock::time_point now)
{
    Child& c = *children_[index];
    --c.pending_ops;
    // After give_up_on_pipes a read that had data completes instead of being cancelled: keep what it read,
    // but do not read again, or a writer that left the group would keep the command from ever finishing.
    if (res <= 0 || c.gave_up_on_pipes) {
        if (res > 0) append_output(c, is_stderr, res);
        (is_stderr ? c.err_eof : c.out_eof) = true;
        maybe_finish(c, now);
        return;
    }
    append_output(c, is_stderr, res);
    arm_read(c, is_stderr);
}

void ChildProcesses::append_output(Child& c, bool is_stderr, int res)
{
    std::string& sink = is_stderr ? c.err : c.out;
    const char* buf = is_stderr ? c.err_buf.get() : c.out_buf.get();
    const uint64_t kept = c.out.size() + c.err.size();
    const uint64_t room = kept < c.max_output ? c.max_output - kept : 0;
    // Past max_output we keep reading (so the child never blocks on a full pipe) but keep nothing.
    if (uint64_t(res) > room) c.truncated = true;
    sink.append(buf, std::size_t(uint64_t(res) < room ? uint64_t(res) : room));
}

void ChildProcesses::maybe_finish(Child& c, Clock::time_point now)
{
    if (!c.exited || !c.out_eof || !c.err_eof || c.pending_ops > 0) return;
    const uint32_t index = c.index;
    if (!c.orphaned && c.done != nullptr) {
        ringd_spawn_result r{};
        r.struct_size = sizeof r;
        r.exit_code = c.status == CLD_EXITED ? c.code : -1;
        r.term_signal = (c.status == CLD_KILLED || c.status == CLD_DUMPED) ? c.code : 0;
        r.timed_out = c.timed_out ? 1 : 0;
        r.truncated = c.truncated ? 1 : 0;
        r.duration_us = uint64_t(std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count());
        r.stdout_data = reinterpret_cast<const uint8_t*>(c.out.data());
        r.stdout_len = c.out.size();
        r.stderr_data = reinterpret_cast<const uint8_t*>(c.err.data());
        r.stderr_len = c.err.size();
        worker_.deliver_spawn_result(c.conn_index, c.conn_reuse_tag, c.done, c.ctx, r);
    }
    release(index);
}

void ChildProcesses::release(uint32_t index)
{
    Child& c = *children_[index];
    c.in_use = false;
    c.pidfd.reset();
    c.out_fd.reset();
    c.err_fd.reset();
    std::string().swap(c.out);
    std::string().swap(c.err);
    free_.push_back(index);
    --running_;
}

void ChildProcesses::forget_connection(uint32_t conn_index, uint32_t conn_reuse_tag)
{
    for (auto& child : children_) {
        Child& c = *child;
        if (!c.in_use || c.orphaned || c.conn_index != conn_index || c.conn_reuse_tag != conn_reuse_tag) continue;
        c.orphaned = true;
        // Not once the leader is reaped: its group id may then belong to someone else. (pid <= 0: still being
        // launched, on_launched kills it.)
        if (c.pid > 0 && !c.exited) kill_child_group(c.pid, c.pidfd.get(), SIGKILL);
    }
}

void ChildProcesses::sweep_leftovers(Clock::time_point now)
{
    if (kill_leftovers() == 0) {
        sweep_at_.reset();
        sweep_interval_ = first_sweep_interval;
        return;
    }
    // Killed leftovers hand their own children to ringd, and may take a moment to die: look again soon, less
    // often while something lingers (a process in uninterruptible sleep dies only when it wakes).
    if (sweep_at_) sweep_interval_ = std::min(sweep_interval_ * 2, max_sweep_interval);
    sweep_at_ = now + sweep_interval_;
}

std::optional<Clock::time_point> ChildProcesses::run_deadlines(Clock::time_point now)
{
    std::optional<Clock::time_point> next;
    auto consider = [&next](Clock::time_point t) {
        if (!next || t < *next) next = t;
    };
    if (sweep_at_ && *sweep_at_ <= now) sweep_leftovers(now);
    if (sweep_at_) consider(*sweep_at_);
    for (auto& child : children_) {
        Child& c = *child;
        // A child still being started has no process to signal yet; its launch wakes the worker anyway.
        if (!c.in_use || c.pid <= 0) continue;
        if (c.term_at && *c.term_at <= now) {
            c.timed_out = true;
            c.term_at.reset();
            kill_child_group(c.pid, c.pidfd.get(), SIGTERM);
            c.kill_at = now + kill_grace;
        }
        if (c.kill_at && *c.kill_at <= now) {
            c.kill_at.reset();
            if (!c.exited) {
                kill_child_group(c.pid, c.pidfd.get(), SIGKILL);
            } else {
                give_up_on_pipes(c);
            }
        }
        if (c.term_at) consider(*c.term_at);
        if (c.kill_at) consider(*c.kill_at);
    }
    return next;
}

// The leader is gone and its group killed, yet a pipe is still open (held by a process that left the group):
// cancel the reads, which completes them and lets the result go out with what was collected.
void ChildProcesses::give_up_on_pipes(Child& c)
{
    c.gave_up_on_pipes = true;
    for (bool is_stderr : {false, true}) {
        if (is_stderr ? c.err_eof : c.out_eof) continue;
        io_uring_sqe* sqe = worker_.ring().sqe();
        io_uring_prep_cancel64(
            sqe, make_user_data(is_stderr ? Op::child_stderr : Op::child_stdout, c.index, c.reuse_tag), 0);
        io_uring_sqe_set_data64(sqe, make_user_data(Op::ignore, 0));
    }
}

void ChildProcesses::kill_all()
{
    for (auto& child : children_) {
        if (!child->in_use) continue;
        if (child->pid > 0) {
            if (!child->exited) kill_child_group(child->pid, child->pidfd.get(), SIGKILL); // see forget_connection
        } else {
            child->orphaned = true; // on_launched kills it
        }
    }
    if (launcher_) (void)kill_leftovers();
}

} // namespace ringd::engine
