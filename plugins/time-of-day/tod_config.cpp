// time-of-day config validation: see tod_config.hpp.
#include "tod_config.hpp"

#include "common/config_mapping.hpp"
#include "common/config_scalar.hpp"

#include <optional>
#include <ringd/plugin.hpp>
#include <stdexcept>

namespace ringd::tod {

using plugin_common::scalar_text;

namespace {

constexpr const char* not_a_mapping = "expected a mapping of time-of-day options (format, timezone, protocol)";

TimeZone parse_zone(const std::string& name, const std::filesystem::path& zoneinfo_dir)
{
    if (name == "local") return TimeZone::local(zoneinfo_dir);
    if (name == "UTC") return TimeZone::utc();
    try {
        return TimeZone::named(name, zoneinfo_dir);
    } catch (const TimeZoneError& e) {
        throw ConfigError("timezone", std::string(e.what()) + "; expected local, UTC or an IANA zone name");
    }
}

} // namespace

std::string Config::reply(Instant t) const
{
    TimeFormat::SecondCache cache;
    return reply(t, cache);
}

std::string Config::reply(Instant t, TimeFormat::SecondCache& cache) const
{
    if (protocol == Protocol::rfc868) {
        const auto bytes = rfc868_bytes(t.seconds);
        return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
    }
    return format.format(t, zone, cache);
}

Config parse_config(std::string_view yaml, const std::filesystem::path& zoneinfo_dir)
{
    std::optional<std::string> format;
    std::optional<std::string> zone;
    Config config;
    for (const auto& [key, value] : plugin_common::read_config_mapping(yaml, not_a_mapping)) {
        if (key == "format") {
            format = scalar_text(value, key, "a strftime format string (plus %f for microseconds)");
        } else if (key == "timezone") {
            zone = scalar_text(value, key, "local, UTC or an IANA zone name like Asia/Shanghai");
        } else if (key == "protocol") {
            const std::string protocol = scalar_text(value, key, "text or rfc868");
            if (protocol == "text") {
                config.protocol = Config::Protocol::text;
            } else if (protocol == "rfc868") {
                config.protocol = Config::Protocol::rfc868;
            } else {
                throw ConfigError(key, "expected text or rfc868, got \"" + protocol + "\"");
            }
        } else {
            throw ConfigError(key, "unknown key \"" + key + "\"; expected format, timezone or protocol");
        }
    }

    if (config.protocol == Config::Protocol::rfc868) {
        // RFC 868 is always UTC seconds: a format or zone would be silently ignored, so refuse it instead.
        if (format) throw ConfigError("format", "not used with protocol: rfc868 (binary UTC seconds); remove it");
        if (zone) throw ConfigError("timezone", "not used with protocol: rfc868 (binary UTC seconds); remove it");
        return config;
    }
    if (format) {
        try {
            config.format = TimeFormat(*format);
        } catch (const std::invalid_argument& e) {
            throw ConfigError("format", e.what());
        }
    }
    config.zone = parse_zone(zone.value_or("local"), zoneinfo_dir);
    return config;
}

} // namespace ringd::tod
