// remote-cmd's framed-request decoder and request validation (plugins/remote-cmd/frame_decoder.hpp).
#include "frame_decoder.hpp"

#include <catch2/catch.hpp>

using ringd::remote_cmd::FrameDecoder;
using ringd::remote_cmd::parse_framed_request;
using Events = std::vector<FrameDecoder::Event>;

namespace {

std::string be32(uint32_t n)
{
    return {static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 8) & 0xff),
            static_cast<char>(n & 0xff)};
}

std::string frame(std::string_view body)
{
    return be32(static_cast<uint32_t>(body.size())) + std::string(body);
}

std::span<const std::byte> bytes(std::string_view s)
{
    return std::as_bytes(std::span(s.data(), s.size()));
}

Events feed_in_chunks(FrameDecoder& d, std::string_view input, std::size_t chunk)
{
    Events out;
    for (std::size_t i = 0; i < input.size(); i += chunk)
        d.feed(bytes(input.substr(i, chunk)), out);
    return out;
}

std::string parse_error(std::string_view body)
{
    auto r = parse_framed_request(body);
    REQUIRE_FALSE(r.ok());
    return r.error;
}

} // namespace

TEST_CASE("whole frames in one chunk", "[decoder]")
{
    FrameDecoder d(1024);
    Events out;
    d.feed(bytes(frame("{\"cmd\":\"ls\"}") + frame("{\"argv\":[\"pwd\"]}")), out);
    REQUIRE(out.size() == 2);
    CHECK_FALSE(out[0].is_error);
    CHECK(out[0].bytes == "{\"cmd\":\"ls\"}");
    CHECK(out[1].bytes == "{\"argv\":[\"pwd\"]}");
    CHECK(d.between_frames());
    CHECK_FALSE(d.finish());
}

TEST_CASE("frames arriving byte by byte and in odd chunks", "[decoder]")
{
    const std::string stream = frame("{\"cmd\":\"a\"}") + frame(std::string(300, 'x')) + frame("1");
    for (std::size_t chunk : {1u, 2u, 3u, 5u, 7u, 64u, 1000u}) {
        FrameDecoder d(1024);
        Events out = feed_in_chunks(d, stream, chunk);
        INFO("chunk " << chunk);
        REQUIRE(out.size() == 3);
        CHECK(out[0].bytes == "{\"cmd\":\"a\"}");
        CHECK(out[1].bytes == std::string(300, 'x'));
        CHECK(out[2].bytes == "1");
        CHECK(d.between_frames());
    }
}

TEST_CASE("length limits: 0 and above max are errors, max itself is fine", "[decoder]")
{
    {
        FrameDecoder d(16);
        Events out;
        d.feed(bytes(be32(0) + "junk"), out);
        REQUIRE(out.size() == 1);
        CHECK(out[0].is_error);
        CHECK(out[0].bytes == "frame length is 0");
        CHECK(d.failed());
    }
    {
        FrameDecoder d(16);
        Events out;
        d.feed(bytes(be32(17)), out);
        REQUIRE(out.size() == 1);
        CHECK(out[0].is_error);
        CHECK_THAT(out[0].bytes, Catch::Contains("17") && Catch::Contains("max_request (16"));
    }
    {
        FrameDecoder d(16);
        Events out;
        d.feed(bytes(be32(0xffffffffu)), out);
        REQUIRE(out.size() == 1);
        CHECK(out[0].is_error);
    }
    {
        FrameDecoder d(16);
        Events out;
        d.feed(bytes(frame(std::string(16, 'y'))), out);
        REQUIRE(out.size() == 1);
        CHECK_FALSE(out[0].is_error);
    }
}

TEST_CASE("after an error the decoder ignores everything", "[decoder]")
{
    FrameDecoder d(8);
    Events out;
    d.feed(bytes(frame("ok") + be32(9) + frame("later")), out);
    REQUIRE(out.size() == 2);
    CHECK(out[0].bytes == "ok");
    CHECK(out[1].is_error);
    d.feed(bytes(frame("more")), out);
    CHECK(out.size() == 2);
    CHECK_FALSE(d.finish()); // already failed: nothing more to report
}

TEST_CASE("a stream ending inside a frame is truncated", "[decoder]")
{
    {
        FrameDecoder d(64);
        Events out;
        d.feed(bytes(std::string_view("\0\0", 2)), out);
        CHECK(out.empty());
        CHECK_FALSE(d.between_frames());
        REQUIRE(d.finish());
        CHECK(*d.finish() == "truncated frame: connection ended after 2 of 4 length bytes");
    }
    {
        FrameDecoder d(64);
        Events out;
        d.feed(bytes(be32(10) + "abc"), out);
        CHECK(out.empty());
        REQUIRE(d.finish());
        CHECK(*d.finish() == "truncated frame: connection ended after 3 of 10 body bytes");
    }
    {
        FrameDecoder d(64);
        Events out;
        d.feed(bytes(be32(10)), out);
        REQUIRE(d.finish());
        CHECK_THAT(*d.finish(), Catch::Contains("0 of 10 body bytes"));
    }
}

TEST_CASE("max_events: the rest of a read stays buffered, undecoded, and comes out in order", "[decoder]")
{
    std::string stream;
    for (int i = 0; i < 10; ++i)
        stream += frame(std::to_string(i));
    FrameDecoder d(64);
    Events out;
    d.feed(bytes(stream), out, 3);
    REQUIRE(out.size() == 3);
    CHECK(out[2].bytes == "2");
    CHECK(d.buffered() == stream.size() - 3 * 5);
    CHECK(d.between_frames()); // stopped after a whole frame: the rest is undecoded input, not a partial frame

    // More input while some is buffered goes behind it.
    d.feed(bytes(frame("10") + be32(2) + "1"), out, 2);
    REQUIRE(out.size() == 5);
    CHECK(out[4].bytes == "4");

    d.decode_buffered(out, 0);
    CHECK(out.size() == 5);
    while (d.buffered() > 0)
        d.decode_buffered(out, 1);
    REQUIRE(out.size() == 11);
    for (int i = 0; i < 11; ++i)
        CHECK(out[static_cast<std::size_t>(i)].bytes == std::to_string(i));
    // The trailing partial frame was consumed into the frame being assembled: finish() sees it.
    REQUIRE(d.finish());
    CHECK(*d.finish() == "truncated frame: connection ended after 1 of 2 body bytes");
    d.feed(bytes("1"), out, 1);
    REQUIRE(out.size() == 12);
    CHECK(out[11].bytes == "11");
    CHECK(d.buffered() == 0);
    CHECK_FALSE(d.finish());
}

TEST_CASE("max_events: an error counts as an event and drops what is buffered", "[decoder]")
{
    FrameDecoder d(8);
    Events out;
    d.feed(bytes(frame("a") + frame("b") + be32(0) + frame("c")), out, 1);
    REQUIRE(out.size() == 1);
    CHECK(d.buffered() > 0);
    d.decode_buffered(out, 2);
    REQUIRE(out.size() == 3);
    CHECK(out[1].bytes == "b");
    CHECK(out[2].is_error);
    CHECK(d.failed());
    CHECK(d.buffered() == 0);
}

TEST_CASE("discard_buffered drops undecoded input only", "[decoder]")
{
    FrameDecoder d(8);
    Events out;
    d.feed(bytes(frame("a") + frame("b") + frame("c")), out, 1);
    REQUIRE(out.size() == 1);
    d.discard_buffered();
    CHECK(d.buffered() == 0);
    d.decode_buffered(out, 5);
    CHECK(out.size() == 1);
    CHECK_FALSE(d.failed());
}

TEST_CASE("valid requests", "[request]")
{
    auto r = parse_framed_request(R"({"argv":["ls","-l"]})");
    REQUIRE(r.ok());
    CHECK(*r.request.argv == std::vector<std::string>{"ls", "-l"});
    CHECK_FALSE(r.request.cmd);
    CHECK_FALSE(r.request.token);
    CHECK_FALSE(r.request.timeout_ms);

    r = parse_framed_request(R"({"cmd":"ls -l","token":"s3cret","timeout_ms":1500})");
    REQUIRE(r.ok());
    CHECK(*r.request.cmd == "ls -l");
    CHECK(*r.request.token == "s3cret");
    CHECK(*r.request.timeout_ms == 1500);

    r = parse_framed_request(" {\"argv\":[\"echo\",\"\",\"\\u00e9\"]} \n");
    REQUIRE(r.ok());
    CHECK(*r.request.argv == std::vector<std::string>{"echo", "", "\xc3\xa9"});
}

TEST_CASE("malformed and ill-typed requests", "[request]")
{
    CHECK_THAT(parse_error("{"), Catch::Contains("not valid JSON"));
    CHECK_THAT(parse_error(""), Catch::Contains("not valid JSON"));
    CHECK_THAT(parse_error("{\"cmd\":\"ls\"} trailing"), Catch::Contains("not valid JSON"));
    CHECK_THAT(parse_error("{\"cmd\":\"\xff\"}"), Catch::Contains("not valid JSON"));
    CHECK_THAT(parse_error("[\"ls\"]"), Catch::Contains("must be a JSON object"));
    CHECK_THAT(parse_error("\"ls\""), Catch::Contains("must be a JSON object"));
    CHECK_THAT(parse_error("{}"), Catch::Contains("exactly one of"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","argv":["ls"]})"), Catch::Contains("exactly one of"));
    CHECK_THAT(parse_error(R"({"argv":[]})"), Catch::Contains("non-empty array"));
    CHECK_THAT(parse_error(R"({"argv":"ls"})"), Catch::Contains("non-empty array"));
    CHECK_THAT(parse_error(R"({"argv":["ls",1]})"), Catch::Contains("non-empty array"));
    CHECK_THAT(parse_error(R"({"argv":["ls",null]})"), Catch::Contains("non-empty array"));
    CHECK_THAT(parse_error(R"({"argv":["l\u0000s"]})"), Catch::Contains("NUL"));
    CHECK_THAT(parse_error(R"({"cmd":["ls"]})"), Catch::Contains("\"cmd\" must be a string"));
    CHECK_THAT(parse_error(R"({"cmd":"l\u0000s"})"), Catch::Contains("NUL"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","token":5})"), Catch::Contains("\"token\" must be a string"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","timeout_ms":0})"), Catch::Contains("positive integer"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","timeout_ms":-5})"), Catch::Contains("positive integer"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","timeout_ms":1.5})"), Catch::Contains("positive integer"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","timeout_ms":"10"})"), Catch::Contains("positive integer"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","env":{}})"), Catch::Contains("unknown request field \"env\""));
}

TEST_CASE("numbers beyond double are an error, not an exception", "[request]")
{
    // Found by fuzz_frame_decoder: nlohmann::json throws out_of_range (not parse_error) for these.
    CHECK_THAT(parse_error("7e30029"), Catch::Contains("out of range"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","timeout_ms":1e400})"), Catch::Contains("out of range"));
    CHECK_THAT(parse_error(R"({"cmd":"ls","timeout_ms":99999999999999999999999})"),
               Catch::Contains("positive integer"));
}

TEST_CASE("deeply nested JSON is rejected without crashing", "[request]")
{
    const std::string deep = "{\"cmd\":" + std::string(20000, '[') + std::string(20000, ']') + "}";
    CHECK_THAT(parse_error(deep), Catch::Contains("\"cmd\" must be a string"));
}

TEST_CASE("a key written twice is an error, whichever value would have won", "[request][security]")
{
    CHECK(parse_error(R"({"argv":["ls"],"argv":["rm","-rf","/"]})") == "duplicate request field \"argv\"");
    CHECK(parse_error(R"({"cmd":"ls","token":"a","token":"b"})") == "duplicate request field \"token\"");
    CHECK(parse_error(R"({"cmd":"ls","timeout_ms":5,"timeout_ms":5})") == "duplicate request field \"timeout_ms\"");
    // Equal after unescaping is equal: "\u0061rgv" is "argv".
    CHECK(parse_error(R"({"argv":["ls"],"\u0061rgv":["id"]})") == "duplicate request field \"argv\"");
    // In a nested object too (which is wrong anyway, but must not be read as either value).
    CHECK_THAT(parse_error(R"({"cmd":{"a":1,"a":2}})"), Catch::Contains("duplicate request field \"a\""));
    // The same key in two different objects is not a duplicate.
    CHECK_THAT(parse_error(R"({"cmd":[{"a":1},{"a":2}]})"), Catch::Contains("\"cmd\" must be a string"));
    CHECK(parse_framed_request(R"({"cmd":"ls","token":"t"})").ok());
}
