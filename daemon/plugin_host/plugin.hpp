// The host side of the plugin ABI: loading a plugin library and creating per-listener instances.
//
// A PluginLibrary is one dlopen'd .so (RTLD_NOW|RTLD_LOCAL), checked against the ABI before anything in it is
// called beyond the entry symbol. A PluginInstance is what one listener's config made of it; it keeps its
// library loaded, and is shared by the listener and every connection the listener accepted, so a reload
// that replaces the instance lets old connections finish on the old one.
#pragma once

#include "plugin_host/plugin_call.hpp"

#include <filesystem>
#include <memory>
#include <ringd/plugin.h>
#include <stdexcept>
#include <string>

// The opaque handle plugins log through (ringd_instance_args.listener).
struct ringd_listener {
    std::string name;
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

class PluginInstance {
public:
    // Throws PluginConfigError (plugin said no) or PluginLoadError (plugin can't serve this socket kind).
    [[nodiscard]] static std::shared_ptr<PluginInstance> create(std::shared_ptr<PluginLibrary> library,
                                                                const InstanceSpec& spec);
    ~PluginInstance();
    PluginInstance(const PluginInstance&) = delete;
    PluginInstance& operator=(const PluginInstance&) = delete;

    [[nodiscard]] const ringd_plugin_descriptor& d() const { return library_->descriptor(); }
    [[nodiscard]] void* instance() const { return instance_; }
    [[nodiscard]] const PluginLibrary& library() const { return *library_; }
    [[nodiscard]] const std::string& listener_name() const { return handle_->name; }
    // The handle the instance was given (ringd_instance_args.listener), which it passes back as `self`.
    [[nodiscard]] const ringd_listener* handle() const { return handle_.get(); }
    // Whom calls into this instance go to, for plugin_call_failed(); counts nothing (a Listener adds its
    // counters to a copy).
    [[nodiscard]] const PluginCallTarget& call_target() const { return call_target_; }

private:
    PluginInstance(std::shared_ptr<PluginLibrary> library, std::unique_ptr<ringd_listener> handle);
    std::shared_ptr<PluginLibrary> library_;
    std::unique_ptr<ringd_listener> handle_;
    PluginCallTarget call_target_;
    void* instance_ = nullptr;
};

} // namespace ringd::plugin_host
