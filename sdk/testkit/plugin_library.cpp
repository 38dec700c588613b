// Loading a plugin the way ringd does (dlopen RTLD_NOW|RTLD_LOCAL, the entry symbol, the descriptor checks), or
// taking a descriptor linked into the test; either way the host keeps a host-sized copy of the descriptor.
#include "kit_state.hpp"

#include <algorithm>
#include <cstring>
#include <dlfcn.h>

namespace ringd::testkit {

namespace {

// The same checks as ringd's plugin host: an empty string when the descriptor is usable, else why not.
std::string check_descriptor(const ringd_plugin_descriptor* d)
{
    if (d == nullptr) return "its entry function returned no descriptor";
    if (d->abi_version != RINGD_PLUGIN_ABI_VERSION) {
        return "it was built for plugin ABI " + std::to_string(d->abi_version) + ", this host speaks ABI " +
               std::to_string(RINGD_PLUGIN_ABI_VERSION);
    }
    if (d->struct_size < offsetof(ringd_plugin_descriptor, on_timer) + sizeof(d->on_timer)) {
        return "its descriptor is too small (struct_size " + std::to_string(d->struct_size) + ")";
    }
    if (d->name == nullptr || d->create == nullptr || d->destroy == nullptr) {
        return "its descriptor lacks a name, create or destroy";
    }
    if ((d->socket_kinds & (RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM)) == 0)
        return "its descriptor serves no socket kind";
    return {};
}

// Reads only the 1.0 part before check_descriptor() has vouched for struct_size.
ringd_plugin_descriptor host_sized_copy(const ringd_plugin_descriptor& d)
{
    ringd_plugin_descriptor copy{};
    std::memcpy(&copy, &d, std::min<std::size_t>(d.struct_size, sizeof copy));
    copy.struct_size = sizeof copy;
    return copy;
}

} // namespace

namespace detail {

Library::Library(void* h, std::string o, const ringd_plugin_descriptor& d)
    : handle(h), origin(std::move(o)), descriptor(host_sized_copy(d))
{
}

Library::~Library()
{
    if (handle != nullptr) dlclose(handle);
}

} // namespace detail

Plugin Plugin::load(const std::string& path)
{
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        throw LoadError("cannot load plugin " + path + ": " + (why != nullptr ? why : "dlopen failed"));
    }
    auto entry = reinterpret_cast<ringd_plugin_entry_fn>(dlsym(handle, RINGD_PLUGIN_ENTRY_SYMBOL));
    if (entry == nullptr) {
        dlclose(handle);
        throw LoadError("plugin " + path + " does not export " RINGD_PLUGIN_ENTRY_SYMBOL);
    }
    const ringd_plugin_descriptor* d = entry();
    if (std::string why = check_descriptor(d); !why.empty()) {
        dlclose(handle);
        throw LoadError("plugin " + path + " is not compatible: " + why);
    }
    try {
        return Plugin(std::make_shared<const detail::Library>(handle, path, *d));
    } catch (...) {
        dlclose(handle);
        throw;
    }
}

Plugin Plugin::linked(const ringd_plugin_descriptor* d)
{
    if (std::string why = check_descriptor(d); !why.empty()) throw LoadError("linked plugin is not compatible: " + why);
    return Plugin(std::make_shared<const detail::Library>(nullptr, std::string("<linked ") + d->name + ">", *d));
}

const ringd_plugin_descriptor& Plugin::descriptor() const
{
    return library_->descriptor;
}

} // namespace ringd::testkit
