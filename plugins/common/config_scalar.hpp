// One option's value as a single piece of text, the form almost every plugin option takes.
#pragma once

#include <string>
#include <yaml-cpp/yaml.h>

namespace ringd::plugin_common {

// The text of `value` when it is a scalar. Otherwise (a list, a mapping, or nothing at all, as in `key:`)
// throws ringd::ConfigError(key, "expected " + expected), e.g. expected = "text or rfc868".
[[nodiscard]] std::string scalar_text(const YAML::Node& value, const std::string& key, const std::string& expected);

} // namespace ringd::plugin_common
