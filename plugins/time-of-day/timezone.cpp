// TZif (RFC 8536) and POSIX TZ rule reader: see timezone.hpp.
#include "timezone.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>

namespace ringd::tod {

namespace {

namespace chr = std::chrono;

constexpr int64_t seconds_per_day = 86400;
constexpr std::size_t max_tzif_size = 1 << 20;

int64_t floor_div(int64_t a, int64_t b)
{
    const int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Bounds-checked big-endian cursor over a TZif image.
class Reader {
public:
    Reader(std::string_view data, const std::string& label) : data_(data), label_(label) {}

    [[noreturn]] void fail(const std::string& what) const
    {
        throw TimeZoneError("\"" + label_ + "\" is not a valid TZif time zone file: " + what);
    }
    std::string_view take(std::size_t n)
    {
        if (n > data_.size() - pos_) fail("truncated");
        const std::string_view out = data_.substr(pos_, n);
        pos_ += n;
        return out;
    }
    uint8_t u8() { return static_cast<uint8_t>(take(1)[0]); }
    uint32_t u32()
    {
        const std::string_view b = take(4);
        uint32_t v = 0;
        for (const char c : b)
            v = (v << 8) | static_cast<uint8_t>(c);
        return v;
    }
    int64_t time(std::size_t size)
    {
        if (size == 4) return static_cast<int32_t>(u32());
        const uint64_t hi = u32();
        return static_cast<int64_t>((hi << 32) | u32());
    }
    [[nodiscard]] bool at_end() const { return pos_ == data_.size(); }

private:
    std::string_view data_;
    const std::string& label_;
    std::size_t pos_ = 0;
};

struct Counts {
    char version = 0;
    uint32_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

    [[nodiscard]] std::size_t block_size(std::size_t time_size) const
    {
        return std::size_t{timecnt} * time_size + timecnt + std::size_t{typecnt} * 6 + charcnt +
               std::size_t{leapcnt} * (time_size + 4) + isstdcnt + isutcnt;
    }
};

Counts read_header(Reader& in)
{
    if (in.take(4) != "TZif") in.fail("bad magic");
    Counts c;
    c.version = static_cast<char>(in.u8());
    if (c.version != 0 && (c.version < '2' || c.version > '4')) in.fail("unknown version");
    in.take(15);
    c.isutcnt = in.u32();
    c.isstdcnt = in.u32();
    c.leapcnt = in.u32();
    c.timecnt = in.u32();
    c.typecnt = in.u32();
    c.charcnt = in.u32();
    if (c.typecnt == 0 || c.typecnt > 256 || c.charcnt == 0) in.fail("bad type or abbreviation count");
    if ((c.isstdcnt != 0 && c.isstdcnt != c.typecnt) || (c.isutcnt != 0 && c.isutcnt != c.typecnt)) {
        in.fail("bad indicator count");
    }
    // The times of "right/" zones count leap seconds; the clock we format does not.
    if (c.leapcnt != 0) in.fail("leap-second (\"right/\") zones are not supported");
    return c;
}

std::optional<std::string> read_file(const std::filesystem::path& path)
{
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::string data;
    data.resize(max_tzif_size + 1);
    in.read(data.data(), static_cast<std::streamsize>(data.size()));
    data.resize(static_cast<std::size_t>(in.gcount()));
    return data;
}

bool valid_zone_name(std::string_view name)
{
    if (name.empty() || name.size() > 255 || name.front() == '/' || name.back() == '/') return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        std::strchr("/_+-.", c) != nullptr;
        if (!ok) return false;
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        const std::size_t slash = std::min(name.find('/', start), name.size());
        const std::string_view part = name.substr(start, slash - start);
        if (part.empty() || part == "." || part == "..") return false;
        start = slash + 1;
    }
    return true;
}

// Cursor over a POSIX TZ string ("std offset [dst [offset] [,start[/time],end[/time]]]").
class PosixParser {
public:
    explicit PosixParser(std::string_view text) : text_(text) {}

    [[noreturn]] void fail(const std::string& expected) const
    {
        throw TimeZoneError("invalid POSIX TZ rule \"" + std::string(text_) + "\": expected " + expected +
                            " at offset " + std::to_string(pos_));
    }
    [[nodiscard]] bool done() const { return pos_ == text_.size(); }
    [[nodiscard]] char peek() const { return done() ? '\0' : text_[pos_]; }
    bool accept(char c)
    {
        if (peek() != c) return false;
        ++pos_;
        return true;
    }
    void expect(char c)
    {
        if (!accept(c)) fail(std::string("'") + c + "'");
    }
    // "<+0545>" or at least three letters.
    std::string name()
    {
        const std::size_t begin = pos_;
        if (accept('<')) {
            while (!done() && peek() != '>') {
                const char c = peek();
                if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-')) fail("a zone name");
                ++pos_;
            }
            if (pos_ - begin < 4) fail("a zone name of three or more characters");
            const std::string out(text_.substr(begin + 1, pos_ - begin - 1));
            expect('>');
            return out;
        }
        while (std::isalpha(static_cast<unsigned char>(peek())) != 0)
            ++pos_;
        if (pos_ - begin < 3) fail("a zone name of three or more letters");
        return std::string(text_.substr(begin, pos_ - begin));
    }
    int number(int max)
    {
        if (std::isdigit(static_cast<unsigned char>(peek())) == 0) fail("a number");
        int v = 0;
        while (std::isdigit(static_cast<unsigned char>(peek())) != 0) {
            v = v * 10 + (text_[pos_++] - '0');
            if (v > max) fail("a number up to " + std::to_string(max));
        }
        return v;
    }
    // [+-]hh[:mm[:ss]] in seconds; offsets allow hh up to 24, rule times (RFC 8536) up to 167.
    int32_t hms(int max_hours)
    {
        const int sign = accept('-') ? -1 : (accept('+'), 1);
        int32_t v = number(max_hours) * 3600;
        if (accept(':')) {
            v += number(59) * 60;
            if (accept(':')) v += number(59);
        }
        return sign * v;
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

} // namespace

TimeZone TimeZone::utc()
{
    return from_posix("UTC0");
}

std::filesystem::path TimeZone::default_zoneinfo_dir()
{
    const char* dir = std::getenv("TZDIR"); // read on the main thread at create(); never written by ringd
    return (dir != nullptr && *dir != '\0') ? std::filesystem::path(dir) : "/usr/share/zoneinfo";
}

TimeZone TimeZone::named(std::string_view name, const std::filesystem::path& zoneinfo_dir)
{
    const std::string shown(name);
    if (!valid_zone_name(name)) {
        throw TimeZoneError("\"" + shown +
                            "\" is not a time zone name: expected an IANA name like "
                            "\"Europe/Paris\" (letters, digits and /_+-. only, no \".\" or \"..\" parts)");
    }
    const std::optional<std::string> data = read_file(zoneinfo_dir / name);
    if (!data) {
        throw TimeZoneError("unknown time zone \"" + shown + "\" (no zone file of that name in " +
                            zoneinfo_dir.string() + ")");
    }
    TimeZone zone = from_tzif(*data, shown);
    zone.name_ = shown;
    return zone;
}

TimeZone TimeZone::local(const std::filesystem::path& zoneinfo_dir)
{
    const char* env = std::getenv("TZ");
    if (env == nullptr) {
        if (const std::optional<std::string> data = read_file("/etc/localtime")) {
            try {
                TimeZone zone = from_tzif(*data, "/etc/localtime");
                zone.name_ = "/etc/localtime";
                return zone;
            } catch (const TimeZoneError&) {
                // fall through to UTC, as the C library does
            }
        }
        return utc();
    }
    std::string_view tz = env;
    if (!tz.empty() && tz.front() == ':') tz.remove_prefix(1);
    if (tz.empty()) return utc();
    try {
        if (tz.front() == '/') {
            if (const std::optional<std::string> data = read_file(std::string(tz))) {
                TimeZone zone = from_tzif(*data, std::string(tz));
                zone.name_ = std::string(tz);
                return zone;
            }
        } else if (valid_zone_name(tz)) {
            return named(tz, zoneinfo_dir);
        }
    } catch (const TimeZoneError&) {
        // not a usable file: try it as a rule string below
    }
    try {
        return from_posix(tz);
    } catch (const TimeZoneError&) {
        return utc();
    }
}

TimeZone TimeZone::from_tzif(std::string_view data, const std::string& label)
{
    Reader in(data, label);
    if (data.size() > max_tzif_size) in.fail("larger than 1 MiB");
    Counts counts = read_header(in);
    std::size_t time_size = 4;
    if (counts.version != 0) { // skip the 32-bit block: the 64-bit one that follows is authoritative
        in.take(counts.block_size(4));
        counts = read_header(in);
        time_size = 8;
    }

    TimeZone zone;
    zone.name_ = label;
    for (uint32_t i = 0; i < counts.timecnt; ++i) {
        const int64_t t = in.time(time_size);
        if (!zone.transitions_.empty() && t <= zone.transitions_.back()) in.fail("transitions out of order");
        zone.transitions_.push_back(t);
    }
    for (uint32_t i = 0; i < counts.timecnt; ++i) {
        const uint8_t type = in.u8();
        if (type >= counts.typecnt) in.fail("bad transition type");
        zone.transition_types_.push_back(type);
    }
    struct RawType {
        int32_t utoff;
        bool isdst;
        uint8_t abbr;
    };
    std::vector<RawType> raw;
    for (uint32_t i = 0; i < counts.typecnt; ++i) {
        const auto utoff = static_cast<int32_t>(in.u32());
        const uint8_t isdst = in.u8();
        const uint8_t abbr = in.u8();
        if (utoff == INT32_MIN || isdst > 1 || abbr >= counts.charcnt) in.fail("bad local time type");
        raw.push_back({utoff, isdst == 1, abbr});
    }
    const std::string_view chars = in.take(counts.charcnt);
    if (chars.back() != '\0') in.fail("unterminated abbreviations");
    for (const RawType& r : raw)
        zone.types_.push_back({r.utoff, r.isdst, std::string(chars.substr(r.abbr).data())});
    in.take(counts.isstdcnt + counts.isutcnt); // only meaningful for POSIX rules without their own, i.e. never

    if (counts.version != 0) {
        if (in.take(1) != "\n") in.fail("missing footer");
        std::string footer;
        for (char c = static_cast<char>(in.u8()); c != '\n'; c = static_cast<char>(in.u8()))
            footer.push_back(c);
        if (!footer.empty()) zone.parse_posix_into(footer);
    }
    return zone;
}

TimeZone TimeZone::from_posix(std::string_view rule)
{
    TimeZone zone;
    zone.name_ = std::string(rule);
    zone.parse_posix_into(rule);
    return zone;
}

void TimeZone::parse_posix_into(std::string_view rule)
{
    PosixParser p(rule);
    // POSIX offsets are hours *west* of UTC ("EST5"); LocalTimeType stores seconds east.
    std::string std_name = p.name();
    const int32_t std_offset = -p.hms(24);
    PosixRule parsed;
    parsed.std_type = types_.size();
    std::vector<LocalTimeType> added{{std_offset, false, std::move(std_name)}};
    if (!p.done()) {
        std::string dst_name = p.name();
        const int32_t dst_offset = (p.done() || p.peek() == ',') ? std_offset + 3600 : -p.hms(24);
        added.push_back({dst_offset, true, std::move(dst_name)});
        parsed.dst_type = parsed.std_type + 1;
        parsed.has_dst = true;
        // Without dates POSIX leaves the rule to the implementation; glibc and tzcode use the US rule.
        parsed.start = {RuleDate::Kind::month_week_day, 0, 3, 2, 7200};
        parsed.end = {RuleDate::Kind::month_week_day, 0, 11, 1, 7200};
        if (!p.done()) {
            for (RuleDate* date : {&parsed.start, &parsed.end}) {
                p.expect(',');
                if (p.accept('J')) {
                    *date = {RuleDate::Kind::julian_no_leap, p.number(365), 0, 0, 7200};
                    if (date->day < 1) p.fail("a day 1..365 after J");
                } else if (p.accept('M')) {
                    date->kind = RuleDate::Kind::month_week_day;
                    date->month = p.number(12);
                    p.expect('.');
                    date->week = p.number(5);
                    p.expect('.');
                    date->day = p.number(6);
                    if (date->month < 1 || date->week < 1) p.fail("Mm.w.d with m 1..12 and w 1..5");
                } else {
                    *date = {RuleDate::Kind::zero_based, p.number(365), 0, 0, 7200};
                }
                date->time = p.accept('/') ? p.hms(167) : 7200;
            }
        }
    }
    if (!p.done()) p.fail("the end of the rule");
    types_.insert(types_.end(), std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()));
    rule_ = parsed;
    has_rule_ = true;
}

int64_t TimeZone::transition_utc(int year, const RuleDate& date, int32_t utc_offset)
{
    const chr::year y{year};
    chr::sys_days day;
    switch (date.kind) {
    case RuleDate::Kind::julian_no_leap: // Jn counts 1..365 and never Feb 29
        day = chr::sys_days{y / chr::January / 1} + chr::days{date.day - 1 + (y.is_leap() && date.day >= 60 ? 1 : 0)};
        break;
    case RuleDate::Kind::zero_based:
        day = chr::sys_days{y / chr::January / 1} + chr::days{date.day};
        break;
    case RuleDate::Kind::month_week_day: {
        const chr::month m{static_cast<unsigned>(date.month)};
        const chr::weekday wd{static_cast<unsigned>(date.day)};
        day = date.week == 5 ? chr::sys_days{y / m / wd[chr::last]}
                             : chr::sys_days{y / m / wd[static_cast<unsigned>(date.week)]};
        break;
    }
    }
    return int64_t{day.time_since_epoch().count()} * seconds_per_day + date.time - utc_offset;
}

size_t TimeZone::rule_type_at(int64_t unix_seconds) const
{
    if (!rule_.has_dst) return rule_.std_type;
    const int32_t std_off = types_[rule_.std_type].utc_offset;
    const int32_t dst_off = types_[rule_.dst_type].utc_offset;
    const int64_t local_day = floor_div(unix_seconds + std_off, seconds_per_day);
    if (local_day < -10'000'000 || local_day > 10'000'000) return rule_.std_type; // beyond ±27000 years
    const int year = static_cast<int>(chr::year_month_day{chr::sys_days{chr::days{local_day}}}.year());
    // The latest change at or before the instant, among the neighbouring years' changes, decides. On a tie
    // (DST all year: one year's end is the next one's start) the start wins.
    std::optional<int64_t> best_at;
    bool best_dst = false;
    for (int y = year - 1; y <= year + 1; ++y) {
        const int64_t end = transition_utc(y, rule_.end, dst_off);
        const int64_t start = transition_utc(y, rule_.start, std_off);
        for (const auto& [at, to_dst] : {std::pair{end, false}, std::pair{start, true}}) {
            if (at > unix_seconds) continue;
            if (!best_at || at > *best_at || (at == *best_at && to_dst)) {
                best_at = at;
                best_dst = to_dst;
            }
        }
    }
    return best_dst ? rule_.dst_type : rule_.std_type;
}

const LocalTimeType& TimeZone::type_at(int64_t unix_seconds) const
{
    if (transitions_.empty()) return types_[has_rule_ ? rule_type_at(unix_seconds) : 0];
    if (unix_seconds < transitions_.front()) return types_[0]; // RFC 8536 3.2: type 0 before the first
    const auto after = std::upper_bound(transitions_.begin(), transitions_.end(), unix_seconds);
    const auto index = static_cast<std::size_t>(after - transitions_.begin()) - 1;
    if (index + 1 == transitions_.size() && has_rule_) return types_[rule_type_at(unix_seconds)];
    return types_[transition_types_[index]];
}

std::tm TimeZone::local_time(int64_t unix_seconds) const
{
    const LocalTimeType& type = type_at(unix_seconds);
    const int64_t local = unix_seconds + type.utc_offset;
    const int64_t day = floor_div(local, seconds_per_day);
    const int64_t second_of_day = local - day * seconds_per_day;
    const chr::sys_days days{chr::days{day}};
    const chr::year_month_day ymd{days};
    std::tm tm{};
    tm.tm_year = static_cast<int>(ymd.year()) - 1900;
    tm.tm_mon = static_cast<int>(static_cast<unsigned>(ymd.month())) - 1;
    tm.tm_mday = static_cast<int>(static_cast<unsigned>(ymd.day()));
    tm.tm_hour = static_cast<int>(second_of_day / 3600);
    tm.tm_min = static_cast<int>(second_of_day / 60 % 60);
    tm.tm_sec = static_cast<int>(second_of_day % 60);
    tm.tm_wday = static_cast<int>(chr::weekday{days}.c_encoding());
    tm.tm_yday = static_cast<int>((days - chr::sys_days{ymd.year() / chr::January / 1}).count());
    tm.tm_isdst = type.is_dst ? 1 : 0;
    tm.tm_gmtoff = type.utc_offset;
    tm.tm_zone = type.abbreviation.c_str();
    return tm;
}

} // namespace ringd::tod
