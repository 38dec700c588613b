// PluginLibrary::load and PluginInstance::create on real shared objects: the test-only plugins.
#include "plugin_host/plugin.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

using namespace ringd::plugin_host;

namespace {

std::string plugin(const char* name)
{
    return std::string(RINGD_TEST_PLUGIN_DIR) + "/" + name + ".so";
}

// A host table nobody calls during create(): only its address is handed to the plugin.
ringd_host make_null_host()
{
    ringd_host h{};
    h.abi_version = RINGD_PLUGIN_ABI_VERSION;
    h.struct_size = sizeof h;
    return h;
}
const ringd_host null_host = make_null_host();

InstanceSpec spec(uint32_t kind = RINGD_KIND_STREAM, std::string config = "{}")
{
    return InstanceSpec{"test-listener", std::move(config), kind, 2, &null_host};
}

template <class E> std::string message_of(const std::string& path)
{
    try {
        (void)PluginLibrary::load(path);
    } catch (const E& e) {
        return e.what();
    }
    FAIL("loading " << path << " did not throw");
    return {};
}

} // namespace

TEST_CASE("a good plugin loads and exposes its descriptor", "[sdk][loading]")
{
    auto lib = PluginLibrary::load(plugin("throwing"));
    CHECK(std::string(lib->descriptor().name) == "throwing");
    CHECK(lib->descriptor().abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(lib->path() == plugin("throwing"));
    auto instance = PluginInstance::create(lib, spec());
    CHECK(instance->instance() != nullptr);
    CHECK(instance->listener_name() == "test-listener");
}

TEST_CASE("a raw C-ABI plugin loads too", "[sdk][loading]")
{
    auto lib = PluginLibrary::load(plugin("raw-throw"));
    CHECK(std::string(lib->descriptor().name) == "raw-throw");
    CHECK(lib->descriptor().on_peer_shutdown == nullptr);
    CHECK(PluginInstance::create(lib, spec())->instance() != nullptr);
}

TEST_CASE("a plugin built for another ABI is refused, naming the file", "[sdk][loading]")
{
    const std::string what = message_of<PluginLoadError>(plugin("bad-abi"));
    CHECK(what == "plugin " + plugin("bad-abi") +
                      " is not compatible: it was built for plugin ABI 999, this ringd "
                      "speaks ABI 1 (rebuild the plugin against this ringd's SDK)");
}

TEST_CASE("a shared object without the entry symbol is refused, naming the file", "[sdk][loading]")
{
    const std::string what = message_of<PluginLoadError>(plugin("no-entry"));
    CHECK(what == "plugin " + plugin("no-entry") + " does not export ringd_plugin_entry_v1 (is it a ringd plugin?)");
}

TEST_CASE("a missing or non-ELF file is refused, naming the file", "[sdk][loading]")
{
    const std::string missing = plugin("does-not-exist");
    CHECK_THAT(message_of<PluginLoadError>(missing), Catch::StartsWith("cannot load plugin " + missing + ": "));
    const std::string not_elf = std::string(RINGD_TEST_PLUGIN_DIR) + "/../CMakeCache.txt";
    CHECK_THAT(message_of<PluginLoadError>(not_elf), Catch::StartsWith("cannot load plugin " + not_elf + ": "));
}

TEST_CASE("create() refusing its config becomes a PluginConfigError with the key", "[sdk][loading]")
{
    auto lib = PluginLibrary::load(plugin("fails-create"));
    try {
        (void)PluginInstance::create(lib, spec(RINGD_KIND_STREAM, "mode: fast\n"));
        FAIL("create succeeded");
    } catch (const PluginConfigError& e) {
        CHECK(e.key() == "mode");
        CHECK(std::string(e.what()) == "fails-create refuses every mode (test plugin)");
    }
}

TEST_CASE("a plugin asked to serve a socket kind it does not support is refused", "[sdk][loading]")
{
    auto lib = PluginLibrary::load(plugin("throwing")); // stream only
    try {
        (void)PluginInstance::create(lib, spec(RINGD_KIND_DATAGRAM));
        FAIL("a stream-only plugin was given a datagram listener");
    } catch (const PluginLoadError& e) {
        CHECK(std::string(e.what()) == "plugin throwing does not serve datagram (udp) listeners");
    }
}

TEST_CASE("the same file loads once per PluginLibrary and instances keep it alive", "[sdk][loading]")
{
    std::shared_ptr<PluginInstance> instance;
    {
        auto lib = PluginLibrary::load(plugin("raw-throw"));
        instance = PluginInstance::create(lib, spec());
    }
    // The library handle is gone from this scope, but the instance still calls into the .so.
    CHECK(std::string(instance->d().name) == "raw-throw");
    CHECK(instance->library().path() == plugin("raw-throw"));
}

// ---- ABI 1.0 <-> 1.1 ----------------------------------------------------------------------------------------

TEST_CASE("a plugin built against the 1.0 header loads, its descriptor copy zero beyond 1.0", "[sdk][loading][abi]")
{
    // abi10-echo's descriptor is followed in memory by non-zero words: read past its struct_size, they would
    // show up here as callbacks.
    auto lib = PluginLibrary::load(plugin("abi10-echo"));
    const ringd_plugin_descriptor& d = lib->descriptor();
    CHECK(std::string(d.name) == "abi10-echo");
    CHECK(lib->abi_minor() == 0);
    CHECK(lib->abi() == "1.0");
    CHECK(d.struct_size == sizeof(ringd_plugin_descriptor));
    CHECK(d.on_data != nullptr);
    CHECK(d.on_timer != nullptr);
    CHECK(d.on_connect == nullptr);
    CHECK(d.on_output_drained == nullptr);
    CHECK(d.on_worker_start == nullptr);
    CHECK(d.on_worker_stop == nullptr);
    CHECK(d.on_worker_timer == nullptr);
    CHECK(d.on_handover == nullptr);
    CHECK(PluginInstance::create(lib, spec())->instance() != nullptr);
}

TEST_CASE("a 1.1 plugin reports ABI 1.1", "[sdk][loading][abi]")
{
    auto lib = PluginLibrary::load(plugin("host-probe"));
    CHECK(lib->abi_minor() == RINGD_PLUGIN_ABI_MINOR);
    CHECK(lib->abi() == "1.1");
}

namespace {

std::vector<std::string> probe_log;
int tripwire_calls = 0;

ringd_host probe_host(uint32_t struct_size)
{
    ringd_host h{};
    h.abi_version = RINGD_PLUGIN_ABI_VERSION;
    h.struct_size = struct_size;
    h.log = [](ringd_listener*, ringd_log_level, const char* msg) { probe_log.emplace_back(msg); };
    // Set even in the 1.0-sized table: a plugin must go by struct_size, never by what lies beyond it.
    h.abi_minor = RINGD_PLUGIN_ABI_MINOR;
    h.send_to = [](ringd_conn_id, const void*, size_t) {
        ++tripwire_calls;
        return -ENOSYS;
    };
    h.metric_register = [](ringd_listener*, const char*, uint32_t, const char*) {
        ++tripwire_calls;
        return 7;
    };
    return h;
}

} // namespace

TEST_CASE("RINGD_HOST_HAS goes by the host table's struct_size", "[sdk][abi]")
{
    const ringd_host v10 = probe_host(offsetof(ringd_host, abi_minor));
    CHECK(RINGD_HOST_HAS(&v10, peer_credentials));
    CHECK_FALSE(RINGD_HOST_HAS(&v10, abi_minor));
    CHECK_FALSE(RINGD_HOST_HAS(&v10, send_to));
    CHECK_FALSE(RINGD_HOST_HAS(&v10, metric_read));
    const ringd_host v11 = probe_host(sizeof(ringd_host));
    CHECK(RINGD_HOST_HAS(&v11, abi_minor));
    CHECK(RINGD_HOST_HAS(&v11, metric_read));
}

TEST_CASE("a 1.1 plugin in a host with a 1.0-sized table does without the 1.1 calls", "[sdk][loading][abi]")
{
    auto lib = PluginLibrary::load(plugin("host-probe"));
    probe_log.clear();
    tripwire_calls = 0;
    SECTION("1.0 table")
    {
        const ringd_host host = probe_host(offsetof(ringd_host, abi_minor));
        (void)PluginInstance::create(lib, InstanceSpec{"probe", "{}", RINGD_KIND_STREAM, 1, &host});
        REQUIRE(probe_log.size() == 1);
        CHECK(probe_log[0] == "host ABI 1.0: send_to no, metric_register no");
        CHECK(tripwire_calls == 0);
    }
    SECTION("1.1 table")
    {
        const ringd_host host = probe_host(sizeof(ringd_host));
        (void)PluginInstance::create(lib, InstanceSpec{"probe", "{}", RINGD_KIND_STREAM, 1, &host});
        REQUIRE(probe_log.size() == 1);
        CHECK(probe_log[0] == "host ABI 1.1: send_to yes, metric_register yes (metric 7)");
        CHECK(tripwire_calls == 1);
    }
}

// ---- destroy() follows every successful create(), even one that left *instance NULL -----------------------

namespace {

int destroys = 0;
void* destroyed_instance = reinterpret_cast<void*>(1);
bool create_succeeds = true;

ringd_plugin_descriptor stateless_descriptor()
{
    ringd_plugin_descriptor d{};
    d.abi_version = RINGD_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof d;
    d.name = "stateless";
    d.socket_kinds = RINGD_KIND_STREAM;
    d.create = [](const ringd_instance_args*, void** instance, ringd_error* error) {
        *instance = nullptr;
        if (create_succeeds) return 0;
        std::strcpy(error->message, "no");
        return 1;
    };
    d.destroy = [](void* instance) {
        ++destroys;
        destroyed_instance = instance;
    };
    return d;
}

} // namespace

TEST_CASE("destroy(NULL) follows a create() that returned 0 without an instance", "[sdk][loading]")
{
    static const ringd_plugin_descriptor d = stateless_descriptor();
    auto lib = PluginLibrary::builtin("stateless", &d);
    destroys = 0;
    SECTION("create succeeded: destroy(NULL) once")
    {
        create_succeeds = true;
        auto instance = PluginInstance::create(lib, spec());
        CHECK(instance->instance() == nullptr);
        CHECK(destroys == 0);
        instance.reset();
        CHECK(destroys == 1);
        CHECK(destroyed_instance == nullptr);
    }
    SECTION("create failed: no destroy")
    {
        create_succeeds = false;
        CHECK_THROWS_AS(PluginInstance::create(lib, spec()), PluginConfigError);
        CHECK(destroys == 0);
    }
}
