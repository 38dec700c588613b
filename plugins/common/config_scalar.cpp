// One option's value as a single piece of text: see config_scalar.hpp.
#include "common/config_scalar.hpp"

#include <ringd/plugin.hpp>

namespace ringd::plugin_common {

std::string scalar_text(const YAML::Node& value, const std::string& key, const std::string& expected)
{
    if (!value.IsScalar()) throw ConfigError(key, "expected " + expected);
    return value.Scalar();
}

} // namespace ringd::plugin_common
