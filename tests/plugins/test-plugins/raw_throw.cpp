// raw-throw: a plugin on the bare C ABI (no plugin.hpp, so no trampolines) whose callbacks let C++ exceptions
// escape into the host. plugin.h promises the host guards every call; this plugin checks that promise.
//
//   on_data: echoes; a chunk containing "boom" throws std::runtime_error("raw-throw: boom"),
//            one containing "int" throws the non-std exception 42.
//   on_open: throws std::logic_error if the listener's config contains "throw_on_open: true".
#include <cstring>
#include <new>
#include <ringd/plugin.h>
#include <stdexcept>
#include <string_view>

namespace {

struct Instance {
    const ringd_host* host;
    bool throw_on_open;
};

int create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    const std::string_view config(args->config_yaml, args->config_len);
    *instance = new Instance{args->host, config.find("throw_on_open: true") != std::string_view::npos};
    return 0;
}

void destroy(void* instance)
{
    delete static_cast<Instance*>(instance);
}

int on_open(void* instance, ringd_conn*)
{
    if (static_cast<Instance*>(instance)->throw_on_open) throw std::logic_error("raw-throw: on_open refuses");
    return 0;
}

void on_data(void* instance, ringd_conn* conn, const uint8_t* data, size_t len)
{
    const std::string_view text(reinterpret_cast<const char*>(data), len);
    if (text.find("boom") != std::string_view::npos) throw std::runtime_error("raw-throw: boom");
    if (text.find("int") != std::string_view::npos) throw 42;
    static_cast<Instance*>(instance)->host->send(conn, data, len);
}

const ringd_plugin_descriptor descriptor = {
    RINGD_PLUGIN_ABI_VERSION,
    sizeof(ringd_plugin_descriptor),
    "raw-throw",
    "1.0.0",
    RINGD_KIND_STREAM,
    &create,
    &destroy,
    &on_open,
    &on_data,
    nullptr, // on_peer_shutdown: the host closes after flushing
    nullptr, // on_close
    nullptr, // on_datagram
    nullptr, // on_timer
};

} // namespace

extern "C" RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
