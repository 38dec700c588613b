// Engine: the worker threads, each with its own ring, and the commands that change what they serve.
// Listeners are added, retired and replaced at run time by posting commands to every worker; the calls here
// return at once (the main thread never blocks on a worker, except in join()).
#pragma once

#include "engine/listener.hpp"
#include "engine/stall_detector.hpp"
#include "engine/worker.hpp"
#include "engine/worker_directory.hpp"
#include "service/access_log.hpp"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ringd::engine {

struct EngineOptions {
    unsigned workers = 1;
    std::chrono::milliseconds shutdown_timeout{5000};
    // The access log: records queued at most (all workers together), and where they go (null: the journal or
    // stderr, service::make_access_log_sink()).
    std::size_t access_log_capacity = service::AccessLog::default_capacity;
    std::shared_ptr<service::AccessLogSink> access_log_sink;
};

class Engine {
public:
    // Creates every worker's ring before starting any thread, so an unusable io_uring is reported (thrown)
    // before anything runs.
    explicit Engine(const EngineOptions& options);
    ~Engine(); // shuts down (if not yet) and joins
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    void start();
    void add_listener(const std::shared_ptr<Listener>& listener);
    // Stops accepting on `listener`; with a drain deadline, connections still open then are closed.
    void retire_listener(const std::shared_ptr<Listener>& listener,
                         std::optional<std::chrono::milliseconds> drain_after);
    // Same address, new settings: the successor takes over the running sockets and accepts without a gap.
    void replace_listener(const std::shared_ptr<Listener>& old, const std::shared_ptr<Listener>& successor);
    void begin_shutdown(std::chrono::milliseconds timeout);
    // A reload's new shutdown_timeout: how long a connection closed from now on may take to flush and FIN.
    void set_shutdown_timeout(std::chrono::milliseconds timeout);
    void join(); // also writes what the access log still holds (bounded: AccessLog::flush_limit)
    // Waits until every worker has run every command posted before this call (false on timeout). Lets the
    // supervisor say READY=1 after a reload only once the new configuration is in effect everywhere.
    bool sync(std::chrono::milliseconds timeout);

    [[nodiscard]] unsigned worker_count() const { return unsigned(workers_.size()); }
    [[nodiscard]] uint64_t live_connections() const;
    // Every worker's health counters (any thread, while the engine exists).
    [[nodiscard]] std::vector<WorkerReading> read_workers() const;
    // The oldest worker heartbeat: a loop that stops turning makes this fall behind.
    [[nodiscard]] Clock::time_point oldest_heartbeat() const;
    // "worker N: why" for the first worker whose loop stopped on its own (see Worker::failure).
    [[nodiscard]] std::optional<std::string> failure() const;
    // Records written and dropped (the metric ringd_access_log_dropped_total: AccessLog::dropped()).
    [[nodiscard]] const service::AccessLog& access_log() const { return *access_log_; }

private:
    std::unique_ptr<service::AccessLog> access_log_; // the workers submit to it: outlives them
    std::vector<std::unique_ptr<Worker>> workers_;
    std::unique_ptr<WorkerDirectory> directory_; // registers workers_ for send_to and friends; goes first
    std::vector<std::thread> threads_;
    std::unique_ptr<StallDetector> stall_detector_; // while the workers run; declared last, so destroyed first
};

} // namespace ringd::engine
