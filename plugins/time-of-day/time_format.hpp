// What time-of-day sends: the current time as strftime text extended with %f (microseconds), or as RFC 868's
// 32-bit binary time. Pure logic apart from reading the clock, so it is unit-tested directly.
#pragma once

#include "timezone.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::tod {

// An instant of CLOCK_REALTIME, truncated to microseconds.
struct Instant {
    int64_t seconds = 0; // since 1970-01-01 00:00 UTC
    uint32_t microseconds = 0;
};

[[nodiscard]] Instant now();

// A strftime format compiled once. Adds %f (six-digit microseconds) and computes %s itself, because glibc's
// %s calls mktime(), which consults the process-global TZ. Everything else goes to strftime() with a struct tm
// whose tm_gmtoff/tm_zone are set, so %z and %Z come from the configured zone without touching TZ either.
class TimeFormat {
public:
    static constexpr std::size_t max_length = 1024;
    static constexpr int max_width = 99;

    // Throws std::invalid_argument saying what is wrong: an unknown conversion, a trailing '%', flags or a
    // width on %f/%s, a width over max_width, an empty format or one longer than max_length.
    explicit TimeFormat(std::string_view format);

    [[nodiscard]] std::string format(Instant t, const TimeZone& zone) const;

    // The text of one second with its %f digits left to fill in: every reply within that second is then a
    // copy and six digits instead of a time-zone conversion and strftime. Not thread-safe: one per worker.
    class SecondCache {
        friend class TimeFormat;
        bool valid_ = false;
        int64_t second_ = 0;
        std::string text_;
        std::vector<std::size_t> microsecond_offsets_;
    };
    // Same result as format(t, zone).
    [[nodiscard]] std::string format(Instant t, const TimeZone& zone, SecondCache& cache) const;
    [[nodiscard]] const std::string& source() const { return source_; }

private:
    enum class Kind { strftime, microseconds, epoch_seconds };
    struct Piece {
        Kind kind;
        std::string text; // Kind::strftime: the format followed by one sentinel character
    };
    std::string source_;
    std::vector<Piece> pieces_;
};

// RFC 868: seconds since 1900-01-01 00:00 UTC as a 32-bit count. The field wraps on 2036-02-07 06:28:16 UTC;
// like other servers we then send the value modulo 2^32 (clients resolve the era).
constexpr int64_t rfc868_epoch_offset = 2'208'988'800; // 1900-01-01 to 1970-01-01, in seconds

[[nodiscard]] constexpr uint32_t rfc868_seconds(int64_t unix_seconds)
{
    return static_cast<uint32_t>(static_cast<uint64_t>(unix_seconds + rfc868_epoch_offset) & 0xffff'ffffu);
}

// The four bytes on the wire, big-endian.
[[nodiscard]] std::array<std::byte, 4> rfc868_bytes(int64_t unix_seconds);

} // namespace ringd::tod
