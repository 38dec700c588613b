// PluginLibrary::load and PluginInstance::create on real shared objects: the test-only plugins.
#include "plugin_host/plugin.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

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
