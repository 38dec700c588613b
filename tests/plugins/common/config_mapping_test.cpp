// read_config_mapping (plugins/common/config_mapping.hpp): which documents are a mapping of options, and the
// key and message of the ConfigError for every other one.
#include "common/config_mapping.hpp"

#include <catch2/catch.hpp>
#include <ringd/plugin.hpp>

using ringd::plugin_common::ConfigOption;
using ringd::plugin_common::read_config_mapping;

namespace {

const std::string not_a_mapping = "expected a mapping of test options";

// Reads `yaml`, expecting a ConfigError; returns "key: message".
std::string error_of(const std::string& yaml)
{
    try {
        (void)read_config_mapping(yaml, not_a_mapping);
    } catch (const ringd::ConfigError& e) {
        return e.key() + ": " + e.what();
    }
    return "(accepted)";
}

// The option names, in the order read_config_mapping gave them.
std::vector<std::string> keys_of(const std::vector<ConfigOption>& options)
{
    std::vector<std::string> keys;
    for (const ConfigOption& option : options)
        keys.push_back(option.key);
    return keys;
}

} // namespace

TEST_CASE("an empty or null config has no options", "[config_mapping]")
{
    // The host hands over "{}" when a listener has no config:, but a plugin may be driven with any of these.
    for (const char* yaml : {"", "{}", "~", "null", "# only a comment\n", "---\n"}) {
        INFO("config: " << yaml);
        CHECK(read_config_mapping(yaml, not_a_mapping).empty());
    }
}

TEST_CASE("options come in document order with their values untouched", "[config_mapping]")
{
    const auto options = read_config_mapping("zeta: 1\nalpha: [a, b]\nmid: {x: y}\nempty:\n", not_a_mapping);
    CHECK(keys_of(options) == std::vector<std::string>{"zeta", "alpha", "mid", "empty"});
    REQUIRE(options.size() == 4);
    CHECK(options[0].value.Scalar() == "1");
    CHECK(options[1].value.IsSequence());
    CHECK(options[1].value.size() == 2);
    CHECK(options[2].value["x"].Scalar() == "y");
    CHECK(options[3].value.IsNull());
    // Flow style, and names YAML would read as numbers or booleans, are names like any other.
    CHECK(keys_of(read_config_mapping("{1: a, true: b, 'quoted key': c}", not_a_mapping)) ==
          std::vector<std::string>{"1", "true", "quoted key"});
}

TEST_CASE("text that is not YAML names the problem", "[config_mapping]")
{
    const std::string error = error_of("{format: ");
    CHECK_THAT(error, Catch::StartsWith(": config is not valid YAML: "));
    // yaml-cpp's own description follows, so the user learns what is wrong and where.
    CHECK_THAT(error, Catch::Contains("end of map flow not found"));
    CHECK_THAT(error_of("a: [1, 2"), Catch::StartsWith(": config is not valid YAML: "));
    CHECK_THAT(error_of("a: b\n c: d\n"), Catch::StartsWith(": config is not valid YAML: "));
}

TEST_CASE("a document that is not a mapping gets the plugin's own message", "[config_mapping]")
{
    CHECK(error_of("- format") == ": expected a mapping of test options");
    CHECK(error_of("[1, 2]") == ": expected a mapping of test options");
    CHECK(error_of("just text") == ": expected a mapping of test options");
    CHECK(error_of("42") == ": expected a mapping of test options");
}

TEST_CASE("an option name must be a string", "[config_mapping]")
{
    CHECK(error_of("[a]: b") == ": expected option names to be strings");
    CHECK(error_of("{[a, b]: upper}") == ": expected option names to be strings");
    CHECK(error_of("? {x: 1}\n: y\n") == ": expected option names to be strings");
    // A null name is not the string "null" (which is what yaml-cpp's as<std::string>() would make of it).
    CHECK(error_of("~: x") == ": expected option names to be strings");
    CHECK(error_of("good: 1\n[bad]: 2\n") == ": expected option names to be strings");
}
