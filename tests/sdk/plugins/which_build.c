/* which-build: the same plugin built twice with another BUILD_TAG (which-build-one.so, which-build-two.so), for
 * the tests that replace a loaded .so and reload (tests/sdk/test_replace_plugin.py). Every read is answered
 * with "<tag> instance <n>\n": the build that serves the connection, and which create() call of this loaded
 * copy of the file made its instance (1 for the first). A reload that got the old object back from the dynamic
 * linker, instead of loading the file anew, would answer "instance 2".
 *
 * The tags have the same length, so both builds have the same layout: a test that overwrites the loaded file
 * in place (cp) does not pull different code under the instance still running from it. */
#include <ringd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef BUILD_TAG
#error "define BUILD_TAG"
#endif

typedef struct which_build {
    const ringd_host* host;
    unsigned sequence;
} which_build;

static unsigned instances_created; /* by this loaded copy; create() runs on the main thread only */

static int create(const ringd_instance_args* args, void** instance, ringd_error* error)
{
    which_build* self = malloc(sizeof *self);
    if (self == NULL) {
        snprintf(error->message, sizeof error->message, "out of memory");
        return 1;
    }
    self->host = args->host;
    self->sequence = ++instances_created;
    *instance = self;
    return 0;
}

static void destroy(void* instance)
{
    free(instance);
}

static void on_data(void* instance, ringd_conn* conn, const uint8_t* data, size_t len)
{
    const which_build* self = instance;
    char answer[64];
    (void)data;
    (void)len;
    snprintf(answer, sizeof answer, "%s instance %u\n", BUILD_TAG, self->sequence);
    self->host->send(conn, answer, strlen(answer));
}

static const ringd_plugin_descriptor descriptor = {
    .abi_version = RINGD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ringd_plugin_descriptor),
    .name = "which-build",
    .version = "1.0.0",
    .socket_kinds = RINGD_KIND_STREAM,
    .create = create,
    .destroy = destroy,
    .on_data = on_data,
    .abi_minor = RINGD_PLUGIN_ABI_MINOR,
};

RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
