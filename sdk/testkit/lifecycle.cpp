// Instances over their whole life, as ringd's main thread and workers see them: create() on the main thread,
// on_worker_start on every worker, a reload's handover, on_worker_stop once an instance has nothing left on a
// worker, and destroy() exactly once, after its last connection and its last task.
#include "invoke.hpp"

#include <cstring>

namespace ringd::testkit::detail {

namespace {

uint32_t next_serial()
{
    static std::atomic<uint32_t> serial{1};
    return serial.fetch_add(1, std::memory_order_relaxed);
}

} // namespace

KitState::KitState(Options options) : options_(std::move(options)), serial_(next_serial())
{
    if (options_.workers == 0 || options_.workers > 1024) {
        throw std::invalid_argument("Options::workers must be between 1 and 1024");
    }
    if (options_.kind != Kind::stream && options_.kind != Kind::datagram) {
        throw std::invalid_argument("Options::kind must be Kind::stream or Kind::datagram");
    }
    if (options_.host_struct_size < offsetof(ringd_host, worker_index) || options_.host_struct_size > sizeof host_) {
        throw std::invalid_argument("Options::host_struct_size must be within sizeof(ringd_host)");
    }
    (void)parse_address(options_.local_address); // reports a bad one now, not at the first open()
    host_ = *host_table_template();
    // An older host's table ends earlier: what lies beyond its struct_size is not there (RINGD_HOST_HAS says no).
    host_.struct_size = options_.host_struct_size;
    std::memset(reinterpret_cast<char*>(&host_) + options_.host_struct_size, 0,
                sizeof host_ - options_.host_struct_size);
    queues_.resize(options_.workers);
    register_kit(serial_, this);
}

KitState::~KitState()
{
    if (!stopped_) {
        try {
            in_step_ = false;
            stop();
        } catch (...) {
            // A destructor cannot report it; Kit::stop() called by the test does.
        }
    }
    unregister_kit(serial_);
}

void KitState::start(Plugin plugin, const std::string& config_yaml)
{
    start_instance(create_instance(std::move(plugin), config_yaml), nullptr);
}

Instance& KitState::create_instance(Plugin plugin, const std::string& config_yaml)
{
    const ringd_plugin_descriptor& d = plugin.library_->descriptor;
    const auto kind = static_cast<uint32_t>(options_.kind);
    if ((d.socket_kinds & kind) == 0) {
        throw LoadError("plugin " + std::string(d.name) + " does not serve " +
                        (kind == RINGD_KIND_STREAM ? "stream (tcp/unix)" : "datagram (udp)") + " listeners");
    }
    auto inst = std::make_unique<Instance>();
    inst->kit = this;
    inst->library = plugin.library_;
    inst->serving.assign(options_.workers, false);
    inst->conns.assign(options_.workers, 0);

    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = kind;
    args.listener_name = options_.listener_name.c_str();
    args.config_yaml = config_yaml.c_str();
    args.config_len = config_yaml.size();
    args.worker_count = options_.workers;
    args.host = &host_;
    args.listener = inst->handle();
    ringd_error error{};
    void* instance = nullptr;
    int rc = -1;
    {
        ContextScope scope({this, RINGD_NO_WORKER, inst.get()});
        try {
            rc = d.create(&args, &instance, &error);
        } catch (...) {
            plugin_failed(*inst, "create", std::current_exception(), "the listener's configuration is refused");
            throw ConfigError("", "plugin " + std::string(d.name) + " threw from create()");
        }
    }
    if (rc != 0) {
        error.message[sizeof error.message - 1] = '\0';
        error.key[sizeof error.key - 1] = '\0';
        throw ConfigError(error.key, error.message[0] != '\0' ? error.message : "the plugin rejected its config");
    }
    inst->instance = instance;
    inst->created = true;
    instances_.push_back(std::move(inst));
    return *instances_.back();
}

// Starts `inst` on every worker. After a reload, `previous` is the instance it replaces: the handover runs on
// the main thread first, then on each worker right after on_worker_start there, and `previous` stops at once
// on a worker where it has no connection left.
void KitState::start_instance(Instance& inst, Instance* previous)
{
    const ringd_plugin_descriptor& d = inst.d();
    const bool handover =
        previous != nullptr && d.on_handover != nullptr && std::strcmp(previous->d().name, d.name) == 0;
    const char* previous_version = previous != nullptr && previous->d().version != nullptr ? previous->d().version : "";
    ringd_handover_info info{sizeof info, RINGD_NO_WORKER, previous_version};
    if (handover) {
        invoke_on(inst, RINGD_NO_WORKER, "on_handover", "logged",
                  [&] { d.on_handover(inst.instance, previous->instance, &info); });
    }
    for (uint32_t w = 0; w < options_.workers; ++w) {
        inst.serving[w] = true;
        if (d.on_worker_start != nullptr) {
            invoke_on(inst, w, "on_worker_start", "logged", [&] { d.on_worker_start(inst.instance, w); });
        }
        if (handover) {
            info.worker = w;
            invoke_on(inst, w, "on_handover", "logged",
                      [&] { d.on_handover(inst.instance, previous->instance, &info); });
        }
        if (previous != nullptr && previous->conns[w] == 0) stop_on_worker(*previous, w);
    }
}

void KitState::reload(Plugin plugin, std::string config_yaml)
{
    Instance& previous = current();
    Instance& inst = create_instance(std::move(plugin), config_yaml); // throws: `previous` serves on
    previous.retired = true;
    start_instance(inst, &previous);
    maybe_destroy(previous);
}

void KitState::stop_on_worker(Instance& inst, uint32_t worker)
{
    if (!inst.serving[worker]) return;
    inst.serving[worker] = false; // timers and tasks from here on find it stopped there
    for (auto it = timers_.begin(); it != timers_.end();) {
        const Timer& t = it->second;
        if (t.kind == TimerKind::worker && t.inst == &inst && t.worker == worker) {
            timer_due_.erase(t.id);
            it = timers_.erase(it);
        } else {
            ++it;
        }
    }
    if (inst.d().on_worker_stop != nullptr) {
        invoke_on(inst, worker, "on_worker_stop", "logged", [&] { inst.d().on_worker_stop(inst.instance, worker); });
    }
}

void KitState::maybe_destroy(Instance& inst)
{
    if (!inst.retired || inst.destroyed) return;
    for (uint32_t w = 0; w < options_.workers; ++w) {
        if (inst.serving[w] || inst.conns[w] > 0) return;
    }
    if (inst.pending_tasks > 0) return;
    destroy(inst);
}

void KitState::destroy(Instance& inst)
{
    if (inst.destroyed.exchange(true)) return;
    if (!inst.created) return;
    // destroy() is owed for every create() that returned 0, also when it left the instance NULL.
    invoke_on(inst, RINGD_NO_WORKER, "destroy", "the instance is gone anyway",
              [&] { inst.d().destroy(inst.instance); });
}

void KitState::close_all()
{
    for (const auto& c : conns_) {
        if (c->torn_down()) continue;
        teardown(*c, c->closing() ? c->close_reason : RINGD_CLOSE_SHUTDOWN, true);
    }
}

// As ringd stops: connections closed, every task still queued delivered (tasks for gone connections run with
// a NULL connection, worker tasks after on_worker_stop with -ESRCH), then destroy().
void KitState::stop()
{
    if (stopped_) return;
    stopping_ = true;
    close_all();
    try {
        run_messages();
        for (auto& inst : instances_) {
            inst->retired = true;
            for (uint32_t w = 0; w < options_.workers; ++w)
                stop_on_worker(*inst, w);
        }
        run_messages();
    } catch (...) {
        failed(std::current_exception());
    }
    stopped_ = true;
    for (auto& inst : instances_)
        destroy(*inst);
}

} // namespace ringd::testkit::detail
