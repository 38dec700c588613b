// The command line (CLI11): one subcommand per mode, each with the options that mode uses.
#pragma once

#include "options.hpp"

#include <optional>

namespace ringd_bench {

// Parses and validates argv. On --help or a usage error prints to stdout/stderr and returns the exit code
// in `exit_code` with no Options.
[[nodiscard]] std::optional<Options> parse_command_line(int argc, char** argv, int& exit_code);

} // namespace ringd_bench
