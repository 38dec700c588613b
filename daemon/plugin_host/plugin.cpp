// Plugin loading (ABI check, build identity) and instance creation.
#include "plugin_host/plugin.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <spdlog/spdlog.h>

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

PluginLibrary::PluginLibrary(std::filesystem::path path, std::optional<LoadedObject> object,
                             const ringd_plugin_descriptor* d, LoadOptions options)
    : path_(std::move(path)), options_(std::move(options)), object_(std::move(object))
{
    // A plugin built against an older minor ABI has a shorter descriptor: copy what it has, leave the rest
    // zero (absent callbacks are NULL, abi_minor 0). check_descriptor() made sure the 1.0 part is there.
    // Rounded down to the struct's alignment, so a struct_size that ends inside a callback pointer (a corrupt
    // descriptor) leaves that callback NULL instead of half copied: the host reads no field it does not cover.
    constexpr std::size_t align = alignof(ringd_plugin_descriptor);
    const std::size_t copied = std::min<std::size_t>(d->struct_size, sizeof descriptor_) / align * align;
    std::memcpy(&descriptor_, d, copied);
    descriptor_.struct_size = sizeof descriptor_;
}

PluginLibrary::~PluginLibrary()
{
    if (!object_) return;
    const std::string build = describe_build();
    if (overwritten()) { // its name, in the object's memory, may now lie beyond the end of the file: not read
        object_->abandon();
        if (options_.abandoned_builds) ++*options_.abandoned_builds;
        spdlog::warn("plugin {} ({}) stays in memory after its last instance: its file was rewritten in place",
                     path_.string(), build);
        return;
    }
    // Copied first: the name lives in the object's memory, which unload() may unmap.
    const std::string name = descriptor_.name;
    if (object_->unload()) {
        if (options_.log == BuildLog::info) spdlog::info("unloaded plugin {} ({}, {})", name, path_.string(), build);
    } else {
        spdlog::warn("plugin {} ({}, {}) stays in memory after its last instance: it cannot be unloaded "
                     "(STB_GNU_UNIQUE symbols or -z nodelete; build it with the SDK's plugin-exports.map)",
                     name, path_.string(), build);
    }
}

bool PluginLibrary::overwritten() const noexcept
{
    if (!overwritten_ && object_ && object_->file_rewritten()) overwritten_ = true;
    return overwritten_;
}

std::string PluginLibrary::abi() const
{
    return std::to_string(descriptor_.abi_version) + "." + std::to_string(descriptor_.abi_minor);
}

std::string PluginLibrary::describe_build() const
{
    if (!object_) return "built in";
    const FileIdentity& id = object_->file().identity();
    std::string text =
        "build-id " + object_->build_id() + ", inode " + std::to_string(id.inode) + ", mtime " + format_mtime(id.mtime);
    if (object_->file().is_memory_copy()) text += ", private copy";
    return text;
}

std::shared_ptr<PluginLibrary> PluginLibrary::builtin(const std::string& name, const ringd_plugin_descriptor* d)
{
    if (std::string why = check_descriptor(d); !why.empty())
        throw PluginLoadError("built-in plugin " + name + " is not compatible: " + why);
    return std::shared_ptr<PluginLibrary>(new PluginLibrary("<built-in " + name + ">", std::nullopt, d, LoadOptions{}));
}

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::filesystem::path& path, const LoadOptions& options)
{
    return load(PluginFile::open(path), options);
}

std::shared_ptr<PluginLibrary> PluginLibrary::load(PluginFile file, const LoadOptions& options)
{
    std::filesystem::path path = file.path();
    LoadedObject object = LoadedObject::open(std::move(file));
    auto entry = reinterpret_cast<ringd_plugin_entry_fn>(object.symbol(RINGD_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
        throw PluginLoadError("plugin " + path.string() +
                              " does not export " RINGD_PLUGIN_ENTRY_SYMBOL " (is it a ringd plugin?)");
    }
    const ringd_plugin_descriptor* d = entry();
    if (std::string why = check_descriptor(d); !why.empty())
        throw PluginLoadError("plugin " + path.string() + " is not compatible: " + why);
    auto lib = std::shared_ptr<PluginLibrary>(new PluginLibrary(std::move(path), std::move(object), d, options));
    if (options.log == BuildLog::info) {
        // "mapped as" is the name debuggers and sanitizers show for the library (see LoadedObject).
        spdlog::info("loaded plugin {} {} (ABI {}) from {}: {}, mapped as {}", lib->descriptor_.name,
                     lib->descriptor_.version != nullptr ? lib->descriptor_.version : "?", lib->abi(),
                     lib->path_.string(), lib->describe_build(), lib->object_->mapped_as());
    }
    return lib;
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
    // A previous build whose file was rewritten in place: even its version string may be gone; no handover.
    if (previous.library().overwritten()) return;
    ringd_handover_info info{};
    info.struct_size = sizeof info;
    info.worker = worker;
    info.previous_version = previous.d().version != nullptr ? previous.d().version : "";
    (void)plugin_call_failed(call_target_, PluginCallback::on_handover,
                             [&] { on_handover(instance_, previous.instance(), &info); });
}

PluginInstance::~PluginInstance()
{
    if (!created_) return;
    if (library_->overwritten()) {
        spdlog::warn("listener {}: not calling destroy() of plugin {}: the file was rewritten in place under the "
                     "running code; the instance is left as it is",
                     handle_->name, library_->path().string());
        return;
    }
    (void)plugin_call_failed(call_target_, PluginCallback::destroy, [&] { d().destroy(instance_); });
}

namespace {

// What create() gets, loaded plugin or built-in handler alike. Points into spec and handle, which outlive the call.
ringd_instance_args instance_args(const InstanceSpec& spec, ringd_listener& handle)
{
    ringd_instance_args args{};
    args.struct_size = sizeof args;
    args.socket_kind = spec.socket_kind;
    args.listener_name = handle.name.c_str();
    args.config_yaml = spec.config_yaml.c_str();
    args.config_len = spec.config_yaml.size();
    args.worker_count = spec.worker_count;
    args.host = spec.host;
    args.listener = &handle;
    return args;
}

} // namespace

std::shared_ptr<PluginInstance> PluginInstance::create(std::shared_ptr<PluginLibrary> library, const InstanceSpec& spec)
{
    const ringd_plugin_descriptor& d = library->descriptor();
    if ((d.socket_kinds & spec.socket_kind) == 0) {
        const char* kind = spec.socket_kind == RINGD_KIND_STREAM ? "stream (tcp/unix)" : "datagram (udp)";
        throw PluginLoadError("plugin " + std::string(d.name) + " does not serve " + kind + " listeners");
    }
    auto handle = std::make_unique<ringd_listener>(ringd_listener{spec.listener_name});
    const ringd_instance_args args = instance_args(spec, *handle);

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
    result->created_ = true;
    return result;
}

std::shared_ptr<PluginInstance>
PluginInstance::create_builtin(std::shared_ptr<PluginLibrary> library, const InstanceSpec& spec,
                               const std::function<void*(const ringd_instance_args&)>& make)
{
    auto handle = std::make_unique<ringd_listener>(ringd_listener{spec.listener_name});
    const ringd_instance_args args = instance_args(spec, *handle);
    std::shared_ptr<PluginInstance> result(
        new PluginInstance(std::move(library), std::move(handle), spec.worker_count));
    void* instance = nullptr;
    result->creating_thread_.store(std::this_thread::get_id(), std::memory_order_relaxed);
    const bool threw =
        plugin_call_failed(result->call_target(), PluginCallback::create, [&] { instance = make(args); });
    result->creating_thread_.store(std::thread::id(), std::memory_order_relaxed);
    if (threw) throw PluginConfigError("", "built-in handler " + std::string(result->d().name) + " could not start");
    result->instance_ = instance;
    result->created_ = true; // destroy() follows, as for a loaded plugin
    return result;
}

} // namespace ringd::plugin_host
