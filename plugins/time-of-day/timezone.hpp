// Time zones without the C library's process-global TZ state: a reader for compiled TZif files (RFC 8536, as
// installed under /usr/share/zoneinfo) and for the POSIX TZ rule strings found in their footers.
//
// Why not localtime_r/tzset: TZ is process-global, setenv is not thread safe, and localtime_r serialises on
// glibc's tzset lock; libstdc++ 12 has no <chrono> tzdb. A TimeZone is immutable once built, so worker
// threads share one without locking.
#pragma once

#include <cstdint>
#include <ctime>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::tod {

// A zone could not be found or its data is malformed; the message says which and why.
class TimeZoneError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The local-time rules in force at one instant.
struct LocalTimeType {
    int32_t utc_offset = 0; // seconds east of UTC
    bool is_dst = false;
    std::string abbreviation; // "CST", "+0545", ...
};

class TimeZone {
public:
    // Universal time, "UTC", with no file needed.
    [[nodiscard]] static TimeZone utc();

    // An IANA name such as "Asia/Shanghai", read from zoneinfo_dir. Only names made of letters, digits and
    // "/_+-." are accepted, without "." or ".." components, so a name never escapes the directory.
    [[nodiscard]] static TimeZone named(std::string_view name, const std::filesystem::path& zoneinfo_dir);

    // The zone the C library would use as local time, resolved now (call it at create(), not per request):
    // $TZ if set (":Name", "Name", an absolute TZif path, or a POSIX rule like "CET-1CEST,M3.5.0,M10.5.0/3";
    // empty means UTC), else /etc/localtime, else UTC.
    [[nodiscard]] static TimeZone local(const std::filesystem::path& zoneinfo_dir);

    // A TZif image (RFC 8536 versions 1-4), `label` naming it in error messages.
    [[nodiscard]] static TimeZone from_tzif(std::string_view data, const std::string& label);

    // A POSIX TZ rule string, e.g. "EST5EDT,M3.2.0,M11.1.0" or "<+0545>-5:45".
    [[nodiscard]] static TimeZone from_posix(std::string_view rule);

    // The zoneinfo directory: $TZDIR if set and non-empty (as glibc does), else /usr/share/zoneinfo.
    [[nodiscard]] static std::filesystem::path default_zoneinfo_dir();

    // What was loaded, for log messages ("Asia/Shanghai", "UTC", "/etc/localtime", ...).
    [[nodiscard]] const std::string& name() const { return name_; }

    // The rules in force at `unix_seconds`. The reference stays valid for the TimeZone's life.
    [[nodiscard]] const LocalTimeType& type_at(int64_t unix_seconds) const;

    // Broken-down local time with tm_gmtoff and tm_zone filled in (tm_zone points into this TimeZone).
    [[nodiscard]] std::tm local_time(int64_t unix_seconds) const;

private:
    TimeZone() = default; // only the factories above build one, so types_ is never empty

    // A POSIX rule date: Jn (julian_no_leap), n (zero_based) or Mm.w.d (month_week_day).
    struct RuleDate {
        enum class Kind { julian_no_leap, zero_based, month_week_day } kind = Kind::zero_based;
        int day = 0;         // Jn: 1..365; n: 0..365; Mm.w.d: weekday 0 (Sunday)..6
        int month = 0;       // Mm.w.d only: 1..12
        int week = 0;        // Mm.w.d only: 1..5, 5 meaning the last
        int32_t time = 7200; // seconds after local midnight, -167h..167h
    };
    // The rule of a POSIX TZ string, in force after the last transition of a TZif file.
    struct PosixRule {
        size_t std_type = 0;
        size_t dst_type = 0;
        bool has_dst = false;
        RuleDate start; // standard -> daylight, in standard local time
        RuleDate end;   // daylight -> standard, in daylight local time
    };

    [[nodiscard]] size_t rule_type_at(int64_t unix_seconds) const;
    [[nodiscard]] static int64_t transition_utc(int year, const RuleDate& date, int32_t utc_offset);
    void parse_posix_into(std::string_view rule);

    std::string name_;
    std::vector<LocalTimeType> types_;
    std::vector<int64_t> transitions_;      // ascending UTC seconds
    std::vector<uint8_t> transition_types_; // index into types_ for each transition
    bool has_rule_ = false;
    PosixRule rule_;
};

} // namespace ringd::tod
