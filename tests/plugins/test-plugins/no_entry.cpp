// no-entry: a loadable shared object that exports a function, but not ringd_plugin_entry_v1.
#include <ringd/plugin.h>

extern "C" RINGD_PLUGIN_EXPORT int ringd_plugin_entry_v0(void)
{
    return 0;
}
