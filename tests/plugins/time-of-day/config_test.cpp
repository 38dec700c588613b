// time-of-day config validation: accepted configs, and the dotted key plus message of every rejection.
#include "tod_config.hpp"

#include <catch2/catch.hpp>
#include <ringd/plugin.hpp>

using ringd::tod::Config;
using ringd::tod::parse_config;

namespace {

const std::filesystem::path zoneinfo = "/usr/share/zoneinfo";

// Parses `yaml`, expecting a ConfigError; returns "key: message".
std::string error_of(const std::string& yaml)
{
    try {
        (void)parse_config(yaml, zoneinfo);
    } catch (const ringd::ConfigError& e) {
        return e.key() + ": " + e.what();
    }
    return "(accepted)";
}

} // namespace

TEST_CASE("defaults", "[config]")
{
    for (const char* yaml : {"{}", "", "~"}) {
        const Config c = parse_config(yaml, zoneinfo);
        CHECK(c.protocol == Config::Protocol::text);
        CHECK(c.format.source() == ringd::tod::default_format);
    }
    CHECK(parse_config("{}", zoneinfo).reply({1'795'286'655, 5}).starts_with("Current time is 2026-11-"));
}

TEST_CASE("every key", "[config]")
{
    const Config utc = parse_config("format: '%H:%M:%S.%f %Z'\ntimezone: UTC\nprotocol: text", zoneinfo);
    CHECK(utc.reply({1'795'286'655, 5}) == "18:44:15.000005 UTC");
    const Config shanghai = parse_config("{timezone: Asia/Shanghai, format: '%F %T%n'}", zoneinfo);
    CHECK(shanghai.zone.name() == "Asia/Shanghai");
    CHECK(shanghai.reply({1'795'286'655, 5}) == "2026-11-22 02:44:15\n");
    const Config local = parse_config("timezone: local", zoneinfo);
    CHECK(!local.zone.name().empty());
    const Config rfc = parse_config("protocol: rfc868", zoneinfo);
    CHECK(rfc.protocol == Config::Protocol::rfc868);
    CHECK(rfc.reply({0, 999}) == std::string("\x83\xaa\x7e\x80", 4));
}

TEST_CASE("rejections name the key and what was expected", "[config]")
{
    CHECK(error_of("colour: blue") == "colour: unknown key \"colour\"; expected format, timezone or protocol");
    CHECK(error_of("protocol: udp") == "protocol: expected text or rfc868, got \"udp\"");
    CHECK(error_of("protocol: [text]") == "protocol: expected text or rfc868");
    CHECK(error_of("format: [1, 2]").starts_with("format: expected a strftime format string"));
    CHECK(error_of("format:").starts_with("format: expected a strftime format string"));
    CHECK(error_of("format: '%Q'") ==
          "format: unknown conversion \"%Q\": expected a strftime(3) conversion or %f (microseconds)");
    CHECK(error_of("format: ''") == "format: expected a non-empty strftime format");
    CHECK(error_of("timezone: {a: b}").starts_with("timezone: expected local, UTC or an IANA zone name"));
    CHECK(error_of("timezone: Mars/Olympus_Mons").starts_with("timezone: unknown time zone \"Mars/Olympus_Mons\""));
    CHECK(error_of("timezone: Mars/Olympus_Mons").ends_with("expected local, UTC or an IANA zone name"));
    CHECK(error_of("timezone: ../../etc/passwd").starts_with("timezone: \"../../etc/passwd\" is not a time zone"));
    CHECK(error_of("timezone: utc").starts_with("timezone: unknown time zone \"utc\""));
    CHECK(error_of("protocol: rfc868\nformat: '%T'") ==
          "format: not used with protocol: rfc868 (binary UTC seconds); remove it");
    CHECK(error_of("protocol: rfc868\ntimezone: UTC") ==
          "timezone: not used with protocol: rfc868 (binary UTC seconds); remove it");
    CHECK(error_of("- format") == ": expected a mapping of time-of-day options (format, timezone, protocol)");
    CHECK(error_of("just text") == ": expected a mapping of time-of-day options (format, timezone, protocol)");
    CHECK(error_of("{format: ").starts_with(": config is not valid YAML"));
    CHECK(error_of("[a]: b") == ": expected option names to be strings");
}
