// SnapshotBoard: one shared pointer, swapped by the main thread, copied by the workers.
#include "observability/snapshot.hpp"

#include <ringd/plugin.h>

#ifndef RINGD_VERSION
#define RINGD_VERSION "unknown"
#endif

namespace ringd::observability {

const char* to_string(DaemonState state)
{
    switch (state) {
    case DaemonState::serving:
        return "serving";
    case DaemonState::draining:
        return "draining";
    case DaemonState::stopping:
        return "stopping";
    }
    return "?";
}

void SnapshotBoard::publish(std::shared_ptr<const DaemonSnapshot> snapshot)
{
    std::lock_guard lock(mutex_);
    // The old snapshot goes with the parameter, after the lock is released (readers may still hold it).
    current_.swap(snapshot);
}

std::shared_ptr<const DaemonSnapshot> SnapshotBoard::current() const
{
    std::lock_guard lock(mutex_);
    return current_;
}

const char* ringd_version()
{
    return RINGD_VERSION;
}

std::string ringd_abi()
{
    return std::to_string(RINGD_PLUGIN_ABI_VERSION) + "." + std::to_string(RINGD_PLUGIN_ABI_MINOR);
}

} // namespace ringd::observability
