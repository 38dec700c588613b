// time-of-day's `config:` mapping, strictly validated (keys and defaults: README.md), and the reply it implies.
#pragma once

#include "time_format.hpp"
#include "timezone.hpp"

#include <filesystem>
#include <string>
#include <string_view>

namespace ringd::tod {

inline constexpr std::string_view default_format = "Current time is %Y-%m-%d %H:%M:%S.%f\n";

struct Config {
    enum class Protocol { text, rfc868 };

    Protocol protocol = Protocol::text;
    TimeFormat format{default_format};
    TimeZone zone = TimeZone::utc();

    // What to send for instant `t`: the formatted text, or RFC 868's four bytes.
    [[nodiscard]] std::string reply(Instant t) const;
    // The same, reusing `cache` (one per worker) for the text of the current second.
    [[nodiscard]] std::string reply(Instant t, TimeFormat::SecondCache& cache) const;
};

// Parses the listener's `config:` YAML. Throws ringd::ConfigError with the dotted key at fault and what was
// expected. IANA zone names are looked up in zoneinfo_dir; `timezone: local` (the default) is resolved now.
[[nodiscard]] Config parse_config(std::string_view yaml,
                                  const std::filesystem::path& zoneinfo_dir = TimeZone::default_zoneinfo_dir());

} // namespace ringd::tod
