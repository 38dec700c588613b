// CRC32C against published check values (RFC 3720 appendix B.4 and the usual "123456789" check value).
#include "proxy_protocol/crc32c.hpp"

#include <catch2/catch.hpp>
#include <string_view>
#include <vector>

using ringd::proxy_protocol::crc32c;

namespace {

uint32_t crc_of(std::string_view text)
{
    return crc32c({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

} // namespace

TEST_CASE("CRC32C check value of \"123456789\"")
{
    REQUIRE(crc_of("123456789") == 0xE3069283);
    REQUIRE(crc_of("") == 0);
}

TEST_CASE("CRC32C vectors of RFC 3720 B.4")
{
    REQUIRE(crc32c(std::vector<uint8_t>(32, 0x00)) == 0x8A9136AA);
    REQUIRE(crc32c(std::vector<uint8_t>(32, 0xff)) == 0x62A8AB43);
    std::vector<uint8_t> ascending(32);
    std::vector<uint8_t> descending(32);
    for (uint8_t i = 0; i < 32; ++i) {
        ascending[i] = i;
        descending[i] = uint8_t(31 - i);
    }
    REQUIRE(crc32c(ascending) == 0x46DD794E);
    REQUIRE(crc32c(descending) == 0x113FDB5C);
}

TEST_CASE("CRC32C continues across pieces")
{
    const std::string_view text = "The quick brown fox jumps over the lazy dog";
    const auto* bytes = reinterpret_cast<const uint8_t*>(text.data());
    const uint32_t whole = crc32c({bytes, text.size()});
    REQUIRE(whole == 0x22620404);
    for (std::size_t cut = 0; cut <= text.size(); ++cut)
        REQUIRE(crc32c({bytes + cut, text.size() - cut}, crc32c({bytes, cut})) == whole);
}
