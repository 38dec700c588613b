// Durations ("60s", "500ms", "0") and byte sizes ("1MiB", "64KiB", "4096") as written in ringd.yaml.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace ringd::config {

// Accepted: a non-negative integer followed by ms, s, m or h; a bare 0. Throws ParseError otherwise.
[[nodiscard]] std::chrono::milliseconds parse_duration(std::string_view text);

// Accepted: a non-negative integer, optionally followed by B, KiB, MiB, GiB (powers of 1024) or
// kB, MB, GB (powers of 1000). Overflow is an error. Throws ParseError otherwise.
[[nodiscard]] uint64_t parse_size(std::string_view text);

} // namespace ringd::config
