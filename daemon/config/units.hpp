// Durations ("60s", "500ms", "0"), byte sizes ("1MiB", "64KiB", "4096"), file modes ("0660") and rates ("50/s") as
// written in ringd.yaml.
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

// Permission bits in octal, as chmod(1) takes them: three digits ("660") or four with a leading 0 ("0660").
// Always octal, so an unquoted YAML 0660 means what it looks like. Throws ParseError otherwise.
[[nodiscard]] uint32_t parse_file_mode(std::string_view text);

// A rate: a count from 1 to 1,000,000, '/', and s, m or h ("50/s", "3000/m", "1/h"). Throws ParseError otherwise.
struct Rate {
    uint32_t count = 0;
    std::chrono::seconds per{1};
};
[[nodiscard]] Rate parse_rate(std::string_view text);

} // namespace ringd::config
