/* host-probe: an ABI 1.1 plugin that runs in an older host too. Its create() asks RINGD_HOST_HAS which 1.1 host
 * functions the host table has, uses metric_register only when it is there, and logs what it found:
 *
 *   "host ABI 1.1: send_to yes, metric_register yes (metric 0)"        in a 1.1 host
 *   "host ABI 1.0: send_to no, metric_register no"                     with a 1.0-sized host table
 *
 * Used by plugin_loading_test.cpp with host tables of both sizes. A plugin without state: its instance is NULL. */
#include <ringd/plugin.h>
#include <stdio.h>

static int create(const ringd_instance_args* args, void** instance, ringd_error* error)
{
    const ringd_host* host = args->host;
    char line[160];
    (void)error;
    if (RINGD_HOST_HAS(host, metric_register)) {
        const int metric = host->metric_register(args->listener, "probes", RINGD_METRIC_COUNTER, "probes made");
        snprintf(line, sizeof line, "host ABI 1.%u: send_to %s, metric_register yes (metric %d)",
                 RINGD_HOST_HAS(host, abi_minor) ? host->abi_minor : 0u, RINGD_HOST_HAS(host, send_to) ? "yes" : "no",
                 metric);
    } else {
        snprintf(line, sizeof line, "host ABI 1.%u: send_to %s, metric_register no",
                 RINGD_HOST_HAS(host, abi_minor) ? host->abi_minor : 0u, RINGD_HOST_HAS(host, send_to) ? "yes" : "no");
    }
    host->log(args->listener, RINGD_LOG_INFO, line);
    *instance = NULL;
    return 0;
}

static void destroy(void* instance)
{
    (void)instance;
}

static const ringd_plugin_descriptor descriptor = {
    .abi_version = RINGD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ringd_plugin_descriptor),
    .name = "host-probe",
    .version = "1.1.0",
    .socket_kinds = RINGD_KIND_STREAM,
    .create = create,
    .destroy = destroy,
    .abi_minor = RINGD_PLUGIN_ABI_MINOR,
};

RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
