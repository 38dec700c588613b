// crasher: an echo on the bare C ABI whose on_data crashes on request, for the fatal-signal reporter's test
// (tests/integration/test_plugin_failures.py):
//   "segv"      writes through a null pointer (SIGSEGV)
//   "abort"     calls abort() (SIGABRT)
//   "overflow"  recurses until the stack is exhausted (SIGSEGV on the guard page: needs the alternate stack)
#include <cstdlib>
#include <cstring>
#include <ringd/plugin.h>
#include <string_view>

namespace {

int create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    *instance = const_cast<ringd_host*>(args->host); // the instance is just the host table
    return 0;
}

void destroy(void*) {}

// Each frame keeps a buffer the compiler cannot drop, and the depth depends on the input, so it cannot be
// turned into a loop.
size_t recurse(const volatile char* input, size_t depth)
{
    volatile char frame[512];
    frame[0] = input[depth % 4];
    return frame[0] == 0 ? depth : recurse(input, depth + 1) + frame[0];
}

void on_data(void* instance, ringd_conn* conn, const uint8_t* data, size_t len)
{
    const std::string_view text(reinterpret_cast<const char*>(data), len);
    if (text.find("segv") != std::string_view::npos) {
        volatile int* nowhere = nullptr;
        *nowhere = 1;
    }
    if (text.find("abort") != std::string_view::npos) std::abort();
    if (text.find("overflow") != std::string_view::npos) {
        const char nonzero[4] = {'o', 'v', 'e', 'r'};
        len += recurse(nonzero, 0);
    }
    static_cast<const ringd_host*>(instance)->send(conn, data, len);
}

const ringd_plugin_descriptor descriptor = {
    .abi_version = RINGD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ringd_plugin_descriptor),
    .name = "crasher",
    .version = "1.0.0",
    .socket_kinds = RINGD_KIND_STREAM,
    .create = &create,
    .destroy = &destroy,
    .on_open = nullptr,
    .on_data = &on_data,
    .on_peer_shutdown = nullptr,
    .on_close = nullptr,
    .on_datagram = nullptr,
    .on_timer = nullptr,
};

} // namespace

extern "C" RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
