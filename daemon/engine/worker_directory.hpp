// WorkerDirectory: the running workers, by index, for host calls that carry nothing but a connection id.
//
// ringd_host.send_to(id, ...) and close_id(id, ...) take no handle besides the id, and may be called from any
// thread, including a plugin's own. The id names its worker (conn_id.hpp); this directory turns that index into
// the Worker. The ABI leaves no other way in, so the directory is the process's one registered instance: the
// Engine creates it for its workers (engine tests create one for theirs), and it is read-only while
// registered. One at a time: registering a second throws.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace ringd::engine {

class Worker;

class WorkerDirectory {
public:
    // Registers `workers` (index i is the worker with index() == i) as the process's workers.
    explicit WorkerDirectory(std::span<Worker* const> workers);
    ~WorkerDirectory(); // unregisters
    WorkerDirectory(const WorkerDirectory&) = delete;
    WorkerDirectory& operator=(const WorkerDirectory&) = delete;

    // The registered worker with this index, or nullptr (none registered, or out of range). Any thread.
    [[nodiscard]] static Worker* find(uint32_t index) noexcept;
    // How many workers are registered (0 when none is). Any thread.
    [[nodiscard]] static uint32_t size() noexcept;

private:
    std::vector<Worker*> workers_;
};

} // namespace ringd::engine
