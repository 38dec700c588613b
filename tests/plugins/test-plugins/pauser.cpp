// pauser: an echo on the bare C ABI that pauses reading after every on_data and resumes from a timer, the
// way a plugin that waits for something (a slow upstream, a rate limit) does. Used to test that input which
// arrives while reading is paused, and the peer's FIN behind it, reach the plugin in order.
//
//   pauser: on_peer_shutdown sends "<fin>" and closes after the flush.
//   pauser-default-fin (the same source built with PAUSER_DEFAULT_FIN): on_peer_shutdown is NULL, so the host
//   closes after the flush by itself.
//   config "pause_ms: N" (default 5): how long each pause lasts.
#include <cstdlib>
#include <ringd/plugin.h>
#include <string>

namespace {

struct Instance {
    const ringd_host* host;
    uint64_t pause_ms;
};

const ringd_host* host_of(void* instance)
{
    return static_cast<Instance*>(instance)->host;
}

int create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    const std::string config(args->config_yaml, args->config_len);
    uint64_t pause_ms = 5;
    if (const auto at = config.find("pause_ms:"); at != std::string::npos)
        pause_ms = std::strtoull(config.c_str() + at + 9, nullptr, 10);
    *instance = new Instance{args->host, pause_ms};
    return 0;
}

void destroy(void* instance)
{
    delete static_cast<Instance*>(instance);
}

void on_data(void* instance, ringd_conn* conn, const uint8_t* data, size_t len)
{
    const ringd_host* host = host_of(instance);
    host->send(conn, data, len);
    host->pause_reading(conn);
    host->timer_start(conn, static_cast<Instance*>(instance)->pause_ms, nullptr);
}

void on_timer(void* instance, ringd_conn* conn, int64_t, void*)
{
    host_of(instance)->resume_reading(conn);
}

[[maybe_unused]] void on_peer_shutdown(void* instance, ringd_conn* conn)
{
    host_of(instance)->send(conn, "<fin>", 5);
    host_of(instance)->close(conn, RINGD_CLOSE_AFTER_FLUSH);
}

const ringd_plugin_descriptor descriptor = {
    .abi_version = RINGD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ringd_plugin_descriptor),
    .name = "pauser",
    .version = "1.0.0",
    .socket_kinds = RINGD_KIND_STREAM,
    .create = &create,
    .destroy = &destroy,
    .on_open = nullptr,
    .on_data = &on_data,
#ifdef PAUSER_DEFAULT_FIN
    .on_peer_shutdown = nullptr,
#else
    .on_peer_shutdown = &on_peer_shutdown,
#endif
    .on_close = nullptr,
    .on_datagram = nullptr,
    .on_timer = &on_timer,
};

} // namespace

extern "C" RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
