// The built echo-upper.so through its exported C ABI only, with a fake host (tests/support/fake_host.hpp): the
// descriptor, and create() accepting and rejecting configs. Every rejection must be a ringd::ConfigError, so
// the host gets the plugin's words (and the key at fault), never a bare yaml-cpp message.
#include "support/fake_host.hpp"

#include <catch2/catch.hpp>

#ifndef ECHO_UPPER_PLUGIN
#error "ECHO_UPPER_PLUGIN must name the built echo-upper.so"
#endif

namespace {

const fake::Plugin& plugin()
{
    static const fake::Plugin p(ECHO_UPPER_PLUGIN);
    return p;
}

// create() with `yaml`, expecting a refusal; returns "key: message" as the host would get them.
std::string error_of(const std::string& yaml)
{
    fake::Recorder log;
    fake::Plugin::Instance instance;
    plugin().create(instance, yaml, RINGD_KIND_STREAM, log);
    if (instance.rc == 0) return "(accepted)";
    return std::string(instance.error.key) + ": " + instance.error.message;
}

} // namespace

TEST_CASE("descriptor", "[abi]")
{
    const ringd_plugin_descriptor& d = plugin().descriptor();
    CHECK(d.abi_version == RINGD_PLUGIN_ABI_VERSION);
    CHECK(std::string(d.name) == "echo-upper");
    CHECK(d.socket_kinds == RINGD_KIND_STREAM);
    CHECK(d.create != nullptr);
    CHECK(d.destroy != nullptr);
}

TEST_CASE("create() accepts no config and both transforms", "[abi]")
{
    for (const char* yaml : {"{}", "", "transform: upper", "transform: none"}) {
        INFO("config: " << yaml);
        CHECK(error_of(yaml) == "(accepted)");
    }
}

TEST_CASE("create() rejects bad config with the key and what was expected", "[abi]")
{
    CHECK(error_of("colour: blue") == "colour: unknown key (known: transform)");
    CHECK(error_of("transform: lower") == "transform: expected upper or none, got \"lower\"");
    CHECK(error_of("transform: [upper]") == "transform: expected upper or none");
    CHECK(error_of("transform:") == "transform: expected upper or none");
    CHECK(error_of("[transform]") == ": expected a mapping");
}

TEST_CASE("create() reports YAML it cannot read as a config error", "[abi]")
{
    // yaml-cpp's exceptions used to escape create(): the SDK passed on their bare message ("yaml-cpp: error at
    // line 1, column 1: ..."), whose position is in the re-emitted config text, not in the user's file.
    CHECK_THAT(error_of("{transform: "), Catch::StartsWith(": config is not valid YAML: "));
    CHECK(error_of("[transform]: upper") == ": expected option names to be strings");
    CHECK(error_of("{? {a: 1} : upper}") == ": expected option names to be strings");
}
