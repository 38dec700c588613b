// StallDetector: notices, from outside the workers, a plugin callback that blocks its worker.
//
// A callback that sleeps or blocks (a sleep(3) in on_data, a blocking connect) stalls every connection of
// its worker, and the worker itself can say nothing while it is stuck. The plugin boundary records in each
// worker's PluginCallRecord which call is running (plugin_host/plugin_call.hpp); this thread looks at every
// record every `tick` and, when the same call is still running after `threshold`, logs once: worker,
// listener, plugin, callback and how long so far. When that call returns it logs how long it took in all, and
// counts the stall in the worker's plugin_stalls.
//
// Its own thread rather than the supervisor's loop: the main thread blocks in a reload (plugin create(),
// waiting for the workers to confirm) and in sd_notify, exactly when a stall must still be seen.
//
// Durations are measured by this thread's observations, so they are accurate to one tick: the workers take
// no clock reading for it.
#pragma once

#include "engine/timer_queue.hpp" // Clock

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ringd::engine {

class Worker;

class StallDetector {
public:
    static constexpr std::chrono::milliseconds default_threshold{1000};
    static constexpr std::chrono::milliseconds default_tick{100};

    // Starts the thread; `workers` must outlive this object.
    StallDetector(std::vector<Worker*> workers, std::chrono::milliseconds threshold = default_threshold,
                  std::chrono::milliseconds tick = default_tick);
    ~StallDetector(); // stops and joins the thread
    StallDetector(const StallDetector&) = delete;
    StallDetector& operator=(const StallDetector&) = delete;

private:
    struct Watch {
        uint64_t seq = 0;             // the call last seen running (0: none)
        Clock::time_point first_seen; // when this thread first saw it
        bool reported = false;        // its stall is logged, its return is still to be
        std::string listener;         // copied when reported: the target may be gone once the call returns
        std::string what;             // "plugin NAME (PATH) CALLBACK"
    };

    void run();
    void look(std::size_t index, Clock::time_point now);

    std::vector<Worker*> workers_;
    std::vector<Watch> watches_;
    std::chrono::milliseconds threshold_;
    std::chrono::milliseconds tick_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

} // namespace ringd::engine
