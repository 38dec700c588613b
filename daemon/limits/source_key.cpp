// Masking client addresses into SourceKeys; see source_key.hpp.
#include "limits/source_key.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>

namespace ringd::limits {
namespace {

constexpr unsigned mapped_v4_offset = 96; // ::ffff:a.b.c.d: the IPv4 address is the last 32 of 128 bits

void mask_beyond(std::array<uint8_t, 16>& bytes, unsigned prefix_bits)
{
    for (unsigned i = 0; i < bytes.size(); ++i) {
        const unsigned first_bit = i * 8;
        if (first_bit >= prefix_bits)
            bytes[i] = 0;
        else if (prefix_bits - first_bit < 8)
            bytes[i] &= static_cast<uint8_t>(0xffu << (8 - (prefix_bits - first_bit)));
    }
}

SourceKey mapped_v4(const uint8_t* v4, unsigned prefix_v4)
{
    SourceKey key;
    key.bytes[10] = 0xff;
    key.bytes[11] = 0xff;
    std::copy_n(v4, 4, key.bytes.begin() + 12);
    mask_beyond(key.bytes, mapped_v4_offset + std::min(prefix_v4, 32u));
    return key;
}

bool is_v4_mapped(const std::array<uint8_t, 16>& bytes)
{
    return std::all_of(bytes.begin(), bytes.begin() + 10, [](uint8_t b) { return b == 0; }) && bytes[10] == 0xff &&
           bytes[11] == 0xff;
}

// MurmurHash3's 64-bit finaliser: every input bit affects every output bit.
uint64_t mix(uint64_t h) noexcept
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

} // namespace

std::optional<SourceKey> source_key_of(const sockaddr* address, SourcePrefixes prefixes)
{
    if (address == nullptr) return std::nullopt;
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof(in));
        uint8_t v4[4];
        std::memcpy(v4, &in.sin_addr, sizeof(v4));
        return mapped_v4(v4, prefixes.v4);
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof(in6));
        SourceKey key;
        std::memcpy(key.bytes.data(), &in6.sin6_addr, key.bytes.size());
        // A dual-stack socket's IPv4 peer: the same source as on an IPv4 socket, so the IPv4 prefix applies.
        if (is_v4_mapped(key.bytes)) return mapped_v4(key.bytes.data() + 12, prefixes.v4);
        mask_beyond(key.bytes, std::min(prefixes.v6, 128u));
        return key;
    }
    return std::nullopt;
}

std::string format_source_key(const SourceKey& key)
{
    char text[INET6_ADDRSTRLEN] = {};
    if (is_v4_mapped(key.bytes))
        inet_ntop(AF_INET, key.bytes.data() + 12, text, sizeof(text));
    else
        inet_ntop(AF_INET6, key.bytes.data(), text, sizeof(text));
    return text;
}

uint64_t hash_source_key(const SourceKey& key, uint64_t seed) noexcept
{
    uint64_t high = 0;
    uint64_t low = 0;
    std::memcpy(&high, key.bytes.data(), sizeof(high));
    std::memcpy(&low, key.bytes.data() + 8, sizeof(low));
    return mix(mix(high ^ seed) ^ low ^ (seed >> 32 | seed << 32));
}

} // namespace ringd::limits
