// Durations, byte sizes and file modes as written in ringd.yaml ("60s", "1MiB", "0660"). Deliberately strict: no
// spaces, no signs, no fractions and case-sensitive units, so that "1mb" or "1.5s" is an error rather than a guess.
#include "config/units.hpp"

#include "config/endpoint.hpp" // ParseError

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <optional>
#include <string>
#include <utility>

namespace ringd::config {
namespace {

struct Unit {
    std::string_view suffix;
    uint64_t factor;
};

constexpr std::array duration_units{Unit{"ms", 1}, Unit{"s", 1'000}, Unit{"m", 60'000}, Unit{"h", 3'600'000}};

constexpr std::array size_units{
    Unit{"", 1},
    Unit{"B", 1},
    Unit{"KiB", uint64_t{1} << 10},
    Unit{"MiB", uint64_t{1} << 20},
    Unit{"GiB", uint64_t{1} << 30},
    Unit{"kB", 1'000},
    Unit{"MB", 1'000'000},
    Unit{"GB", 1'000'000'000},
};

std::string quoted(std::string_view text)
{
    return '"' + std::string(text) + '"';
}

// 1,000,000 a second is one per microsecond, as fine as anything that accepts connections can tell apart.
constexpr uint64_t max_rate_count = 1'000'000;

struct Number {
    uint64_t value = 0;
    std::string_view suffix;
};

// Splits "64KiB" into 64 and "KiB". Throws `invalid` when the text does not start with a digit (this is also
// what rejects "-5s" and "+5s"), and a "too large" error when the digits alone overflow.
Number split_number(std::string_view text, const std::string& invalid, std::string_view kind)
{
    if (text.empty() || text.front() < '0' || text.front() > '9') throw ParseError(invalid);
    Number number;
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, number.value);
    if (ec == std::errc::result_out_of_range)
        throw ParseError(std::string(kind) + ' ' + quoted(text) + " is too large");
    number.suffix = std::string_view(rest, static_cast<size_t>(end - rest));
    return number;
}

// value * factor, or nullopt when that exceeds `max`.
std::optional<uint64_t> scaled(uint64_t value, uint64_t factor, uint64_t max)
{
    if (value != 0 && factor > max / value) return std::nullopt;
    return value * factor;
}

} // namespace

std::chrono::milliseconds parse_duration(std::string_view text)
{
    const std::string invalid = "expected a duration like 60s, 500ms or 0, got " + quoted(text);
    const Number number = split_number(text, invalid, "duration");
    // A bare number is only unambiguous when it is 0: "60" could mean seconds or milliseconds.
    if (number.suffix.empty()) {
        if (number.value != 0) throw ParseError(invalid + " (a unit is required unless the value is 0)");
        return std::chrono::milliseconds{0};
    }
    // Deadlines are steady_clock time points in nanoseconds, which overflow about 292 years after boot: a
    // larger timeout wrapped round and closed every connection at once. Nothing ringd times needs a year.
    constexpr uint64_t max_ms = uint64_t(365) * 24 * 3600 * 1000;
    for (const Unit& unit : duration_units) {
        if (unit.suffix != number.suffix) continue;
        const auto ms = scaled(number.value, unit.factor, max_ms);
        if (!ms) throw ParseError("duration " + quoted(text) + " is too large (at most 8760h, a year)");
        return std::chrono::milliseconds{static_cast<std::chrono::milliseconds::rep>(*ms)};
    }
    throw ParseError(invalid);
}

uint64_t parse_size(std::string_view text)
{
    const std::string invalid = "expected a size like 1MiB, 64KiB or 4096, got " + quoted(text);
    const Number number = split_number(text, invalid, "size");
    for (const Unit& unit : size_units) {
        if (unit.suffix != number.suffix) continue;
        const auto bytes = scaled(number.value, unit.factor, std::numeric_limits<uint64_t>::max());
        if (!bytes) throw ParseError("size " + quoted(text) + " is too large");
        return *bytes;
    }
    throw ParseError(invalid);
}

uint32_t parse_file_mode(std::string_view text)
{
    std::string_view digits = text;
    if (digits.size() == 4 && digits.front() == '0') digits.remove_prefix(1);
    const bool octal =
        digits.size() == 3 && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '7'; });
    if (!octal) throw ParseError("expected permission bits in octal like 0660 or 600, got " + quoted(text));
    uint32_t mode = 0;
    for (const char c : digits)
        mode = mode * 8 + uint32_t(c - '0');
    return mode;
}

Rate parse_rate(std::string_view text)
{
    const std::string invalid = "expected a rate like 50/s, 3000/m or 100/h, got " + quoted(text);
    const Number number = split_number(text, invalid, "rate");
    constexpr std::array per_units{std::pair{std::string_view("/s"), std::chrono::seconds(1)},
                                   std::pair{std::string_view("/m"), std::chrono::seconds(60)},
                                   std::pair{std::string_view("/h"), std::chrono::seconds(3600)}};
    for (const auto& [suffix, per] : per_units) {
        if (suffix != number.suffix) continue;
        if (number.value < 1 || number.value > max_rate_count)
            throw ParseError("expected a rate from 1 to 1000000 per unit, got " + quoted(text));
        return Rate{static_cast<uint32_t>(number.value), per};
    }
    throw ParseError(invalid);
}

} // namespace ringd::config
