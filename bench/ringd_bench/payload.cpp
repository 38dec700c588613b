// Payload pool generation and reply verification (see payload.hpp).
#include "payload.hpp"

#include <cstdio>
#include <cstring>

namespace ringd_bench {

Payload::Payload(size_t max_size, uint64_t seed) : pool_(kPeriod + max_size)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL; // xorshift64*; any non-zero state
    if (x == 0) x = 1;
    for (auto& c : pool_) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        c = static_cast<char>('a' + ((x * 0x2545F4914F6CDD1DULL) >> 32) % 26);
    }
}

bool reply_matches(Expect expect, const char* request, const char* reply, size_t n)
{
    if (expect == Expect::same) return std::memcmp(request, reply, n) == 0;
    // Request bytes are all lowercase letters (>= 0x61), so subtracting 0x20 from each byte of a word never
    // borrows across bytes: eight bytes are checked per step without relying on the auto-vectoriser.
    constexpr uint64_t kCase = 0x2020202020202020ULL;
    uint64_t diff = 0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t want = 0, got = 0;
        std::memcpy(&want, request + i, 8);
        std::memcpy(&got, reply + i, 8);
        diff |= (want - kCase) ^ got;
    }
    for (; i < n; ++i)
        diff |= static_cast<unsigned char>(static_cast<unsigned char>(request[i]) - 0x20) ^
                static_cast<unsigned char>(reply[i]);
    return diff == 0;
}

size_t first_mismatch(Expect expect, const char* request, const char* reply, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (reply[i] != expected_byte(expect, request[i])) return i;
    return n;
}

std::string describe_mismatch(Expect expect, const char* request, const char* reply, size_t n)
{
    size_t i = first_mismatch(expect, request, reply, n);
    if (i == n) return "no mismatch";
    auto show = [](char c) {
        char buf[16];
        auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f)
            std::snprintf(buf, sizeof buf, "'%c'", c);
        else
            std::snprintf(buf, sizeof buf, "0x%02x", u);
        return std::string(buf);
    };
    return "byte " + std::to_string(i) + " is " + show(reply[i]) + ", expected " +
           show(expected_byte(expect, request[i])) + (expect == Expect::upper ? " (expect upper)" : " (expect same)");
}

void encode_sequence(char* out, size_t digits, uint64_t seq)
{
    for (size_t i = 0; i < digits; ++i) {
        out[digits - 1 - i] = static_cast<char>('a' + seq % 26);
        seq /= 26;
    }
}

bool decode_sequence(const char* in, size_t digits, uint64_t& seq)
{
    seq = 0;
    for (size_t i = 0; i < digits; ++i) {
        char c = in[i];
        int d = c >= 'a' && c <= 'z' ? c - 'a' : c >= 'A' && c <= 'Z' ? c - 'A' : -1;
        if (d < 0) return false;
        seq = seq * 26 + static_cast<uint64_t>(d);
    }
    return true;
}

} // namespace ringd_bench
