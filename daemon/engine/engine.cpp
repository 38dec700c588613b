// Engine: worker lifecycle and cross-thread commands.
#include "engine/engine.hpp"

#include <condition_variable>
#include <mutex>
#include <pthread.h>
#include <signal.h>

namespace ringd::engine {

Engine::Engine(const EngineOptions& options)
{
    access_log_ = std::make_unique<service::AccessLog>(options.workers, options.access_log_capacity,
                                                       options.access_log_sink ? options.access_log_sink
                                                                               : service::make_access_log_sink());
    for (unsigned i = 0; i < options.workers; ++i) {
        WorkerOptions wo;
        wo.index = i;
        wo.access_log = access_log_.get();
        wo.worker_count = options.workers;
        wo.shutdown_timeout = options.shutdown_timeout;
        workers_.push_back(std::make_unique<Worker>(wo));
    }
    std::vector<Worker*> directory;
    for (auto& worker : workers_)
        directory.push_back(worker.get());
    directory_ = std::make_unique<WorkerDirectory>(directory);
}

Engine::~Engine()
{
    if (!threads_.empty()) {
        begin_shutdown(std::chrono::milliseconds(0));
        join();
    }
}

void Engine::start()
{
    // Workers never handle signals: the main thread reads them from its signalfd. Block them here too, in
    // case the caller has not, before the threads inherit the mask.
    sigset_t blocked;
    sigemptyset(&blocked);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2, SIGPIPE})
        sigaddset(&blocked, sig);
    pthread_sigmask(SIG_BLOCK, &blocked, nullptr);
    access_log_->start();
    for (auto& worker : workers_) {
        threads_.emplace_back([w = worker.get()] {
            pthread_setname_np(pthread_self(), ("ringd-w" + std::to_string(w->index())).c_str());
            w->run();
        });
    }
    std::vector<Worker*> watched;
    for (auto& worker : workers_)
        watched.push_back(worker.get());
    stall_detector_ = std::make_unique<StallDetector>(std::move(watched));
}

void Engine::add_listener(const std::shared_ptr<Listener>& listener)
{
    for (auto& worker : workers_)
        worker->post([listener](Worker& w) { w.add_listener(listener); });
}

void Engine::retire_listener(const std::shared_ptr<Listener>& listener,
                             std::optional<std::chrono::milliseconds> drain_after)
{
    for (auto& worker : workers_) {
        worker->post([listener, drain_after](Worker& w) {
            std::optional<Clock::time_point> deadline;
            if (drain_after) deadline = Clock::now() + *drain_after;
            w.retire_listener(listener.get(), deadline);
        });
    }
}

void Engine::replace_listener(const std::shared_ptr<Listener>& old, const std::shared_ptr<Listener>& successor)
{
    for (auto& worker : workers_) {
        worker->post([old, successor](Worker& w) { w.replace_listener(old.get(), successor); });
    }
}

void Engine::begin_shutdown(std::chrono::milliseconds timeout)
{
    const auto deadline = Clock::now() + timeout;
    for (auto& worker : workers_)
        worker->post([deadline](Worker& w) { w.begin_shutdown(deadline); });
}

void Engine::set_shutdown_timeout(std::chrono::milliseconds timeout)
{
    for (auto& worker : workers_)
        worker->post([timeout](Worker& w) { w.set_shutdown_timeout(timeout); });
}

void Engine::join()
{
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
    stall_detector_.reset();
    access_log_->stop(); // after the workers, whose last records are in it
}

bool Engine::sync(std::chrono::milliseconds timeout)
{
    struct Countdown {
        std::mutex mutex;
        std::condition_variable done;
        std::size_t left;
    };
    auto countdown = std::make_shared<Countdown>();
    countdown->left = workers_.size();
    for (auto& worker : workers_) {
        worker->post([countdown](Worker&) {
            std::lock_guard lock(countdown->mutex);
            if (--countdown->left == 0) countdown->done.notify_all();
        });
    }
    std::unique_lock lock(countdown->mutex);
    return countdown->done.wait_for(lock, timeout, [&] { return countdown->left == 0; });
}

uint64_t Engine::live_connections() const
{
    uint64_t total = 0;
    for (const auto& w : workers_)
        total += w->live_connections();
    return total;
}

std::vector<WorkerReading> Engine::read_workers() const
{
    std::vector<WorkerReading> readings;
    readings.reserve(workers_.size());
    for (const auto& w : workers_)
        readings.push_back(w->reading());
    return readings;
}

Clock::time_point Engine::oldest_heartbeat() const
{
    int64_t oldest = INT64_MAX;
    for (const auto& w : workers_)
        oldest = std::min(oldest, w->heartbeat_ns());
    return Clock::time_point(Clock::duration(oldest));
}

std::optional<std::string> Engine::failure() const
{
    for (const auto& w : workers_) {
        if (auto why = w->failure()) return "worker " + std::to_string(w->index()) + ": " + *why;
    }
    return std::nullopt;
}

} // namespace ringd::engine
