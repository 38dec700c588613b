// A plugin's `config:` text read as a mapping of named options: the part every shipped plugin does the same
// way before it looks at its own keys, so that all of them report the same problems with the same words.
#pragma once

#include <string>
#include <string_view>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace ringd::plugin_common {

struct ConfigOption {
    std::string key;  // the option's name, a plain scalar
    YAML::Node value; // whatever the config gave it, for the plugin to check
};

// The top-level options of `yaml`, in document order. An empty or null document has none (every option takes
// its default). Throws ringd::ConfigError with an empty key (the config as a whole) when
//   - the text is not YAML: "config is not valid YAML: " and yaml-cpp's own description;
//   - the document is neither null nor a mapping: `not_a_mapping`, the plugin's own words for what it expects;
//   - an option name is not a scalar (a list, a mapping or nothing): "expected option names to be strings".
[[nodiscard]] std::vector<ConfigOption> read_config_mapping(std::string_view yaml, const std::string& not_a_mapping);

} // namespace ringd::plugin_common
