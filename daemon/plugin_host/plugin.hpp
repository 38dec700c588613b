// The host side of the plugin ABI: loading a plugin library and creating per-listener instances.
//
// A PluginLibrary is one dlopen'd .so (RTLD_NOW|RTLD_LOCAL), checked against the ABI before anything in it is
// called beyond the entry symbol. A PluginInstance is what one listener's config made of it; it keeps its
// library loaded, and is shared by the listener and every connection the listener accepted, so a reload
// that replaces the instance lets old connections finish on the old one. Tasks a plugin posts (ABI 1.1) hold
// it too, so destroy() comes after the last of them ran.
#pragma once

#include "plugin_host/metrics.hpp"
#include "plugin_host/plugin_call.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <ringd/plugin.h>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace ringd::plugin_host {
class PluginInstance;
}

// The instance's own handle (ringd_instance_args.listener): what plugins log through, and how host calls that
// take `self` (ABI 1.1) find the instance. Owned by the instance; `instance` never changes.
struct ringd_listener {
    std::string name;
    ringd::plugin_host::PluginInstance* instance = nullptr;
};

namespace ringd::plugin_host {

// Loading failed: missing file, dlopen error, missing entry symbol, ABI mismatch. what() names the file.
class PluginLoadError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The plugin rejected its config (create() failed). key: dotted config path, may be empty.
class PluginConfigError : public std::runtime_error {
public:
    PluginConfigError(std::string key, const std::string& message) : std::runtime_error(message), key_(std::move(key))
    {
    }
    [[nodiscard]] const std::string& key() const { return key_; }

private:
    std::string key_;
};

class PluginLibrary {
public:
    // Throws PluginLoadError.
    [[nodiscard]] static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& path);
    // A plugin compiled into the calling program (ringd's own handlers, the engine's unit tests): the same
    // checks, nothing to unload. Throws PluginLoadError.
    [[nodiscard]] static std::shared_ptr<PluginLibrary> builtin(const std::string& name,
                                                                const ringd_plugin_descriptor* d);
    ~PluginLibrary();
    PluginLibrary(const PluginLibrary&) = delete;
    PluginLibrary& operator=(const PluginLibrary&) = delete;

    // The plugin's descriptor as this host's struct: fields beyond the plugin's struct_size (callbacks of a
    // later minor ABI than the plugin was built for) are zero, so the engine reads any field without checking.
    [[nodiscard]] const ringd_plugin_descriptor& descriptor() const { return descriptor_; }
    // The minor ABI version the plugin was built against: 0 for a 1.0 plugin (no abi_minor field).
    [[nodiscard]] uint32_t abi_minor() const { return descriptor_.abi_minor; }
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
    PluginLibrary(std::filesystem::path path, void* handle, const ringd_plugin_descriptor* d);
    std::filesystem::path path_;
    void* handle_;
    ringd_plugin_descriptor descriptor_{};
};

// Checks a descriptor against this host's ABI. Returns an empty string when compatible, else why not.
[[nodiscard]] std::string check_descriptor(const ringd_plugin_descriptor* d);

struct InstanceSpec {
    std::string listener_name;
    std::string config_yaml;
    uint32_t socket_kind; // RINGD_KIND_*
    uint32_t worker_count;
    const ringd_host* host;
};

class PluginInstance : public std::enable_shared_from_this<PluginInstance> {
public:
    // Throws PluginConfigError (plugin said no) or PluginLoadError (plugin can't serve this socket kind).
    [[nodiscard]] static std::shared_ptr<PluginInstance> create(std::shared_ptr<PluginLibrary> library,
                                                                const InstanceSpec& spec);
    // A handler compiled into ringd (the admin listener's, observability/admin_handler.hpp): `make` builds the
    // instance object from the args, with whatever context the caller bound into it, in place of the
    // descriptor's create(); the descriptor's destroy() ends it as for any plugin. Throws PluginConfigError when
    // `make` throws.
    [[nodiscard]] static std::shared_ptr<PluginInstance>
    create_builtin(std::shared_ptr<PluginLibrary> library, const InstanceSpec& spec,
                   const std::function<void*(const ringd_instance_args&)>& make);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    [[nodiscard]] const ringd_plugin_descriptor& d() const { return library_->descriptor(); }
    [[nodiscard]] void* instance() const { return instance_; }
    [[nodiscard]] const PluginLibrary& library() const { return *library_; }
    [[nodiscard]] const std::string& listener_name() const { return handle_->name; }
    // Whom calls into this instance go to, for plugin_call_failed(); failures are counted in failures().
    [[nodiscard]] const PluginCallTarget& call_target() const { return call_target_; }
    // Calls into this instance that failed (threw), whichever thread made them.
    [[nodiscard]] uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }

    // ---- ABI 1.1 ----
    // The handle the plugin passes back as `self`.
    [[nodiscard]] ringd_listener* handle() const { return handle_.get(); }
    // ringd_host.metric_register: only while create() runs, on the thread running it (else -EPERM).
    [[nodiscard]] int register_metric(const char* name, uint32_t kind, const char* help);
    [[nodiscard]] InstanceMetrics& metric_cells() { return metrics_; }
    // Every registered metric with its current value (name, kind, help, value), for the metrics exporter.
    [[nodiscard]] std::vector<InstanceMetrics::Value> metrics() const { return metrics_.values(); }
    // on_handover(this, previous, {worker}) if the plugin has it: `worker` is RINGD_NO_WORKER on the main thread,
    // else the calling worker's index. A failure is logged and counted; the handover is then simply incomplete.
    void take_over_from(const PluginInstance& previous, uint32_t worker) const noexcept;

private:
    PluginInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<ringd_listener> handle,
                   uint32_t worker_count);
    std::shared_ptr<PluginLibrary> library_;
    std::unique_ptr<ringd_listener> handle_;
    std::atomic<uint64_t> failures_{0};
    PluginCallTarget call_target_;
    void* instance_ = nullptr;
    InstanceMetrics metrics_;
    std::atomic<std::thread::id> creating_thread_{}; // set while create() runs
};

} // namespace ringd::plugin_host
