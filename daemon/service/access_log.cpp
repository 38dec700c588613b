// The access log's queues, writer thread and sinks; see access_log.hpp.
#include "service/access_log.hpp"

#include "service/logging.hpp"

#include <algorithm>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

namespace ringd::service {

namespace {

using namespace std::chrono_literals;

// Drops are logged at most this often (and once more at stop), so a writer that cannot keep up does not add
// a log line per lost record.
constexpr auto drop_report_interval = 10s;
// After a round that wrote something the writer naps this long before looking again, instead of announcing
// that it sleeps: under steady traffic the workers then never have to wake it.
constexpr auto batch_nap = 1ms;

class JournalAccessSink final : public AccessLogSink {
public:
    bool write(const AccessRecord& record) override
    {
        const std::vector<std::string> fields = journal_fields(record);
        std::vector<iovec> iov;
        iov.reserve(fields.size());
        for (const std::string& field : fields)
            iov.push_back({const_cast<char*>(field.data()), field.size()});
        return sd_journal_sendv(iov.data(), int(iov.size())) >= 0;
    }
};

// Shares the sinks (and so their mutex and format) of the default logger, with a level of its own: records are
// written whatever log.level says; `access_log:` is their switch.
class LoggerAccessSink final : public AccessLogSink {
public:
    explicit LoggerAccessSink(const std::shared_ptr<spdlog::logger>& base)
        : logger_(std::make_shared<spdlog::logger>("access", base->sinks().begin(), base->sinks().end()))
    {
        logger_->set_level(spdlog::level::info);
        logger_->flush_on(spdlog::level::info);
    }
    bool write(const AccessRecord& record) override
    {
        logger_->info("{}", format_logfmt(record));
        return true;
    }

private:
    std::shared_ptr<spdlog::logger> logger_;
};

} // namespace

// ---- AccessLogQueue -----------------------------------------------------------------------------------------

AccessLogQueue::AccessLogQueue(std::size_t capacity) : capacity_(capacity), head_(new AccessLogEntry), tail_(head_) {}

AccessLogQueue::~AccessLogQueue()
{
    while (head_ != nullptr)
        delete std::exchange(head_, head_->next.load(std::memory_order_relaxed));
}

bool AccessLogQueue::push(std::unique_ptr<AccessLogEntry> entry)
{
    if (pushed_ - popped_.load(std::memory_order_acquire) >= capacity_) {
        dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
        return false;
    }
    AccessLogEntry* node = entry.release();
    node->next.store(nullptr, std::memory_order_relaxed);
    tail_->next.store(node, std::memory_order_release); // publishes the record to the consumer
    tail_ = node;
    ++pushed_;
    return true;
}

std::optional<AccessRecord> AccessLogQueue::pop()
{
    AccessLogEntry* next = head_->next.load(std::memory_order_acquire);
    if (next == nullptr) return std::nullopt;
    AccessRecord record = std::move(next->record);
    // The old stub is unreachable for the producer: its tail_ is `next` or later.
    delete std::exchange(head_, next);
    popped_.store(popped_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
    return record;
}

// ---- AccessLog ----------------------------------------------------------------------------------------------

std::shared_ptr<AccessLogSink> make_access_log_sink()
{
    if (stderr_is_journal()) return std::make_shared<JournalAccessSink>();
    return std::make_shared<LoggerAccessSink>(spdlog::default_logger());
}

AccessLog::AccessLog(unsigned producers, std::size_t capacity, std::shared_ptr<AccessLogSink> sink)
    : sink_(std::move(sink))
{
    const std::size_t share = std::max<std::size_t>(1, (capacity + producers - 1) / std::max(1u, producers));
    for (unsigned i = 0; i < producers; ++i)
        queues_.push_back(std::make_unique<AccessLogQueue>(share));
}

AccessLog::~AccessLog()
{
    stop();
}

void AccessLog::start()
{
    writer_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "ringd-access");
        run();
    });
}

bool AccessLog::submit(unsigned producer, std::unique_ptr<AccessLogEntry> entry)
{
    if (!queues_[producer]->push(std::move(entry))) return false;
    // Pairs with the fence in run(): either the writer sees this record when it looks before sleeping, or this
    // thread sees that it sleeps and wakes it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (writer_sleeping_.load(std::memory_order_relaxed) != 0 && writer_sleeping_.exchange(0) != 0)
        writer_sleeping_.notify_one();
    return true;
}

void AccessLog::stop()
{
    if (!writer_.joinable()) return;
    stopping_.store(true);
    writer_sleeping_.store(0);
    writer_sleeping_.notify_one();
    writer_.join();
}

uint64_t AccessLog::dropped() const
{
    uint64_t total = abandoned_.load(std::memory_order_relaxed);
    for (const auto& queue : queues_)
        total += queue->dropped();
    return total;
}

bool AccessLog::all_empty() const
{
    return std::all_of(queues_.begin(), queues_.end(), [](const auto& q) { return q->empty(); });
}

void AccessLog::run()
{
    while (!stopping_.load()) {
        const std::size_t wrote = drain(std::nullopt);
        report_drops(false);
        if (wrote > 0) {
            std::this_thread::sleep_for(batch_nap);
            continue;
        }
        if (drops_reported_ != dropped()) {
            // Drops not yet reported (within drop_report_interval of the last report): look again in a while
            // rather than sleep until the next record, which may never come.
            std::this_thread::sleep_for(1s);
            continue;
        }
        writer_sleeping_.store(1);
        std::atomic_thread_fence(std::memory_order_seq_cst);
        if (!all_empty() || stopping_.load()) {
            writer_sleeping_.store(0);
            continue;
        }
        writer_sleeping_.wait(1);
    }
    // The producers have stopped: write what they left, within the limit, and count the rest as dropped.
    drain(std::chrono::steady_clock::now() + flush_limit);
    uint64_t left = 0;
    for (auto& queue : queues_) {
        while (queue->pop())
            ++left;
    }
    abandoned_.fetch_add(left, std::memory_order_relaxed);
    report_drops(true);
}

std::size_t AccessLog::drain(std::optional<std::chrono::steady_clock::time_point> deadline)
{
    std::size_t wrote = 0;
    bool more = true;
    while (more) {
        more = false;
        // Round-robin in small batches, so one busy worker cannot starve the others' records.
        for (auto& queue : queues_) {
            for (int i = 0; i < 64; ++i) {
                std::optional<AccessRecord> record = queue->pop();
                if (!record) break;
                more = true;
                bool written = false;
                try {
                    written = sink_->write(*record);
                } catch (const std::exception& e) {
                    spdlog::warn("access log: a record could not be written: {}", e.what());
                }
                if (written) {
                    ++wrote;
                } else {
                    abandoned_.fetch_add(1, std::memory_order_relaxed); // reported with the drops
                }
            }
        }
        if (deadline && std::chrono::steady_clock::now() >= *deadline) break;
    }
    written_.fetch_add(wrote, std::memory_order_relaxed);
    return wrote;
}

void AccessLog::report_drops(bool final)
{
    const uint64_t total = dropped();
    if (total == drops_reported_) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_drop_report_ < drop_report_interval) return;
    spdlog::warn("access log: {} records dropped since the last report ({} in all): its queue was full (the "
                 "writer could not keep up), or the journal refused them",
                 total - drops_reported_, total);
    drops_reported_ = total;
    last_drop_report_ = now;
}

} // namespace ringd::service
