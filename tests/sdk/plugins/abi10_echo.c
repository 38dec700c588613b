/* abi10-echo: a plugin built against the frozen ABI 1.0 header (tests/sdk/abi-1.0/ringd/plugin.h), in C, to show
 * that a 1.0 plugin loads and works unchanged in a 1.1 host (tests/sdk/test_abi_compat.py, plugin_loading_test).
 * It uses the 1.0 host functions a plugin typically needs: send, close, a per-connection user pointer, a timer.
 *
 *   "later..."  answers "abi-1.0 timer\n" 20 ms later, from on_timer
 *   "bye..."    answers "bye\n" and closes after the flush
 *   "host..."   answers whether the host table covers all of ABI 1.0 ("host table covers 1.0: yes\n")
 *   anything    answers "abi-1.0 #N: " and the bytes, N counting the connection's reads
 *
 * The descriptor is followed in memory by non-zero words: a host that read the descriptor beyond its
 * struct_size (the 1.1 fields) would take them for callbacks. */
#include <ringd/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef RINGD_PLUGIN_ABI_MINOR
#error "abi10-echo must be built against tests/sdk/abi-1.0/ringd/plugin.h, not the current header"
#endif

typedef struct connection_state {
    unsigned reads;
} connection_state;

static int starts_with(const uint8_t* data, size_t len, const char* prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(data, prefix, n) == 0;
}

static int create(const ringd_instance_args* args, void** instance, ringd_error* error)
{
    if (strcmp(args->config_yaml, "{}") != 0) {
        snprintf(error->message, sizeof error->message, "abi10-echo takes no configuration");
        return 1;
    }
    *instance = (void*)args->host; /* the instance is just the host table: callbacks get no other pointer to it */
    return 0;
}

static void destroy(void* instance)
{
    (void)instance;
}

static int on_open(void* instance, ringd_conn* conn)
{
    const ringd_host* host = instance;
    connection_state* state = calloc(1, sizeof *state);
    if (state == NULL) return 1;
    host->set_user(conn, state);
    return 0;
}

static void on_data(void* instance, ringd_conn* conn, const uint8_t* data, size_t len)
{
    const ringd_host* host = instance;
    connection_state* state = host->get_user(conn);
    char prefix[48];
    if (starts_with(data, len, "later")) {
        host->timer_start(conn, 20, NULL);
        return;
    }
    if (starts_with(data, len, "bye")) {
        host->send(conn, "bye\n", 4);
        host->close(conn, RINGD_CLOSE_AFTER_FLUSH);
        return;
    }
    if (starts_with(data, len, "host")) {
        const int covers = host->struct_size >= sizeof(ringd_host) && host->abi_version == RINGD_PLUGIN_ABI_VERSION;
        const char* answer = covers ? "host table covers 1.0: yes\n" : "host table covers 1.0: no\n";
        host->send(conn, answer, strlen(answer));
        return;
    }
    state->reads++;
    snprintf(prefix, sizeof prefix, "abi-1.0 #%u: ", state->reads);
    host->send(conn, prefix, strlen(prefix));
    host->send(conn, data, len);
}

static void on_close(void* instance, ringd_conn* conn, ringd_close_reason reason)
{
    const ringd_host* host = instance;
    (void)reason;
    free(host->get_user(conn));
}

static void on_timer(void* instance, ringd_conn* conn, int64_t timer_id, void* arg)
{
    const ringd_host* host = instance;
    (void)timer_id;
    (void)arg;
    host->send(conn, "abi-1.0 timer\n", 14);
}

static const struct {
    ringd_plugin_descriptor descriptor;
    uintptr_t after[16];
} image = {
    .descriptor =
        {
            .abi_version = RINGD_PLUGIN_ABI_VERSION,
            .struct_size = sizeof(ringd_plugin_descriptor),
            .name = "abi10-echo",
            .version = "1.0.0",
            .socket_kinds = RINGD_KIND_STREAM,
            .create = create,
            .destroy = destroy,
            .on_open = on_open,
            .on_data = on_data,
            .on_peer_shutdown = NULL,
            .on_close = on_close,
            .on_datagram = NULL,
            .on_timer = on_timer,
        },
    .after = {0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a,
              0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a, 0x5a5a5a5a},
};

RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &image.descriptor;
}
