// bad-abi: a well-formed descriptor that claims plugin ABI 999. The host must refuse it, naming the file.
#include <ringd/plugin.h>

namespace {

int create(const ringd_instance_args*, void** instance, ringd_error*)
{
    *instance = nullptr;
    return 0;
}

void destroy(void*) {}

const ringd_plugin_descriptor descriptor = {
    999u,
    sizeof(ringd_plugin_descriptor),
    "bad-abi",
    "1.0.0",
    RINGD_KIND_STREAM,
    &create,
    &destroy,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

} // namespace

extern "C" RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
