// strftime with %f, and RFC 868 time: see time_format.hpp.
#include "time_format.hpp"

#include <cstring>
#include <stdexcept>
#include <time.h>

namespace ringd::tod {

namespace {

// Conversions glibc's strftime implements (besides %f and %s, which we do ourselves).
constexpr std::string_view strftime_conversions = "aAbBcCdDeFgGhHIjklmMnpPrRStTuUVwWxXyYzZ%";
constexpr std::string_view flag_chars = "_-0^#";
constexpr std::size_t max_output = 128 * 1024;

void append_strftime(std::string& out, const std::string& format_with_sentinel, const std::tm& tm)
{
    // strftime returns 0 both for "buffer too small" and for an empty result; the sentinel character at the
    // end of every piece makes a successful result non-empty, so 0 always means "grow".
    char stack_buffer[256];
    std::size_t n = std::strftime(stack_buffer, sizeof stack_buffer, format_with_sentinel.c_str(), &tm);
    if (n > 0) {
        out.append(stack_buffer, n - 1);
        return;
    }
    std::string buffer(sizeof stack_buffer * 4, '\0');
    while ((n = std::strftime(buffer.data(), buffer.size(), format_with_sentinel.c_str(), &tm)) == 0) {
        if (buffer.size() >= max_output) throw std::length_error("time format output exceeds 128 KiB");
        buffer.resize(buffer.size() * 4);
    }
    out.append(buffer.data(), n - 1);
}

} // namespace

Instant now()
{
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return {static_cast<int64_t>(ts.tv_sec), static_cast<uint32_t>(ts.tv_nsec / 1000)};
}

TimeFormat::TimeFormat(std::string_view format) : source_(format)
{
    if (format.empty()) throw std::invalid_argument("expected a non-empty strftime format");
    if (format.size() > max_length) {
        throw std::invalid_argument("format is longer than " + std::to_string(max_length) + " bytes");
    }
    std::string chunk;
    auto flush = [&] {
        if (chunk.empty()) return;
        pieces_.push_back({Kind::strftime, chunk + "|"});
        chunk.clear();
    };
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            chunk.push_back(format[i]);
            continue;
        }
        const std::size_t start = i++;
        while (i < format.size() && flag_chars.find(format[i]) != std::string_view::npos)
            ++i;
        int width = 0;
        for (; i < format.size() && format[i] >= '0' && format[i] <= '9'; ++i) {
            width = width * 10 + (format[i] - '0');
            if (width > max_width) {
                throw std::invalid_argument("field width over " + std::to_string(max_width) + " in \"" +
                                            std::string(format.substr(start, i + 1 - start)) + "\"");
            }
        }
        if (i < format.size() && (format[i] == 'E' || format[i] == 'O')) ++i;
        if (i >= format.size()) throw std::invalid_argument("format ends with an incomplete '%' conversion");
        const char conversion = format[i];
        const std::string_view spec = format.substr(start, i + 1 - start);
        if (conversion == 'f' || conversion == 's') {
            if (spec.size() != 2) {
                throw std::invalid_argument("%" + std::string(1, conversion) + " takes no flags or width, got \"" +
                                            std::string(spec) + "\"");
            }
            flush();
            pieces_.push_back({conversion == 'f' ? Kind::microseconds : Kind::epoch_seconds, {}});
        } else if (strftime_conversions.find(conversion) != std::string_view::npos) {
            chunk.append(spec);
        } else {
            throw std::invalid_argument("unknown conversion \"" + std::string(spec) +
                                        "\": expected a strftime(3) conversion or %f (microseconds)");
        }
    }
    flush();
}

namespace {

void write_microseconds(char* six_digits, uint32_t microseconds)
{
    uint32_t us = microseconds % 1'000'000;
    for (int i = 5; i >= 0; --i, us /= 10)
        six_digits[i] = static_cast<char>('0' + us % 10);
}

} // namespace

std::string TimeFormat::format(Instant t, const TimeZone& zone) const
{
    SecondCache cache;
    return format(t, zone, cache);
}

std::string TimeFormat::format(Instant t, const TimeZone& zone, SecondCache& cache) const
{
    if (!cache.valid_ || cache.second_ != t.seconds) {
        const std::tm tm = zone.local_time(t.seconds);
        cache.text_.clear();
        cache.microsecond_offsets_.clear();
        for (const Piece& piece : pieces_) {
            switch (piece.kind) {
            case Kind::strftime:
                append_strftime(cache.text_, piece.text, tm);
                break;
            case Kind::microseconds:
                cache.microsecond_offsets_.push_back(cache.text_.size());
                cache.text_.append(6, '0');
                break;
            case Kind::epoch_seconds:
                cache.text_ += std::to_string(t.seconds);
                break;
            }
        }
        cache.second_ = t.seconds;
        cache.valid_ = true;
    }
    std::string out = cache.text_;
    for (const std::size_t offset : cache.microsecond_offsets_)
        write_microseconds(out.data() + offset, t.microseconds);
    return out;
}

std::array<std::byte, 4> rfc868_bytes(int64_t unix_seconds)
{
    const uint32_t v = rfc868_seconds(unix_seconds);
    auto byte = [v](int shift) { return static_cast<std::byte>((v >> shift) & 0xffu); };
    return {byte(24), byte(16), byte(8), byte(0)};
}

} // namespace ringd::tod
