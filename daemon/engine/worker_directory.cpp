// WorkerDirectory: one registered set of workers per process.
#include "engine/worker_directory.hpp"

#include <atomic>
#include <stdexcept>

namespace ringd::engine {

namespace {

// The one piece of process-wide state the engine keeps, because send_to/close_id carry no handle; see the
// header. Written only by WorkerDirectory's constructor and destructor.
std::atomic<const WorkerDirectory*> registered{nullptr};

} // namespace

WorkerDirectory::WorkerDirectory(std::span<Worker* const> workers) : workers_(workers.begin(), workers.end())
{
    const WorkerDirectory* expected = nullptr;
    if (!registered.compare_exchange_strong(expected, this, std::memory_order_acq_rel)) {
        throw std::logic_error("a WorkerDirectory is already registered: one engine per process");
    }
}

WorkerDirectory::~WorkerDirectory()
{
    registered.store(nullptr, std::memory_order_release);
}

Worker* WorkerDirectory::find(uint32_t index) noexcept
{
    const WorkerDirectory* d = registered.load(std::memory_order_acquire);
    return d != nullptr && index < d->workers_.size() ? d->workers_[index] : nullptr;
}

uint32_t WorkerDirectory::size() noexcept
{
    const WorkerDirectory* d = registered.load(std::memory_order_acquire);
    return d != nullptr ? uint32_t(d->workers_.size()) : 0;
}

} // namespace ringd::engine
