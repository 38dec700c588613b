// ringdctl's HTTP/1.1: the request it sends, and the strict parser of the admin listener's response.
#include "http_response.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace ringd::ctl;

namespace {

constexpr std::string_view ok_response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                                         "Content-Length: 10\r\nConnection: close\r\n\r\nup 1\nx 22\n";

} // namespace

TEST_CASE("the request is one GET with Connection: close")
{
    CHECK(get_request("/status", "127.0.0.1:9180", "ringdctl/0.1.0") ==
          "GET /status HTTP/1.1\r\nHost: 127.0.0.1:9180\r\nUser-Agent: ringdctl/0.1.0\r\nAccept: */*\r\n"
          "Connection: close\r\n\r\n");
}

TEST_CASE("a Content-Length response is complete exactly when its last body byte has arrived")
{
    // Every strict prefix asks for more, whatever the segmentation; the whole is the response.
    for (std::size_t n = 0; n < ok_response.size(); ++n) {
        INFO("prefix of " << n << " bytes");
        CHECK_FALSE(parse_response(ok_response.substr(0, n), false).has_value());
    }
    const auto response = parse_response(ok_response, false);
    REQUIRE(response);
    CHECK(response->status == 200);
    CHECK(response->reason == "OK");
    CHECK(response->status_line() == "200 OK");
    CHECK(response->body == "up 1\nx 22\n");
    CHECK(response->header("content-type") == "text/plain; version=0.0.4");
    CHECK(response->header("x-missing") == std::nullopt);
    // Bytes past the announced length are not part of the body.
    CHECK(parse_response(std::string(ok_response) + "garbage", false)->body == "up 1\nx 22\n");
}

TEST_CASE("without Content-Length the body ends when the server closes")
{
    const std::string close_delimited = "HTTP/1.0 503 Service Unavailable\r\nServer: x\r\n\r\ndraining\n";
    CHECK_FALSE(parse_response(close_delimited, false).has_value());
    const auto response = parse_response(close_delimited, true);
    REQUIRE(response);
    CHECK(response->status_line() == "503 Service Unavailable");
    CHECK(response->body == "draining\n");
    CHECK(parse_response("HTTP/1.1 200 OK\r\n\r\n", true)->body.empty());
}

TEST_CASE("header names are case-insensitive, values trimmed, the reason optional")
{
    const auto response = parse_response("HTTP/1.1 200\r\nCONTENT-length:   2 \r\nX-A:\t b \r\n\r\nok", false);
    REQUIRE(response);
    CHECK(response->reason.empty());
    CHECK(response->status_line() == "200");
    CHECK(response->header("x-a") == "b");
    CHECK(response->body == "ok");
    CHECK(parse_response("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", false)->reason.empty());
    // The same length twice is one length.
    CHECK(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok", false)->body == "ok");
}

TEST_CASE("responses without a body are complete at the end of the header")
{
    CHECK(parse_response("HTTP/1.1 204 No Content\r\n\r\n", false).has_value());
    CHECK(parse_response("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", false).has_value());
}

TEST_CASE("what is not HTTP is reported at once, without waiting for the server to close")
{
    CHECK_FALSE(parse_response("HTT", false).has_value());
    CHECK_THROWS_MATCHES(parse_response("SSH-2.0-OpenSSH_9.2\r\n", false), BadResponse,
                         Catch::Message("not an HTTP response: \"SSH-2.0-OpenSSH_9.2\\x0d\\x0a\""));
    CHECK_THROWS_WITH(parse_response("{\"json\": 1}", false), Catch::StartsWith("not an HTTP response"));
    CHECK_THROWS_WITH(parse_response(std::string(100, 'x'), false), Catch::EndsWith("...\""));
}

TEST_CASE("malformed responses are refused with what was wrong")
{
    const auto refused = [](std::string text, const std::string& why) {
        INFO(text);
        CHECK_THROWS_MATCHES(parse_response(text, true), BadResponse, Catch::Message(why));
    };
    refused("", "the server closed the connection without answering");
    refused("HTTP/1.1 200 OK\r\nContent-", "the server closed the connection in the middle of the response header");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "the server closed the connection after 3 of 10 body bytes");
    refused("HTTP/2 200 OK\r\n\r\n", "malformed status line \"HTTP/2 200 OK\"");
    refused("HTTP/1.1 20 OK\r\n\r\n", "malformed status line \"HTTP/1.1 20 OK\"");
    refused("HTTP/1.1 200OK\r\n\r\n", "malformed status line \"HTTP/1.1 200OK\"");
    refused("HTTP/1.1 999 What\r\n\r\n", "malformed status line \"HTTP/1.1 999 What\"");
    refused("HTTP/1.1 100 Continue\r\n\r\n", "unexpected interim response 100 Continue to a GET");
    refused("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "malformed header line \"No colon here\"");
    refused("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "malformed header line \"Bad Name: x\"");
    refused("HTTP/1.1 200 OK\r\nA: b\r\n continued\r\n\r\n", "obsolete header line folding in \" continued\"");
    refused("HTTP/1.1 200 OK\r\nA: b\nB: c\r\n\r\n", "control character in header line \"A: b\\x0aB: c\"");
    refused("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "malformed Content-Length \"-1\"");
    refused("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "conflicting Content-Length headers");
    refused("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
            "the response uses Transfer-Encoding: chunked, which ringdctl does not support (the admin listener "
            "sends Content-Length)");
}

TEST_CASE("responses are bounded: 64 KiB of header, 16 MiB of body")
{
    const std::string long_header = "HTTP/1.1 200 OK\r\nX: " + std::string(max_header_bytes, 'a');
    CHECK_THROWS_WITH(parse_response(long_header, false), "the response header is longer than 64 KiB");
    CHECK_THROWS_WITH(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 16777217\r\n\r\n", false),
                      "the response body (16777217 bytes) is larger than 16 MiB");
    CHECK_FALSE(parse_response("HTTP/1.1 200 OK\r\nContent-Length: 16777216\r\n\r\n", false).has_value());
    const std::string endless = "HTTP/1.1 200 OK\r\n\r\n" + std::string(max_body_bytes + 1, 'x');
    CHECK_THROWS_WITH(parse_response(endless, false), "the response body is larger than 16 MiB");
}
