// The built echo-upper.so in the plugin test kit (ringd/testkit.hpp): the descriptor, create() accepting and
// rejecting configs, and the echo itself however the input is split. Every rejection must be a
// ringd::ConfigError, so the host gets the plugin's words (and the key at fault), never a bare yaml-cpp message.
#include <catch2/catch.hpp>
#include <ringd/testkit.hpp>

#ifndef ECHO_UPPER_PLUGIN
#error "ECHO_UPPER_PLUGIN must name the built echo-upper.so"
#endif

using ringd::testkit::ConfigError;
using ringd::testkit::Kit;
using ringd::testkit::Plugin;

namespace {

const Plugin& plugin()
{
    static const Plugin p = Plugin::load(ECHO_UPPER_PLUGIN);
    return p;
}

// create() with `yaml`; returns "key: message" as the host would get them, or "(accepted)".
std::string error_of(const std::string& yaml)
{
    try {
        Kit kit(plugin(), yaml);
        return "(accepted)";
    } catch (const ConfigError& e) {
        return e.key() + ": " + e.what();
    }
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

TEST_CASE("upper-cases ASCII letters only, in any segmentation; none echoes as is", "[echo]")
{
    const std::string input = "Hello, w\xc3\xb6rld! 123\n";
    const std::string upper = "HELLO, W\xc3\xb6RLD! 123\n";
    Kit kit(plugin(), "transform: upper");
    auto whole = kit.open();
    whole.feed(input);
    CHECK(whole.take_output() == upper);
    auto bytewise = kit.open();
    bytewise.feed_bytewise(input);
    CHECK(bytewise.take_output() == upper);
    auto split = kit.open();
    split.feed_split(input, {3, 7, 1});
    CHECK(split.take_output() == upper);
    // The peer's FIN: plugin.hpp's default closes after flushing.
    split.peer_shutdown();
    CHECK(split.closed());
    CHECK(split.fin_sent());
    CHECK(split.close_reason() == RINGD_CLOSE_PEER);

    Kit plain(plugin(), "transform: none");
    auto c = plain.open();
    c.feed(input);
    CHECK(c.take_output() == input);
}
