// Reading a plugin's `config:` text as a mapping of named options: see config_mapping.hpp.
#include "common/config_mapping.hpp"

#include <ringd/plugin.hpp>

namespace ringd::plugin_common {

std::vector<ConfigOption> read_config_mapping(std::string_view yaml, const std::string& not_a_mapping)
{
    YAML::Node root;
    try {
        root = YAML::Load(std::string(yaml));
    } catch (const YAML::Exception& e) {
        // Caught here rather than left to the SDK, which would pass on yaml-cpp's bare "yaml-cpp: error at line
        // 1, column 5: ..." without saying that it is about this listener's config: at all.
        throw ConfigError("", std::string("config is not valid YAML: ") + e.what());
    }
    if (!root.IsNull() && !root.IsMap()) throw ConfigError("", not_a_mapping);

    std::vector<ConfigOption> options;
    options.reserve(root.size());
    for (const auto& entry : root) {
        // Checked rather than read with as<std::string>(), which throws yaml-cpp's "bad conversion" for a list
        // or mapping key and quietly turns a null key into the string "null".
        if (!entry.first.IsScalar()) throw ConfigError("", "expected option names to be strings");
        options.push_back({entry.first.Scalar(), entry.second});
    }
    return options;
}

} // namespace ringd::plugin_common
