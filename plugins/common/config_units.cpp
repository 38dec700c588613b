// Durations, byte sizes and whole numbers in plugin config options.
#include "common/config_units.hpp"

#include <charconv>
#include <limits>
#include <stdexcept>
#include <string>

namespace ringd::plugin_common {

namespace {

// Splits "250ms" into its digits and its unit.
std::pair<std::string_view, std::string_view> number_and_unit(std::string_view text)
{
    std::size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9')
        ++digits;
    return {text.substr(0, digits), text.substr(digits)};
}

} // namespace

std::optional<uint64_t> whole_number(std::string_view digits)
{
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    return value;
}

std::chrono::milliseconds parse_duration(std::string_view text)
{
    const std::string expected = "expected a duration like 500ms, 10s, 2m or 1h, got \"" + std::string(text) + "\"";
    if (text == "0") return std::chrono::milliseconds(0);
    const auto [digits, unit] = number_and_unit(text);
    uint64_t scale = 0;
    if (unit == "ms") scale = 1;
    if (unit == "s") scale = 1000;
    if (unit == "m") scale = 60'000;
    if (unit == "h") scale = 3'600'000;
    const auto n = whole_number(digits);
    if (scale == 0 || !n) throw std::invalid_argument(expected);
    if (*n > uint64_t(std::numeric_limits<int64_t>::max()) / scale) throw std::invalid_argument("duration too large");
    return std::chrono::milliseconds(static_cast<int64_t>(*n * scale));
}

uint64_t parse_size(std::string_view text)
{
    const std::string expected = "expected a size like 4096, 64KiB or 1MiB, got \"" + std::string(text) + "\"";
    const auto [digits, unit] = number_and_unit(text);
    uint64_t scale = 0;
    if (unit.empty() || unit == "B") scale = 1;
    if (unit == "KiB") scale = 1ull << 10;
    if (unit == "MiB") scale = 1ull << 20;
    if (unit == "GiB") scale = 1ull << 30;
    if (unit == "kB") scale = 1000;
    if (unit == "MB") scale = 1000 * 1000;
    if (unit == "GB") scale = 1000 * 1000 * 1000;
    const auto n = whole_number(digits);
    if (scale == 0 || !n) throw std::invalid_argument(expected);
    if (*n > std::numeric_limits<uint64_t>::max() / scale) throw std::invalid_argument("size too large");
    return *n * scale;
}

} // namespace ringd::plugin_common
