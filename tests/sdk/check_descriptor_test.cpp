// check_descriptor(): what the host accepts from a plugin's entry function, and what it says when it refuses.
#include "plugin_host/plugin.hpp"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>

using ringd::plugin_host::check_descriptor;

namespace {

int fake_create(const ringd_instance_args*, void** instance, ringd_error*)
{
    *instance = nullptr;
    return 0;
}
void fake_destroy(void*) {}

ringd_plugin_descriptor good()
{
    ringd_plugin_descriptor d{};
    d.abi_version = RINGD_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof(ringd_plugin_descriptor);
    d.name = "fake";
    d.version = "1.0.0";
    d.socket_kinds = RINGD_KIND_STREAM;
    d.create = &fake_create;
    d.destroy = &fake_destroy;
    return d;
}

constexpr std::size_t abi1_size = offsetof(ringd_plugin_descriptor, on_timer) + sizeof(void (*)());

} // namespace

TEST_CASE("a complete ABI 1 descriptor is accepted", "[sdk][abi]")
{
    auto d = good();
    CHECK(check_descriptor(&d).empty());
    SECTION("datagram only, or both kinds")
    {
        d.socket_kinds = RINGD_KIND_DATAGRAM;
        CHECK(check_descriptor(&d).empty());
        d.socket_kinds = RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM;
        CHECK(check_descriptor(&d).empty());
    }
    SECTION("every callback may be NULL")
    {
        CHECK(d.on_open == nullptr);
        CHECK(d.on_datagram == nullptr);
        CHECK(check_descriptor(&d).empty());
    }
    SECTION("version may be NULL")
    {
        d.version = nullptr;
        CHECK(check_descriptor(&d).empty());
    }
    SECTION("a later minor version's larger struct is accepted")
    {
        d.struct_size = sizeof(ringd_plugin_descriptor) + 64;
        CHECK(check_descriptor(&d).empty());
    }
    SECTION("exactly the ABI 1 size is enough")
    {
        d.struct_size = uint32_t(abi1_size);
        CHECK(check_descriptor(&d).empty());
    }
}

TEST_CASE("no descriptor at all is refused", "[sdk][abi]")
{
    CHECK(check_descriptor(nullptr) == "its entry function returned no descriptor");
}

TEST_CASE("a different abi_version is refused, naming both versions", "[sdk][abi]")
{
    auto d = good();
    for (uint32_t v : {0u, 2u, 999u}) {
        d.abi_version = v;
        const std::string why = check_descriptor(&d);
        CAPTURE(v, why);
        CHECK(why == "it was built for plugin ABI " + std::to_string(v) +
                         ", this ringd speaks ABI 1 (rebuild the plugin against this ringd's SDK)");
    }
}

TEST_CASE("the ABI version is checked before anything else in the struct", "[sdk][abi]")
{
    // A plugin from another major version may have any layout: nothing past abi_version may be trusted.
    auto d = good();
    d.abi_version = 2;
    d.struct_size = 4;
    d.create = nullptr;
    d.socket_kinds = 0;
    CHECK_THAT(check_descriptor(&d), Catch::Contains("plugin ABI 2"));
}

TEST_CASE("a struct_size below ABI 1's descriptor is refused", "[sdk][abi]")
{
    auto d = good();
    for (uint32_t size : {0u, 8u, uint32_t(offsetof(ringd_plugin_descriptor, on_timer)), uint32_t(abi1_size - 1)}) {
        d.struct_size = size;
        CAPTURE(size);
        CHECK(check_descriptor(&d) == "its descriptor is too small (struct_size " + std::to_string(size) + ")");
    }
}

TEST_CASE("a descriptor without name, create or destroy is refused", "[sdk][abi]")
{
    const std::string expected = "its descriptor lacks a name, create or destroy";
    auto d = good();
    SECTION("no create")
    {
        d.create = nullptr;
        CHECK(check_descriptor(&d) == expected);
    }
    SECTION("no destroy")
    {
        d.destroy = nullptr;
        CHECK(check_descriptor(&d) == expected);
    }
    SECTION("no name")
    {
        d.name = nullptr;
        CHECK(check_descriptor(&d) == expected);
    }
}

TEST_CASE("a descriptor serving no socket kind is refused", "[sdk][abi]")
{
    auto d = good();
    d.socket_kinds = 0;
    CHECK(check_descriptor(&d) == "its descriptor serves no socket kind");
    SECTION("unknown bits alone do not count as a kind")
    {
        d.socket_kinds = 0x4u | 0x80000000u;
        CHECK(check_descriptor(&d) == "its descriptor serves no socket kind");
    }
}

// ---- descriptors of each minor version, and the host's copy of them ----------------------------------------

namespace {

void not_zero(void*, ringd_conn*, int) {}

// A descriptor followed in memory by non-zero bytes, as a 1.0 plugin's may be: what lies past struct_size is
// not the plugin's descriptor.
struct DescriptorInMemory {
    ringd_plugin_descriptor d = good();
    unsigned char after[64];
    DescriptorInMemory() { std::memset(after, 0x5a, sizeof after); }
};

} // namespace

TEST_CASE("descriptors of ABI 1.0 and 1.1 sizes are accepted; smaller ones are not", "[sdk][abi]")
{
    auto d = good();
    d.struct_size = uint32_t(offsetof(ringd_plugin_descriptor, abi_minor)); // what the 1.0 header's sizeof was
    CHECK(d.struct_size == abi1_size);
    CHECK(check_descriptor(&d).empty());
    d.struct_size = sizeof(ringd_plugin_descriptor);
    d.abi_minor = 1;
    CHECK(check_descriptor(&d).empty());
    d.struct_size = uint32_t(abi1_size - 8);
    CHECK(check_descriptor(&d) == "its descriptor is too small (struct_size " + std::to_string(abi1_size - 8) + ")");
}

TEST_CASE("the host's copy of a descriptor holds only what the plugin's struct_size covers", "[sdk][abi]")
{
    using ringd::plugin_host::PluginLibrary;
    static DescriptorInMemory plugin; // static: the library keeps the pointer for its name
    plugin.d.on_connect = &not_zero;
    plugin.d.abi_minor = 1;
    SECTION("a 1.0 descriptor: every 1.1 field zero, whatever follows it in memory")
    {
        plugin.d.struct_size = uint32_t(abi1_size);
        std::memset(reinterpret_cast<unsigned char*>(&plugin.d) + abi1_size, 0x5a, sizeof plugin.d - abi1_size);
        auto lib = PluginLibrary::builtin("v10", &plugin.d);
        const ringd_plugin_descriptor& copy = lib->descriptor();
        CHECK(copy.struct_size == sizeof(ringd_plugin_descriptor));
        CHECK(copy.create == plugin.d.create);
        CHECK(copy.abi_minor == 0);
        CHECK(copy.on_connect == nullptr);
        CHECK(copy.on_handover == nullptr);
        CHECK(lib->abi() == "1.0");
    }
    SECTION("a 1.1 descriptor: all of it")
    {
        plugin.d.struct_size = sizeof(ringd_plugin_descriptor);
        auto lib = PluginLibrary::builtin("v11", &plugin.d);
        CHECK(lib->descriptor().abi_minor == 1);
        CHECK(lib->descriptor().on_connect == &not_zero);
        CHECK(lib->abi() == "1.1");
    }
    SECTION("a struct_size that ends inside a callback pointer leaves that callback NULL")
    {
        plugin.d.struct_size = uint32_t(offsetof(ringd_plugin_descriptor, on_connect) + 4);
        auto lib = PluginLibrary::builtin("cut", &plugin.d);
        CHECK(lib->descriptor().abi_minor == 1);
        CHECK(lib->descriptor().on_connect == nullptr);
    }
}
