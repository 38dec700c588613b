// Plugin loading (dlopen, ABI check) and instance creation.
#include "plugin_host/plugin.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dlfcn.h>

namespace ringd::plugin_host {

std::string check_descriptor(const ringd_plugin_descriptor* d)
{
    if (d == nullptr) return "its entry function returned no descriptor";
    if (d->abi_version != RINGD_PLUGIN_ABI_VERSION) {
        return "it was built for plugin ABI " + std::to_string(d->abi_version) + ", this ringd speaks ABI " +
               std::to_string(RINGD_PLUGIN_ABI_VERSION) + " (rebuild the plugin against this ringd's SDK)";
    }
    // Every field up to and including on_timer is part of ABI 1; a shorter struct is corrupt.
    if (d->struct_size < offsetof(ringd_plugin_descriptor, on_timer) + sizeof(d->on_timer)) {
        return "its descriptor is too small (struct_size " + std::to_string(d->struct_size) + ")";
    }
    if (d->name == nullptr || d->create == nullptr || d->destroy == nullptr) {
        return "its descriptor lacks a name, create or destroy";
    }
    if ((d->socket_kinds & (RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM)) == 0) {
        return "its descriptor serves no socket kind";
    }
    return {};
}

PluginLibrary::PluginLibrary(std::filesystem::path path, void* handle, const ringd_plugin_descriptor* d)
    : path_(std::move(path)), handle_(handle)
{
    // A plugin built against an older minor ABI has a shorter descriptor: copy what it has, leave the rest
    // zero (absent callbacks are NULL, abi_minor 0). check_descriptor() made sure the 1.0 part is there.
    std::memcpy(&descriptor_, d, std::min<std::size_t>(d->struct_size, sizeof descriptor_));
    descriptor_.struct_size = sizeof descriptor_;
}

PluginLibrary::~PluginLibrary()
{
    if (handle_ != nullptr) dlclose(handle_);
}

std::shared_ptr<PluginLibrary> PluginLibrary::builtin(const std::string& name, const ringd_plugin_descriptor* d)
{
    if (std::string why = check_descriptor(d); !why.empty())
        throw PluginLoadError("built-in plugin " + name + " is not compatible: " + why);
    return std::shared_ptr<PluginLibrary>(new PluginLibrary("<built-in " + name + ">", nullptr, d));
}

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::filesystem::path& path)
{
    // RTLD_NOW: an unresolved symbol fails here, at start, not later inside a worker.
    // RTLD_LOCAL: one plugin's symbols never satisfy or clash with another's.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        throw PluginLoadError("cannot load plugin " + path.string() + ": " + (why != nullptr ? why : "dlopen failed"));
    }
    auto entry = reinterpret_cast<ringd_plugin_entry_fn>(dlsym(handle, RINGD_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
        dlclose(handle);
        throw PluginLoadError("plugin " + path.string() +
                              " does not export " RINGD_PLUGIN_ENTRY_SYMBOL " (is it a ringd plugin?)");
    }
    const ringd_plugin_descriptor* d = entry();
    if (std::string why = check_descriptor(d); !why.empty()) {
        dlclose(handle);
        throw PluginLoadError("plugin " + path.string() + " is not compatible: " + why);
    }
    return std::shared_ptr<PluginLibrary>(new PluginLibrary(path, handle, d));
}

PluginInstance::PluginInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<ringd_listener> handle,
                               uint32_t worker_count)
    : library_(std::move(library)),
      handle_(std::move(handle)), call_target_{handle_->name.c_str(), library_->descriptor().name,
                                               library_->path().c_str(), &failures_},
      metrics_(worker_count)
{
    handle_->instance = this;
}

int PluginInstance::register_metric(const char* name, uint32_t kind, const char* help)
{
    if (creating_thread_.load(std::memory_order_relaxed) != std::this_thread::get_id()) return -EPERM;
    return metrics_.add_metric(name, kind, help);
}

void PluginInstance::take_over_from(const PluginInstance& previous, uint32_t worker) const noexcept
{
    const auto on_handover = d().on_handover;
    if (on_handover == nullptr) return;
    ringd_handover_info info{};
    info.struct_size = sizeof info;
    info.worker = worker;
    info.previous_version = previous.d().version != nullptr ? previous.d().version : "";
    (void)plugin_call_failed(call_target_, PluginCallback::on_handover,
                             [&] { on_handover(instance_, previous.instance(), &info); });
}

PluginInstance::~PluginInstance()
{
    if (instance_ == nullptr) return;
    (void)plugin_call_failed(call_target_, PluginCallback::destroy, [&] { d().destroy(instance_); });
}

std::shared_ptr<PluginInstance> PluginInstance::create(std::shared_ptr<PluginLibrary> library, const InstanceSpec& spec)
{
    const ringd_plugin_descriptor& d = library->descriptor();
    if ((d.socket_kinds & spec.socket_kind) == 0) {
        const char* kind = spec.socket_kind == RINGD_KIND_STREAM ? "stream (tcp/unix)" : "datagram (udp)";
        throw PluginLoadError("plugin " + std::string(d.name) + " does not serve " + kind + " listeners");
    }
    auto handle = std::make_unique<ringd_listener>(ringd_listener{spec.listener_name});
    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = spec.socket_kind;
    args.listener_name = handle->name.c_str();
    args.config_yaml = spec.config_yaml.c_str();
    args.config_len = spec.config_yaml.size();
    args.worker_count = spec.worker_count;
    args.host = spec.host;
    args.listener = handle.get();

    std::shared_ptr<PluginInstance> result(
        new PluginInstance(std::move(library), std::move(handle), spec.worker_count));
    ringd_error error{};
    void* instance = nullptr;
    int rc = -1;
    result->creating_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    const bool threw = plugin_call_failed(result->call_target(), PluginCallback::create,
                                          [&] { rc = d.create(&args, &instance, &error); });
    result->creating_thread_.store(std::thread::id(), std::memory_order_relaxed);
    if (threw) throw PluginConfigError("", "plugin " + std::string(d.name) + " threw from create()");
    if (rc != 0) {
        error.message[sizeof error.message - 1] = '\0';
        error.key[sizeof error.key - 1] = '\0';
        std::string message = error.message[0] != '\0' ? error.message : "the plugin rejected its config";
        throw PluginConfigError(error.key, message);
    }
    result->instance_ = instance;
    return result;
}

std::shared_ptr<PluginInstance>
PluginInstance::create_builtin(std::shared_ptr<PluginLibrary> library, const InstanceSpec& spec,
                               const std::function<void*(const ringd_instance_args&)>& make)
{
    auto handle = std::make_unique<ringd_listener>(ringd_listener{spec.listener_name});
    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = spec.socket_kind;
    args.listener_name = handle->name.c_str();
    args.config_yaml = spec.config_yaml.c_str();
    args.config_len = spec.config_yaml.size();
    args.worker_count = spec.worker_count;
    args.host = spec.host;
    args.listener = handle.get();
    std::shared_ptr<PluginInstance> result(
        new PluginInstance(std::move(library), std::move(handle), spec.worker_count));
    void* instance = nullptr;
    result->creating_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    const bool threw =
        plugin_call_failed(result->call_target(), PluginCallback::create, [&] { instance = make(args); });
    result->creating_thread_.store(std::thread::id(), std::memory_order_relaxed);
    if (threw) throw PluginConfigError("", "built-in handler " + std::string(result->d().name) + " could not start");
    result->instance_ = instance;
    return result;
}

} // namespace ringd::plugin_host
