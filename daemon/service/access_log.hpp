// The access log (docs/access-log.md): records of closed and refused connections, handed over by the workers
// without ever blocking them, written by one writer thread to the journal or to stderr.
//
// Each worker has its own bounded queue (AccessLogQueue: single producer, single consumer, lock-free), so
// workers never contend with each other or wait for the writer. A full queue drops the record and counts it
// (AccessLog::dropped(), the metric ringd_access_log_dropped_total); the writer reports drops in the log at
// most once per 10 s. The writer sleeps on a futex when every queue is empty, and a worker wakes it only then
// (one atomic load per record otherwise).
#pragma once

#include "service/access_record.hpp"

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

namespace ringd::service {

// A record on its way from a worker to the writer: allocated by the worker (when the connection opens, so that
// nothing is allocated at close), freed by the writer.
struct AccessLogEntry {
    AccessRecord record;
    std::atomic<AccessLogEntry*> next{nullptr};
};

// Single producer (one worker), single consumer (the writer): a linked list with a stub node, so neither side
// ever waits for the other. Holds at most `capacity` entries; push() beyond that drops and counts.
class AccessLogQueue {
public:
    explicit AccessLogQueue(std::size_t capacity);
    ~AccessLogQueue();
    AccessLogQueue(const AccessLogQueue&) = delete;
    AccessLogQueue& operator=(const AccessLogQueue&) = delete;

    // Producer thread. False when full: the entry is freed and counted in dropped().
    bool push(std::unique_ptr<AccessLogEntry> entry);
    // Consumer thread. The oldest record, if any.
    [[nodiscard]] std::optional<AccessRecord> pop();
    // Consumer thread: nothing to pop right now.
    [[nodiscard]] bool empty() const { return head_->next.load(std::memory_order_acquire) == nullptr; }
    // Any thread.
    [[nodiscard]] uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::size_t capacity() const { return capacity_; }

private:
    const std::size_t capacity_;
    // Consumer side. head_ is the stub: the entry last popped (its record moved out), whose next is the oldest.
    alignas(64) AccessLogEntry* head_;
    std::atomic<uint64_t> popped_{0};
    // Producer side.
    alignas(64) AccessLogEntry* tail_;
    uint64_t pushed_ = 0;
    std::atomic<uint64_t> dropped_{0}; // written by the producer only (load + store, no read-modify-write)
};

// Where the writer puts records.
class AccessLogSink {
public:
    virtual ~AccessLogSink() = default;
    // False if the record could not be written (the journal refused it): it is counted as dropped.
    virtual bool write(const AccessRecord& record) = 0;
};

// The sink ringd uses: the journal when stderr is the journal (stderr_is_journal()), one entry per record with
// the fields of journal_fields(); otherwise a logfmt line through the sinks of spdlog's default logger, so a
// record never interleaves with other log lines, at info level whatever log.level says. Call after
// setup_logging().
[[nodiscard]] std::shared_ptr<AccessLogSink> make_access_log_sink();

class AccessLog {
public:
    // Records queued at most, across all producers (each gets an equal share).
    static constexpr std::size_t default_capacity = 65'536;
    // How long stop() goes on writing what is queued; what is left then counts as dropped.
    static constexpr std::chrono::milliseconds flush_limit{2'000};

    AccessLog(unsigned producers, std::size_t capacity, std::shared_ptr<AccessLogSink> sink);
    ~AccessLog(); // stop()
    AccessLog(const AccessLog&) = delete;
    AccessLog& operator=(const AccessLog&) = delete;

    // Starts the writer thread.
    void start();
    // Producer `producer`'s thread (a worker, by its index). Never blocks; false if the record was dropped.
    bool submit(unsigned producer, std::unique_ptr<AccessLogEntry> entry);
    // Writes what is queued (for at most flush_limit) and ends the writer. Call once the producers have stopped.
    // Idempotent.
    void stop();

    // Any thread.
    // Records dropped: queue full, refused by the sink, or still queued when stop()'s limit ran out.
    [[nodiscard]] uint64_t dropped() const;
    [[nodiscard]] uint64_t written() const { return written_.load(std::memory_order_relaxed); }

private:
    void run();
    // Writes everything queued now (or until `deadline`); returns how many records it wrote.
    std::size_t drain(std::optional<std::chrono::steady_clock::time_point> deadline);
    [[nodiscard]] bool all_empty() const;
    void report_drops(bool final);

    std::shared_ptr<AccessLogSink> sink_;
    std::vector<std::unique_ptr<AccessLogQueue>> queues_;
    std::thread writer_;
    std::atomic<uint32_t> writer_sleeping_{0}; // 1 while the writer waits (futex) for a record
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> written_{0};
    std::atomic<uint64_t> abandoned_{0}; // not written: the sink failed, or stop()'s flush_limit ran out
    uint64_t drops_reported_ = 0;        // writer thread
    std::chrono::steady_clock::time_point last_drop_report_{};
};

} // namespace ringd::service
