// The host side of the plugin ABI: loading a plugin library and creating per-listener instances.
//
// A PluginLibrary is one loaded build of a .so (RTLD_NOW|RTLD_LOCAL, through LoadedObject, so a rebuilt file
// loads beside the old one), checked against the ABI before anything in it is called beyond the entry symbol.
// A PluginInstance is what one listener's config made of it; it keeps its library loaded, and is shared by the
// listener and every connection the listener accepted, so a reload that replaces the instance lets old
// connections finish on the old one (and the old build), which is unloaded when its last instance goes. Tasks
// a plugin posts (ABI 1.1) hold it too, so destroy() comes after the last of them ran.
#pragma once

#include "plugin_host/loaded_object.hpp"
#include "plugin_host/metrics.hpp"
#include "plugin_host/plugin_call.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
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

// PluginLoadError (loading failed; what() names the file) is declared in plugin_file.hpp.

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

// Whether a library logs its load and unload at info level: the daemon's do; --check-config's and tests' need
// not. Warnings (a library that cannot be unloaded) are logged regardless.
enum class BuildLog { quiet, info };

struct LoadOptions {
    BuildLog log = BuildLog::quiet;
    // Counted here when the library is left in memory because its file was rewritten under it (overwritten()):
    // the dynamic linker would run that object's destructors at exit, so the process must not exit normally.
    std::shared_ptr<std::atomic<unsigned>> abandoned_builds;
};

class PluginLibrary {
public:
    // Loads the file's current contents. Throws PluginLoadError.
    [[nodiscard]] static std::shared_ptr<PluginLibrary> load(PluginFile file, const LoadOptions& options = {});
    [[nodiscard]] static std::shared_ptr<PluginLibrary> load(const std::filesystem::path& path,
                                                             const LoadOptions& options = {});
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
    // The ABI the plugin was built against, "1.0" or "1.1".
    [[nodiscard]] std::string abi() const;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    // The build that was loaded: file identity at load time, build id, how it was mapped. Empty when built in.
    [[nodiscard]] const std::optional<LoadedObject>& object() const { return object_; }
    // Names this build in logs: "build-id 3f2a..., inode 1234, mtime 2026-11-21T10:04:05.123456789Z".
    [[nodiscard]] std::string describe_build() const;

    // The file this build is mapped from has been rewritten in place since (cp onto it: see
    // LoadedObject::file_rewritten()). Its code and data are then no longer what was loaded, so ringd calls
    // nothing more in it that it can avoid: no destroy(), no dlclose() with its destructors (the mapping stays).
    // Connections still open on it call into it regardless. Once true, stays true.
    [[nodiscard]] bool overwritten() const noexcept;

private:
    PluginLibrary(std::filesystem::path path, std::optional<LoadedObject> object, const ringd_plugin_descriptor* d,
                  LoadOptions options);
    std::filesystem::path path_;
    LoadOptions options_;
    std::optional<LoadedObject> object_;
    ringd_plugin_descriptor descriptor_{};
    mutable std::atomic<bool> overwritten_{false}; // what overwritten() last found, once true
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
    bool created_ = false; // create() returned 0, so destroy() follows, even for a NULL instance
    InstanceMetrics metrics_;
    std::atomic<std::thread::id> creating_thread_{}; // set while create() runs
};

} // namespace ringd::plugin_host
