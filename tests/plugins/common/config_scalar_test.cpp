// scalar_text (plugins/common/config_scalar.hpp): the text of a scalar value, or a ConfigError naming the key.
#include "common/config_scalar.hpp"

#include <catch2/catch.hpp>
#include <ringd/plugin.hpp>

using ringd::plugin_common::scalar_text;

namespace {

// The value of `option` in the one-option mapping `yaml`.
YAML::Node value_of(const std::string& yaml, const std::string& option)
{
    return YAML::Load(yaml)[option];
}

// scalar_text of `option`'s value, expecting a ConfigError; returns "key: message".
std::string error_of(const std::string& yaml, const std::string& option)
{
    try {
        (void)scalar_text(value_of(yaml, option), option, "upper or none");
    } catch (const ringd::ConfigError& e) {
        return e.key() + ": " + e.what();
    }
    return "(accepted)";
}

} // namespace

TEST_CASE("a scalar's text is returned as written", "[config_scalar]")
{
    CHECK(scalar_text(value_of("transform: upper", "transform"), "transform", "upper or none") == "upper");
    CHECK(scalar_text(value_of("n: 0042", "n"), "n", "a number") == "0042");
    CHECK(scalar_text(value_of("s: ''", "s"), "s", "text").empty());
    CHECK(scalar_text(value_of("s: 'a: b'", "s"), "s", "text") == "a: b");
}

TEST_CASE("anything but a scalar names the key and what was expected", "[config_scalar]")
{
    CHECK(error_of("transform: [upper]", "transform") == "transform: expected upper or none");
    CHECK(error_of("transform: {a: b}", "transform") == "transform: expected upper or none");
    // `transform:` with nothing after it is null, not the empty string.
    CHECK(error_of("transform:", "transform") == "transform: expected upper or none");
    CHECK(error_of("rate_limit.burst: [1]", "rate_limit.burst") == "rate_limit.burst: expected upper or none");
}
