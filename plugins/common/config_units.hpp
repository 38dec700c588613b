// Durations, byte sizes and whole numbers as the shipped plugins' `config:` options write them, with the same
// spellings as ringd.yaml itself ("10s", "64KiB"), so an operator never has to learn two notations.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ringd::plugin_common {

// Digits only, no sign, no spaces; nullopt for anything else (or an overflow of uint64_t).
[[nodiscard]] std::optional<uint64_t> whole_number(std::string_view digits);

// "10s", "500ms", "2m", "1h", or "0". Throws std::invalid_argument saying what was expected.
[[nodiscard]] std::chrono::milliseconds parse_duration(std::string_view text);

// "4096", "4096B", "64KiB", "1MiB", "1GiB" (powers of 1024) or "64kB", "1MB", "1GB" (powers of 1000). Throws
// std::invalid_argument saying what was expected.
[[nodiscard]] uint64_t parse_size(std::string_view text);

} // namespace ringd::plugin_common
