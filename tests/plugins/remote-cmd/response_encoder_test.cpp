// remote-cmd's response layouts, checked byte for byte (plugins/remote-cmd/response_encoder.hpp).
#include "response_encoder.hpp"

#include <catch2/catch.hpp>

using namespace ringd::remote_cmd;
using namespace std::string_literals;

namespace {

std::string le32(uint32_t n)
{
    return {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff), static_cast<char>((n >> 16) & 0xff),
            static_cast<char>(n >> 24)};
}

std::string be32(uint32_t n)
{
    return {static_cast<char>(n >> 24), static_cast<char>((n >> 16) & 0xff), static_cast<char>((n >> 8) & 0xff),
            static_cast<char>(n & 0xff)};
}

CommandResult sample()
{
    CommandResult r;
    r.exit_code = 0;
    r.duration_ms = 3;
    r.out = "hello\n";
    r.err = "warn\n";
    return r;
}

} // namespace

TEST_CASE("json-header result", "[encoder]")
{
    const std::string header = R"({"total_size":11,"stdout_size":6,"stderr_size":5,"exit_code":0,"signal":null,)"
                               R"("timed_out":false,"truncated":false,"duration_ms":3})";
    CHECK(encode_result(Protocol::json_header, sample()) == le32(header.size()) + header + "hello\nwarn\n");
}

TEST_CASE("json-header result of a killed, timed-out command", "[encoder]")
{
    CommandResult r;
    r.signal = 15;
    r.timed_out = true;
    r.truncated = true;
    r.duration_ms = 1000;
    const std::string header = R"({"total_size":0,"stdout_size":0,"stderr_size":0,"exit_code":143,"signal":15,)"
                               R"("timed_out":true,"truncated":true,"duration_ms":1000})";
    CHECK(encode_result(Protocol::json_header, r) == le32(header.size()) + header);
}

TEST_CASE("json-header refusal puts the text in the stderr part", "[encoder]")
{
    const std::string text = "ringd: command not allowed: rm\n";
    const std::string header = R"({"total_size":31,"stdout_size":0,"stderr_size":31,"exit_code":126,"signal":null,)"
                               R"("timed_out":false,"truncated":false,"duration_ms":0,)"
                               R"("error":"command not allowed: rm","error_code":"not_allowed"})";
    REQUIRE(text.size() == 31);
    CHECK(encode_failure(Protocol::json_header, {ErrorKind::not_allowed, "command not allowed: rm"}) ==
          le32(header.size()) + header + text);
}

TEST_CASE("size-prefixed result and refusal", "[encoder]")
{
    CHECK(encode_result(Protocol::size_prefixed, sample()) == le32(11) + "hello\nwarn\n");
    CHECK(encode_failure(Protocol::size_prefixed, {ErrorKind::not_found, "command not found: nope"}) ==
          le32(31) + "ringd: command not found: nope\n");
    CommandResult empty;
    empty.exit_code = 0;
    CHECK(encode_result(Protocol::size_prefixed, empty) == "\0\0\0\0"s);
}

TEST_CASE("framed result", "[encoder]")
{
    const std::string header = R"({"ok":true,"exit_code":0,"signal":null,"stdout_size":6,"stderr_size":5,)"
                               R"("timed_out":false,"truncated":false,"duration_ms":3})";
    CHECK(encode_result(Protocol::framed, sample()) == be32(header.size()) + header + "hello\nwarn\n");

    CommandResult killed;
    killed.signal = 9;
    const std::string h2 = R"({"ok":true,"exit_code":null,"signal":9,"stdout_size":0,"stderr_size":0,)"
                           R"("timed_out":false,"truncated":false,"duration_ms":0})";
    CHECK(encode_result(Protocol::framed, killed) == be32(h2.size()) + h2);
}

TEST_CASE("framed failure", "[encoder]")
{
    const std::string header = R"({"ok":false,"error":"busy","error_code":"busy","exit_code":null,"signal":null,)"
                               R"("stdout_size":0,"stderr_size":0,"timed_out":false,"truncated":false,)"
                               R"("duration_ms":0})";
    CHECK(encode_failure(Protocol::framed, {ErrorKind::busy, "busy"}) == be32(header.size()) + header);
}

TEST_CASE("invalid UTF-8 in an error message is replaced, not thrown", "[encoder]")
{
    const std::string bytes = encode_failure(Protocol::framed, {ErrorKind::not_allowed, "command not allowed: \xff"});
    CHECK_THAT(bytes, Catch::Contains("command not allowed: \xef\xbf\xbd"));
    // The text part of json-header keeps the raw bytes: it is not JSON.
    const std::string jh = encode_failure(Protocol::json_header, {ErrorKind::not_allowed, "command not allowed: \xff"});
    CHECK_THAT(jh, Catch::EndsWith("ringd: command not allowed: \xff\n"));
}

TEST_CASE("output bytes are passed through untouched", "[encoder]")
{
    CommandResult r;
    r.exit_code = 3;
    const std::string binary("\0\xff\x01\n"s);
    r.out = binary;
    const std::string bytes = encode_result(Protocol::framed, r);
    CHECK(bytes.substr(bytes.size() - 4) == binary);
}

TEST_CASE("error kinds map to timeout(1)-style exit codes", "[encoder]")
{
    CHECK(error_exit_code(ErrorKind::not_found) == 127);
    CHECK(error_exit_code(ErrorKind::not_allowed) == 126);
    CHECK(error_exit_code(ErrorKind::cannot_execute) == 126);
    CHECK(error_exit_code(ErrorKind::forbidden) == 126);
    CHECK(error_exit_code(ErrorKind::unauthorized) == 126);
    CHECK(error_exit_code(ErrorKind::busy) == 125);
    CHECK(error_exit_code(ErrorKind::bad_request) == 125);
    CHECK(error_exit_code(ErrorKind::too_large) == 125);
    CHECK(error_exit_code(ErrorKind::internal) == 125);
    CHECK(error_code_name(ErrorKind::cannot_execute) == "cannot_execute");
}
