// The main thread's life: start, serve signals, reload, stop.
#include "supervisor/supervisor.hpp"

#include "engine/host_api.hpp"
#include "engine/ring.hpp"
#include "engine/user_data.hpp"
#include "service/logging.hpp"
#include "supervisor/admin_listener.hpp"
#include "util/unique_fd.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <sys/signalfd.h>
#include <thread>

namespace ringd::supervisor {

namespace {

using namespace std::chrono_literals;

// After shutdown_timeout, what is left of a stop (aborting the last connections, destroying plugin instances,
// joining threads) takes milliseconds; the margin covers a slow or overloaded machine.
constexpr auto stop_margin = 5s;

// How long start waits for an address in use to become free (see ListenerFactory::open_sockets): ample for the
// 6-60 ms measured, short enough that a real conflict is still reported promptly.
constexpr auto start_in_use_grace = 1s;

void log_config_errors(const config::ConfigErrors& e)
{
    for (const auto& d : e.diagnostics())
        spdlog::error("{}", d.str());
    for (const auto& w : e.warnings())
        spdlog::warn("{}", w.str());
}

// A warning never refuses a config; it is logged each time the config is loaded (start and every reload).
void log_config_warnings(const config::Config& config)
{
    for (const auto& w : config.warnings)
        spdlog::warn("{}", w.str());
}

std::string count_of(std::size_t n, const char* what)
{
    return fmt::format("{} {}{}", n, what, n == 1 ? "" : "s");
}

// ", max_connections_per_source 10, connection_rate_per_source 50/s burst 100, ...", or "" when off.
std::string describe_per_source(const config::Limits& lim)
{
    if (!lim.limits_per_source()) return {};
    std::string text;
    if (lim.max_connections_per_source)
        text += fmt::format(", max_connections_per_source {}", *lim.max_connections_per_source);
    if (const auto& rate = lim.connection_rate_per_source) {
        const char* unit = rate->per.count() == 3600 ? "h" : rate->per.count() == 60 ? "m" : "s";
        text += fmt::format(", connection_rate_per_source {}/{} burst {}", rate->count, unit, rate->burst);
    }
    return text + fmt::format(", source_prefix_v4 {}, source_prefix_v6 {}, max_tracked_sources {}",
                              lim.source_prefix_v4, lim.source_prefix_v6, lim.max_tracked_sources);
}

std::string describe_proxy(const config::ListenerConfig& l)
{
    std::string trusted;
    for (const config::Cidr& cidr : l.proxy_trusted)
        trusted += (trusted.empty() ? "" : " ") + config::format_cidr(cidr);
    std::string text = fmt::format(", proxy_protocol {}", config::describe(l.proxy_protocol));
    if (!trusted.empty()) text += " from [" + trusted + "]";
    if (l.endpoint.is_stream()) text += fmt::format(", proxy_timeout {}ms", l.proxy_timeout.count());
    return text;
}

std::string describe(const config::ListenerConfig& l, const plugin_host::PluginInstance& p)
{
    std::string line =
        fmt::format("{}: {} -> plugin {} {} (ABI {}, {})", l.name, l.endpoint.text, p.d().name,
                    p.d().version != nullptr ? p.d().version : "?", p.library().abi(), l.plugin_path.string());
    if (l.endpoint.is_stream()) { // connection limits mean nothing to a datagram listener
        const auto& lim = l.limits;
        line +=
            fmt::format(", max_connections {}, idle_timeout {}ms, max_output_buffer {}, max_outbound_connections {}",
                        lim.max_connections, lim.idle_timeout.count(), lim.max_output_buffer, lim.outbound_limit());
        line += describe_per_source(lim);
    }
    if (l.proxy_protocol != config::ProxyProtocol::off) line += describe_proxy(l);
    if (l.endpoint.is_unix() && !l.endpoint.is_abstract_unix()) line += fmt::format(", mode {:04o}", l.unix_mode);
    if (l.access_log && l.endpoint.is_stream()) line += ", access_log on";
    return line;
}

sigset_t handled_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGUSR2})
        sigaddset(&set, sig);
    return set;
}

} // namespace

Supervisor::Supervisor(Options options) : options_(std::move(options)) {}

config::LoadOptions Supervisor::load_options() const
{
    config::LoadOptions lo;
    lo.plugin_dir_override = options_.plugin_dir;
    return lo;
}

int Supervisor::run()
{
    // Signals are read from a signalfd, so no thread may take them asynchronously; SIGPIPE is never wanted
    // (sends use MSG_NOSIGNAL; this covers anything else).
    sigset_t signals = handled_signals();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    UniqueFd sigfd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sigfd) throw std::runtime_error(std::string("signalfd: ") + std::strerror(errno));

    config::Config config;
    try {
        config = config::load_config(options_.config_file, load_options());
    } catch (const config::ConfigErrors& e) {
        log_config_errors(e);
        spdlog::critical("configuration has {} error(s); not starting", e.diagnostics().size());
        return 1;
    }
    service::set_level(options_.log_level.value_or(config.log_level));
    log_config_warnings(config);
    try {
        inherited_ = service::InheritedSockets::from_environment();
        start(std::move(config));
    } catch (const config::ConfigErrors& e) {
        log_config_errors(e);
        spdlog::critical("cannot start");
        return 1;
    } catch (const std::exception& e) {
        spdlog::critical("cannot start: {}", e.what());
        return 1;
    }

    // The signalfd is watched with a multishot poll and drained with plain non-blocking reads. io_uring hands a
    // READ on a signalfd to an io-wq worker thread that blocks in it, so a READ armed afresh on every wake-up
    // (every SIGCHLD of a command run by remote-cmd) parks one kernel thread per command (docs/benchmarks.md).
    engine::Ring ring(8, 16);
    auto arm_signal_poll = [&] {
        io_uring_sqe* sqe = ring.sqe();
        io_uring_prep_poll_multishot(sqe, sigfd.get(), POLLIN);
        io_uring_sqe_set_data64(sqe, engine::make_user_data(engine::Op::wake, 0));
    };
    arm_signal_poll();
    const auto tick = notifier_.watchdog_interval()
                          ? std::min<std::chrono::nanoseconds>(*notifier_.watchdog_interval() / 2, 1s)
                          : std::chrono::nanoseconds(1s);
    bool stopping = false;
    int exit_status = 0;
    while (!stopping) {
        auto wait = tick;
        if (drain_deadline_ && !drained_) { // wake for the end of drain_grace, not up to a tick later
            const auto left = *drain_deadline_ - std::chrono::steady_clock::now();
            wait = std::clamp<std::chrono::nanoseconds>(left, std::chrono::nanoseconds(0), tick);
        }
        if (const int err = ring.submit_and_wait(wait); err != 0) {
            if (!engine::is_transient_ring_error(err)) {
                spdlog::critical("the main thread's io_uring failed ({}): stopping", std::strerror(-err));
                exit_status = 1;
                break;
            }
            std::this_thread::sleep_for(1ms); // memory pressure: retry without spinning
        }
        bool rearm = false;
        ring.drain([&](const io_uring_cqe& cqe) { rearm = rearm || !(cqe.flags & IORING_CQE_F_MORE); });
        signalfd_siginfo info{};
        while (!stopping && ::read(sigfd.get(), &info, sizeof info) == ssize_t(sizeof info)) {
            const int sig = int(info.ssi_signo);
            if (sig == SIGHUP) {
                reload();
            } else if (sig == SIGUSR2) {
                begin_drain();
            } else {
                spdlog::info("{} received: stopping (shutdown_timeout {}ms)", strsignal(sig),
                             config_.shutdown_timeout.count());
                stopping = true;
            }
        }
        if (rearm && !stopping) arm_signal_poll();
        if (drain_deadline_ && !drained_ && std::chrono::steady_clock::now() >= *drain_deadline_)
            stop_accepting_for_drain();
        if (auto why = engine_->failure(); why && !stopping) {
            // Its connections are gone and its share of every SO_REUSEPORT group would queue connections no
            // one accepts: stop with a failure status, so that systemd's Restart=on-failure brings ringd back.
            spdlog::critical("{}: stopping with exit status 1", *why);
            exit_status = 1;
            stopping = true;
        }
        feed_watchdog();
        update_status();
    }
    state_ = observability::DaemonState::stopping;
    publish_snapshot(); // /healthz says 503 while the last connections drain
    notifier_.stopping();
    // The drain may take shutdown_timeout, which the YAML may set beyond systemd's TimeoutStopSec= (60 s in
    // the shipped unit): ask for that long plus a margin for the teardown after it, so the drain is not
    // SIGKILLed halfway. A shorter request never shortens TimeoutStopSec=.
    notifier_.extend_timeout(config_.shutdown_timeout + stop_margin);
    engine_->begin_shutdown(config_.shutdown_timeout);
    engine_->join();
    active_.clear();
    publish_snapshot(); // without listeners: the board's references to their plugin instances go too
    // Every plugin instance and library goes now, so that their unload lines come before "stopped" and main
    // knows, when run() returns, whether a build was abandoned (must_skip_exit_handlers()).
    engine_.reset();
    spdlog::info("stopped");
    return exit_status;
}

void Supervisor::start(config::Config config)
{
    engine::EngineOptions engine_options;
    engine_options.workers = config.workers;
    engine_options.shutdown_timeout = config.shutdown_timeout;
    if (options_.access_log_capacity) engine_options.access_log_capacity = *options_.access_log_capacity;
    engine_ = std::make_unique<engine::Engine>(engine_options);
    stats_ = std::make_unique<engine::ListenerStatsRegistry>(config.workers);
    admin_context_->read_workers = [engine = engine_.get()] { return engine->read_workers(); };
    admin_context_->read_access_log = [engine = engine_.get()] {
        return std::pair{engine->access_log().written(), engine->access_log().dropped()};
    };
    factory_ = std::make_unique<ListenerFactory>(config.workers, engine::host_table());
    ServingSet serving = serving_set(config, true);
    std::vector<config::Diagnostic> errors;
    std::vector<std::shared_ptr<engine::ListenerSockets>> sockets;
    // A restart right after a crash or kill -9 can find its own predecessor's sockets still open for some ms.
    // Only at start: on reload an address in use is someone else's, and the error should come at once.
    const auto retry_in_use_until = std::chrono::steady_clock::now() + start_in_use_grace;
    for (const auto& l : serving.configs) {
        try {
            sockets.push_back(factory_->open_sockets(l, inherited_, retry_in_use_until));
        } catch (const config::ConfigErrors& e) {
            errors.insert(errors.end(), e.diagnostics().begin(), e.diagnostics().end());
        }
    }
    for (const auto& name : inherited_.unclaimed()) {
        errors.push_back({{options_.config_file.string(), 1, 1},
                          "",
                          "systemd passed a socket named '" + name + "' but no listener has that name"});
    }
    if (!errors.empty()) throw config::ConfigErrors(std::move(errors));
    for (std::size_t i = 0; i < serving.configs.size(); ++i) {
        active_.push_back(make_listener(serving.configs[i], sockets[i], serving.instances[i]));
        spdlog::info("listening: {}", describe(serving.configs[i], *serving.instances[i]));
    }
    engine_->start();
    for (const auto& l : active_)
        engine_->add_listener(l);
    config_ = std::move(config);
    last_config_success_ = std::chrono::system_clock::now();
    publish_snapshot();
    // Every socket is bound and listening: connections queue in the kernel until the workers accept them.
    notifier_.ready(fmt::format("{} listeners", active_.size()));
    spdlog::info("ready: {} listeners, {} workers", active_.size(), engine_->worker_count());
}

Supervisor::ServingSet Supervisor::serving_set(const config::Config& config, bool listeners_too)
{
    ServingSet set;
    if (listeners_too) {
        set.configs = config.listeners;
        set.instances = factory_->create_instances(config);
    }
    if (config.admin) {
        set.configs.push_back(admin_listener_config(*config.admin));
        set.instances.push_back(
            create_admin_instance(*config.admin, config.workers, engine::host_table(), admin_context_));
    }
    return set;
}

std::shared_ptr<engine::Listener> Supervisor::make_listener(const config::ListenerConfig& config,
                                                            std::shared_ptr<engine::ListenerSockets> sockets,
                                                            std::shared_ptr<plugin_host::PluginInstance> plugin)
{
    return std::make_shared<engine::Listener>(config, std::move(sockets), std::move(plugin),
                                              stats_->for_listener(config.name), source_tables_.for_listener(config));
}

void Supervisor::reload()
{
    notifier_.reloading();
    spdlog::info("SIGHUP received: reloading {}", options_.config_file.string());
    try {
        config::Config next = config::load_config(options_.config_file, load_options());
        log_config_warnings(next);
        apply(std::move(next));
        record_reload(true, {});
    } catch (const config::ConfigErrors& e) {
        log_config_errors(e);
        spdlog::error("reload failed: {} error(s); still serving the previous configuration", e.diagnostics().size());
        std::vector<std::string> errors;
        for (const auto& d : e.diagnostics())
            errors.push_back(d.str());
        record_reload(false, std::move(errors));
    } catch (const std::exception& e) {
        spdlog::error("reload failed: {}; still serving the previous configuration", e.what());
        record_reload(false, {e.what()});
    }
    publish_snapshot();
    notifier_.ready(fmt::format("{} listeners", active_.size()));
}

// The running listener that `fresh` succeeds for on_handover: the one with the same name whose plugin has the
// same name (another build or version of it may have been loaded), whatever its address.
std::shared_ptr<engine::Listener> Supervisor::predecessor_of(const engine::Listener& fresh) const
{
    for (const auto& a : active_) {
        if (a->name() == fresh.name() && std::strcmp(a->plugin()->d().name, fresh.plugin()->d().name) == 0) return a;
    }
    return nullptr;
}

// Makes the running set match `next`. Everything that can fail (plugins, binds) happens before anything is
// changed, so a failed reload leaves the old configuration serving untouched.
void Supervisor::apply(config::Config next)
{
    if (next.workers != config_.workers) {
        spdlog::warn("workers changed from {} to {}: takes effect only after a restart", config_.workers, next.workers);
        next.workers = config_.workers;
    }
    // Drained (SIGUSR2, then drain_grace): the listeners stay stopped, whatever the file says now; `admin:` and
    // the daemon's own settings still apply.
    if (drained_) next.listeners = config_.listeners;
    const ServingSet serving = serving_set(next, !drained_);
    std::vector<std::shared_ptr<engine::Listener>> frozen;     // drained listeners: left as they are
    std::vector<std::shared_ptr<engine::Listener>> candidates; // what `serving` replaces or retires
    for (const auto& a : active_)
        (drained_ && a->name() != config::admin_listener_name ? frozen : candidates).push_back(a);
    std::vector<std::shared_ptr<engine::Listener>> kept_or_new;
    std::vector<std::shared_ptr<engine::Listener>> to_add;
    std::vector<std::pair<std::shared_ptr<engine::Listener>, std::shared_ptr<engine::Listener>>> to_replace;
    std::size_t unchanged = 0;
    std::vector<config::Diagnostic> errors;
    for (std::size_t i = 0; i < serving.configs.size(); ++i) {
        const auto& l = serving.configs[i];
        std::shared_ptr<engine::Listener> old;
        for (const auto& a : candidates) {
            if (a->config().endpoint.same_address(l.endpoint)) old = a;
        }
        // Even an unchanged listener gets the instance just created, on the same sockets: what a plugin reads at
        // creation from outside the YAML (remote-cmd's token_file, user and group names) is what a reload is
        // for. Its open connections finish with the old instance, as with a changed listener.
        if (old && same_service(old->config(), l)) ++unchanged;
        try {
            auto sockets = old ? old->sockets() : factory_->open_sockets(l, inherited_);
            auto fresh = make_listener(l, std::move(sockets), serving.instances[i]);
            fresh->set_handover_from(predecessor_of(*fresh)); // before any worker sees it
            kept_or_new.push_back(fresh);
            if (old) {
                to_replace.emplace_back(old, fresh);
            } else {
                to_add.push_back(fresh);
            }
        } catch (const config::ConfigErrors& e) {
            errors.insert(errors.end(), e.diagnostics().begin(), e.diagnostics().end());
        }
    }
    if (!errors.empty()) throw config::ConfigErrors(std::move(errors));

    // Commit: nothing below can fail.
    // State handover, first on this thread, before any new instance serves (the workers follow, each right after
    // on_worker_start there). After every check, so an instance that took over is never thrown away unserved.
    for (const auto& fresh : kept_or_new) {
        if (const auto previous = fresh->handover_from().lock()) {
            fresh->plugin()->take_over_from(*previous->plugin(), RINGD_NO_WORKER);
        }
    }
    for (const auto& l : to_add) {
        engine_->add_listener(l);
        spdlog::info("reload: serving {} ({})", l->name(), l->config().endpoint.text);
    }
    for (const auto& [old, fresh] : to_replace) {
        if (fresh->config().unix_mode != old->config().unix_mode) {
            // Same socket file, new `mode:`. After the checks above, so a failure here cannot undo the
            // reload; the old bits then stay, and say so.
            try {
                fresh->sockets()->apply_unix_mode(fresh->config().unix_mode);
            } catch (const std::runtime_error& e) {
                spdlog::error("reload: {}: {}", fresh->name(), e.what());
            }
        }
        engine_->replace_listener(old, fresh);
        log_build_change(*old, *fresh);
        if (same_service(old->config(), fresh->config())) {
            spdlog::debug("reload: {} ({}) unchanged; a fresh plugin instance serves new connections", fresh->name(),
                          fresh->config().endpoint.text);
        } else {
            spdlog::info("reload: {} ({}) takes new settings for new connections", fresh->name(),
                         fresh->config().endpoint.text);
        }
    }
    if (next.shutdown_timeout != config_.shutdown_timeout) engine_->set_shutdown_timeout(next.shutdown_timeout);
    for (const auto& a : candidates) {
        bool still_there = false;
        for (const auto& k : kept_or_new)
            still_there = still_there || k->sockets() == a->sockets();
        if (!still_there) {
            a->sockets()->stop_listening();
            engine_->retire_listener(a, next.shutdown_timeout);
            spdlog::info("reload: removed {} ({}); open connections drain for up to {}ms", a->name(),
                         a->config().endpoint.text, next.shutdown_timeout.count());
        }
    }
    active_ = std::move(frozen);
    active_.insert(active_.end(), kept_or_new.begin(), kept_or_new.end());
    if (!engine_->sync(std::chrono::seconds(5))) spdlog::warn("reload: a worker did not confirm within 5 s");
    service::set_level(options_.log_level.value_or(next.log_level));
    config_ = std::move(next);
    spdlog::info("reload complete: {} listeners ({} unchanged)", active_.size(), unchanged);
}

void Supervisor::record_reload(bool ok, std::vector<std::string> errors)
{
    const auto now = std::chrono::system_clock::now();
    last_reload_ = observability::ReloadOutcome{now, ok, std::move(errors)};
    if (ok) {
        ++reloads_ok_;
        last_config_success_ = now;
    } else {
        ++reloads_failed_;
    }
}

// SIGUSR2: /healthz answers 503 from now on, so a load balancer stops sending; the listeners go on accepting for
// drain_grace (what the balancer needs to notice), then stop; open connections go on until ringd is stopped.
void Supervisor::begin_drain()
{
    if (state_ != observability::DaemonState::serving) {
        spdlog::info("SIGUSR2 received: already draining");
        return;
    }
    state_ = observability::DaemonState::draining;
    drain_deadline_ = std::chrono::steady_clock::now() + config_.drain_grace;
    spdlog::info("SIGUSR2 received: draining; /healthz answers 503, listeners stop accepting in {}ms",
                 config_.drain_grace.count());
    publish_snapshot();
}

void Supervisor::stop_accepting_for_drain()
{
    std::size_t stopped = 0;
    for (const auto& a : active_) {
        if (a->name() == config::admin_listener_name) continue; // still answers, so the drain can be watched
        a->sockets()->stop_listening();
        engine_->retire_listener(a, std::nullopt);
        ++stopped;
    }
    drained_ = true;
    spdlog::info("drain: {} stopped accepting; open connections go on until ringd is stopped",
                 count_of(stopped, "listener"));
}

void Supervisor::publish_snapshot()
{
    auto snapshot = std::make_shared<observability::DaemonSnapshot>();
    snapshot->state = state_;
    snapshot->workers = engine_ ? engine_->worker_count() : config_.workers;
    snapshot->config_file = std::filesystem::absolute(options_.config_file).lexically_normal().string();
    for (const auto& file : config_.files)
        snapshot->config_files.push_back(std::filesystem::absolute(file).lexically_normal().string());
    snapshot->last_reload = last_reload_;
    snapshot->reloads_ok = reloads_ok_;
    snapshot->reloads_failed = reloads_failed_;
    snapshot->last_config_success = last_config_success_;
    for (const auto& a : active_)
        snapshot->listeners.push_back(view_of(*a));
    admin_context_->board.publish(std::move(snapshot));
}

void Supervisor::feed_watchdog()
{
    if (!notifier_.watchdog_interval()) return;
    // Only a loop that still turns keeps the service alive: a wedged worker stops the pings and systemd
    // restarts us. Workers wake at least once a second, so 3 s of silence means stuck.
    if (engine::Clock::now() - engine_->oldest_heartbeat() < 3s) notifier_.watchdog_ping();
}

// Sent only when the text changes: sd_notify writes to a blocking datagram socket, and a reader that falls
// behind (a stuck manager, or a test harness that only waits for READY=1) would otherwise fill its queue with
// identical STATUS= lines and block the main thread.
void Supervisor::update_status()
{
    std::string status = fmt::format("{} listeners, {} connections", active_.size(), engine_->live_connections());
    if (state_ == observability::DaemonState::draining) status += drained_ ? ", drained" : ", draining";
    if (status == last_status_) return;
    notifier_.status(status);
    last_status_ = std::move(status);
}

int check_config(const Options& options, bool strict)
{
    const std::string file = options.config_file.string();
    config::Config config;
    try {
        config::LoadOptions lo;
        lo.plugin_dir_override = options.plugin_dir;
        config = config::load_config(options.config_file, lo);
        // Before the plugins see their config, so that they are printed even when a plugin refuses it.
        for (const auto& w : config.warnings)
            std::cerr << w.str() << '\n';
        ListenerFactory factory(config.workers, engine::host_table(), plugin_host::BuildLog::quiet);
        auto instances = factory.create_instances(config);
        for (std::size_t i = 0; i < config.listeners.size(); ++i) {
            std::cout << describe(config.listeners[i], *instances[i]) << '\n';
        }
        if (config.admin) std::cout << "admin: " << config.admin->endpoint.text << " -> built-in admin handler\n";
    } catch (const config::ConfigErrors& e) {
        for (const auto& d : e.diagnostics())
            std::cerr << d.str() << '\n';
        for (const auto& w : e.warnings())
            std::cerr << w.str() << '\n';
        std::cerr << file << ": configuration has " << e.diagnostics().size() << " error(s)";
        if (!e.warnings().empty()) std::cerr << " and " << count_of(e.warnings().size(), "warning");
        std::cerr << '\n';
        return 1;
    }
    const std::string summary = fmt::format("{} listeners, {} workers", config.listeners.size(), config.workers);
    if (config.warnings.empty()) {
        std::cout << file << ": configuration OK (" << summary << ")\n";
        return 0;
    }
    const std::string warnings = count_of(config.warnings.size(), "warning");
    if (strict) {
        std::cerr << file << ": configuration has " << warnings << ", refused by --strict (" << summary << ")\n";
        return 1;
    }
    std::cout << file << ": configuration OK with " << warnings << " (" << summary << ")\n";
    return 0;
}

} // namespace ringd::supervisor
