// Test helpers for remote-cmd's replies as a test-kit connection received them: request frames, and reply
// streams split into header, stdout and stderr (json-header little-endian, framed big-endian).
#pragma once

#include "remote_cmd_kit.hpp"

#include <catch2/catch.hpp>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

using Json = nlohmann::json;

namespace wire {

inline std::string be32(uint32_t n)
{
    return {static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 8) & 0xff),
            static_cast<char>(n & 0xff)};
}

inline std::string frame(const std::string& body)
{
    return be32(static_cast<uint32_t>(body.size())) + body;
}

inline uint32_t le32_at(std::string_view s, std::size_t at = 0)
{
    return uint32_t(uint8_t(s[at])) | uint32_t(uint8_t(s[at + 1])) << 8 | uint32_t(uint8_t(s[at + 2])) << 16 |
           uint32_t(uint8_t(s[at + 3])) << 24;
}

inline uint32_t be32_at(std::string_view s, std::size_t at = 0)
{
    return uint32_t(uint8_t(s[at])) << 24 | uint32_t(uint8_t(s[at + 1])) << 16 | uint32_t(uint8_t(s[at + 2])) << 8 |
           uint32_t(uint8_t(s[at + 3]));
}

struct Reply {
    Json header;
    std::string out, err;
};

// Splits `bytes` into json-header (little-endian) or framed (big-endian) replies.
inline std::vector<Reply> replies(std::string_view bytes, bool framed)
{
    std::vector<Reply> result;
    while (!bytes.empty()) {
        REQUIRE(bytes.size() >= 4);
        const uint32_t h = framed ? be32_at(bytes) : le32_at(bytes);
        REQUIRE(bytes.size() >= 4 + h);
        Reply r;
        r.header = Json::parse(bytes.substr(4, h));
        const auto out_n = r.header["stdout_size"].get<std::size_t>();
        const auto err_n = r.header["stderr_size"].get<std::size_t>();
        REQUIRE(bytes.size() >= 4 + h + out_n + err_n);
        r.out = bytes.substr(4 + h, out_n);
        r.err = bytes.substr(4 + h + out_n, err_n);
        bytes.remove_prefix(4 + h + out_n + err_n);
        result.push_back(std::move(r));
    }
    return result;
}

inline Reply one_reply(Connection& c, bool framed)
{
    auto all = replies(c.take_output(), framed);
    REQUIRE(all.size() == 1);
    return all.front();
}

} // namespace wire
