// StallDetector: the watching thread; see stall_detector.hpp.
#include "engine/stall_detector.hpp"

#include "engine/worker.hpp"
#include "service/logging.hpp"

#include <fmt/format.h>
#include <pthread.h>

namespace ringd::engine {

namespace {

double seconds(Clock::duration d)
{
    return std::chrono::duration<double>(d).count();
}

} // namespace

StallDetector::StallDetector(std::vector<Worker*> workers, std::chrono::milliseconds threshold,
                             std::chrono::milliseconds tick)
    : workers_(std::move(workers)), watches_(workers_.size()), threshold_(threshold), tick_(tick)
{
    thread_ = std::thread([this] {
        pthread_setname_np(pthread_self(), "ringd-stalls");
        run();
    });
}

StallDetector::~StallDetector()
{
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

void StallDetector::run()
{
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, tick_, [this] { return stopping_; })) {
        const auto now = Clock::now();
        for (std::size_t i = 0; i < workers_.size(); ++i)
            look(i, now);
    }
}

void StallDetector::look(std::size_t index, Clock::time_point now)
{
    Worker& worker = *workers_[index];
    Watch& w = watches_[index];
    const auto running = worker.call_record().running();
    if (running && running->seq == w.seq) {
        if (w.reported || now - w.first_seen < threshold_) return;
        // Copy what names the call while it provably still runs (its target lives at least that long), and
        // drop the copy if it ended meanwhile: then there is no stall to report.
        const plugin_host::PluginCallTarget& t = *running->target;
        std::string listener = t.listener;
        std::string what =
            fmt::format("plugin {} ({}) {}", t.plugin_name, t.plugin_path, plugin_host::to_string(running->callback));
        if (!worker.call_record().still_running(running->seq)) return;
        w.reported = true;
        w.listener = std::move(listener);
        w.what = std::move(what);
        worker.count_plugin_stall();
        service::log_for_listener(w.listener, spdlog::level::warn,
                                  fmt::format("{} has been running for {:.1f} s on worker {}, stalling every "
                                              "connection of that worker",
                                              w.what, seconds(now - w.first_seen), worker.index()));
        return;
    }
    if (w.reported) {
        service::log_for_listener(w.listener, spdlog::level::warn,
                                  fmt::format("{} returned after {:.1f} s; worker {} runs again", w.what,
                                              seconds(now - w.first_seen), worker.index()));
    }
    w = Watch{};
    if (running) {
        w.seq = running->seq;
        w.first_seen = now;
    }
}

} // namespace ringd::engine
