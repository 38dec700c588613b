// Plugin instances as present on one worker (ABI 1.1): on_worker_start / on_worker_stop, the per-worker half of
// on_handover, worker timers, and for_each_connection.
//
// An instance is present on a worker from its on_worker_start there to its on_worker_stop there (one
// InstancePresence, connection.hpp). It enters when a listener slot of this worker takes its listener (added,
// or replacing the previous generation on the same socket), before the slot accepts anything for it; it
// leaves once no slot serves it and its last connection here has been released, so every other callback of
// the instance on this worker runs between the two. A worker task (post_worker) runs with status 0 only while
// the instance is present; a worker timer belongs to a presence and is dropped when it leaves.
#include "engine/worker.hpp"
#include "engine/worker_invoke.hpp"
#include "plugin_host/plugin.hpp"

#include <algorithm>
#include <cerrno>

namespace ringd::engine {

InstancePresence* Worker::presence_of(const plugin_host::PluginInstance* instance)
{
    for (auto& presence : presences_) {
        if (presence->listener->plugin().get() == instance) return presence.get();
    }
    return nullptr;
}

// A listener slot here now takes connections for `listener`: its instance starts on this worker, and takes over
// from its predecessor's instance here if that is present (see ringd_plugin_descriptor.on_handover).
void Worker::enter(const std::shared_ptr<Listener>& listener)
{
    const plugin_host::PluginInstance& plugin = *listener->plugin();
    if (InstancePresence* present = presence_of(&plugin)) {
        present->in_slot = true;
        return;
    }
    presences_.push_back(std::make_unique<InstancePresence>());
    InstancePresence& presence = *presences_.back();
    presence.listener = listener;
    presence.in_slot = true;
    if (const auto start = plugin.d().on_worker_start) {
        (void)plugin_host::plugin_call_failed(plugin.call_target(), PluginCallback::on_worker_start,
                                              [&] { start(plugin.instance(), options_.index); });
    }
    if (const std::shared_ptr<Listener> previous = listener->handover_from().lock()) {
        if (presence_of(previous->plugin().get()) != nullptr)
            plugin.take_over_from(*previous->plugin(), options_.index);
    }
}

// No listener slot here serves `listener` any more (retired, or replaced by its successor).
void Worker::leave_slot(const Listener& listener)
{
    if (InstancePresence* presence = presence_of(listener.plugin().get())) {
        presence->in_slot = false;
        leave_if_done(*presence);
    }
}

// One of the instance's connections here has been released.
void Worker::release_presence(InstancePresence& presence)
{
    --presence.connections;
    leave_if_done(presence);
}

void Worker::leave_if_done(InstancePresence& presence)
{
    if (presence.in_slot || presence.connections != 0 || presence.stopping) return;
    presence.stopping = true;
    const plugin_host::PluginInstance& plugin = *presence.listener->plugin();
    if (const auto stop = plugin.d().on_worker_stop) {
        (void)plugin_host::plugin_call_failed(plugin.call_target(), PluginCallback::on_worker_stop,
                                              [&] { stop(plugin.instance(), options_.index); });
    }
    for (int64_t id : presence.timers)
        timers_.cancel(id);
    const auto it = std::find_if(presences_.begin(), presences_.end(), [&](auto& p) { return p.get() == &presence; });
    // Dropped last: this may be the last reference to the listener, whose instance is then destroyed here.
    std::unique_ptr<InstancePresence> gone = std::move(*it);
    presences_.erase(it);
}

// ---- worker timers -------------------------------------------------------------------------------------------

int64_t Worker::worker_timer_start(const plugin_host::PluginInstance& instance, uint64_t delay_ms, void* arg)
{
    InstancePresence* presence = presence_of(&instance);
    if (presence == nullptr || presence->stopping) return -ESRCH;
    TimerTarget target;
    target.arg = arg;
    target.instance = &instance;
    const int64_t id = timers_.start(deadline_after(now_, delay_ms), target);
    presence->timers.push_back(id);
    return id;
}

int Worker::worker_timer_cancel(const plugin_host::PluginInstance& instance, int64_t id)
{
    InstancePresence* presence = presence_of(&instance);
    if (presence == nullptr || std::erase(presence->timers, id) == 0) return -ENOENT;
    timers_.cancel(id);
    return 0;
}

void Worker::run_worker_timer(int64_t id, const TimerTarget& target)
{
    InstancePresence* presence = presence_of(target.instance);
    if (presence == nullptr || presence->stopping) return;
    std::erase(presence->timers, id);
    const plugin_host::PluginInstance& plugin = *presence->listener->plugin();
    const auto fire = plugin.d().on_worker_timer;
    if (fire == nullptr) return;
    (void)plugin_host::plugin_call_failed(plugin.call_target(), PluginCallback::on_worker_timer,
                                          [&] { fire(plugin.instance(), id, target.arg); });
}

// ---- for_each_connection ---------------------------------------------------------------------------------------

int Worker::for_each_connection(const plugin_host::PluginInstance& instance, int (*fn)(void*, ringd_conn*), void* ctx)
{
    const InstancePresence* presence = presence_of(&instance);
    if (presence == nullptr || presence->connections == 0) return 0;
    // Listed first: fn may close connections, which moves them between lists, or open new ones.
    std::vector<std::pair<uint32_t, uint32_t>> open;
    for (const auto& conn : connections_) {
        if (conn && conn->phase == Phase::open && conn->presence == presence)
            open.emplace_back(conn->index, conn->reuse_tag);
    }
    int called = 0;
    for (const auto& [index, tag] : open) {
        Connection* conn = live_connection(index, tag);
        if (conn == nullptr || conn->phase != Phase::open) continue; // fn closed it meanwhile
        ++called;
        int rc = 0;
        if (plugin_host::plugin_call_failed(instance.call_target(), PluginCallback::for_each_connection,
                                            [&] { rc = fn(ctx, reinterpret_cast<ringd_conn*>(conn)); })) {
            mark_aborting(*conn, RINGD_CLOSE_ERROR);
            touched(*conn);
            break;
        }
        if (rc != 0) break;
    }
    return called;
}

} // namespace ringd::engine
