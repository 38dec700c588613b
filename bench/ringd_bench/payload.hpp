// Payload: request bytes and their verification. Requests are random lowercase letters so that an
// upper-casing server's work is visible in every byte; they are cut from one pre-generated pool so that
// building a request costs nothing (a pointer), and a reply is checked against its request byte for byte.
#pragma once

#include "options.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringd_bench {

class Payload {
public:
    // A pool that can hand out messages of up to `max_size` bytes.
    Payload(size_t max_size, uint64_t seed);

    // The `n`-th request of the stream `stream`: deterministic, so any reply can be checked later.
    [[nodiscard]] const char* request(uint64_t stream, uint64_t n) const
    {
        return pool_.data() + ((stream * kStreamSpacing + n * kStride) % kPeriod);
    }

private:
    // 64 KiB: varied enough that a reply to the wrong request cannot pass, small enough to stay in cache.
    static constexpr size_t kPeriod = size_t{1} << 16;
    static constexpr uint64_t kStride = 7919;          // prime: successive requests start far apart
    static constexpr uint64_t kStreamSpacing = 104729; // prime: clients do not send the same bytes in step
    std::vector<char> pool_;
};

// The byte an `expect` server must return for request byte `c` (always a lowercase letter).
[[nodiscard]] inline char expected_byte(Expect expect, char c)
{
    return expect == Expect::upper && c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c;
}

// True if reply[0, n) is what the server owes for request[0, n). Word-at-a-time and branch-free: verifying
// every reply must not make the load generator the bottleneck.
[[nodiscard]] bool reply_matches(Expect expect, const char* request, const char* reply, size_t n);

// Index of the first wrong byte (n if none) and a printable description, for error messages.
[[nodiscard]] size_t first_mismatch(Expect expect, const char* request, const char* reply, size_t n);
[[nodiscard]] std::string describe_mismatch(Expect expect, const char* request, const char* reply, size_t n);

// Sequence numbers carried inside a datagram as lowercase letters (base 26), so that a late duplicate
// reply can be recognised and checked against the request it answers.
void encode_sequence(char* out, size_t digits, uint64_t seq);
// Decodes a reply's digits (either case); false if a byte is not a letter.
[[nodiscard]] bool decode_sequence(const char* in, size_t digits, uint64_t& seq);

} // namespace ringd_bench
