// HttpRequestParser: what it accepts, in one piece and byte by byte, and every refusal with its status.
#include "observability/http_request.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace ringd::observability;
using State = HttpRequestParser::State;

namespace {

// Feeds `text` one byte at a time (the worst split), returning the final state.
State feed_bytewise(HttpRequestParser& p, const std::string& text)
{
    State s = State::incomplete;
    for (char c : text)
        s = p.feed(std::string_view(&c, 1));
    return s;
}

// The status a whole request head gets: 0 when accepted.
int status_of(const std::string& head)
{
    HttpRequestParser p;
    const State s = p.feed(head);
    REQUIRE(s != State::incomplete);
    // Byte by byte it must come to the same verdict.
    HttpRequestParser q;
    REQUIRE(feed_bytewise(q, head) == s);
    REQUIRE(q.error_status() == p.error_status());
    return s == State::complete ? 0 : p.error_status();
}

} // namespace

TEST_CASE("a plain GET is accepted, in one piece or byte by byte")
{
    const std::string head = "GET /metrics?name=x HTTP/1.1\r\nHost: localhost:9180\r\nUser-Agent: test\r\n"
                             "Accept: */*\r\n\r\n";
    HttpRequestParser whole;
    REQUIRE(whole.feed(head) == State::complete);
    CHECK(whole.request().method == "GET");
    CHECK(whole.request().target == "/metrics?name=x");
    CHECK(whole.request().path == "/metrics");
    CHECK(whole.request().minor_version == 1);
    HttpRequestParser split;
    CHECK(feed_bytewise(split, head) == State::complete);
    CHECK(split.request().path == "/metrics");
}

TEST_CASE("what follows a complete head changes nothing")
{
    HttpRequestParser p;
    REQUIRE(p.feed("GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\n") == State::complete);
    CHECK(p.feed("garbage\n\n") == State::complete);
    CHECK(p.request().path == "/");
}

TEST_CASE("an incomplete head stays incomplete until its empty line")
{
    HttpRequestParser p;
    CHECK_FALSE(p.started());
    CHECK(p.feed("GET / HTTP/1.1\r\nHost: a\r\n") == State::incomplete);
    CHECK(p.started());
    CHECK(p.feed("\r") == State::incomplete);
    CHECK(p.feed("\n") == State::complete);
}

TEST_CASE("HTTP/1.0 needs no Host; OWS around a value and header case do not matter")
{
    CHECK(status_of("GET /healthz HTTP/1.0\r\n\r\n") == 0);
    CHECK(status_of("GET /healthz HTTP/1.1\r\nhOsT:\t a \t\r\n\r\n") == 0);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n") == 0);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nX-Bytes: caf\xc3\xa9\r\n\r\n") == 0); // obs-text
}

TEST_CASE("malformed requests get 400")
{
    CHECK(status_of("GET / HTTP/1.1\nHost: a\n\n") == 400);                  // bare LF
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\n\r\n") == 400);              // one bare LF
    CHECK(status_of("\r\n") == 400);                                         // empty request line
    CHECK(status_of("GET  / HTTP/1.1\r\n\r\n") == 400);                      // two spaces
    CHECK(status_of("GET / HTTP/1.1 \r\n\r\n") == 400);                      // trailing space
    CHECK(status_of("GET /\r\n\r\n") == 400);                                // no version
    CHECK(status_of("G(T / HTTP/1.1\r\n\r\n") == 400);                       // method not a token
    CHECK(status_of("GET metrics HTTP/1.1\r\n\r\n") == 400);                 // not origin-form
    CHECK(status_of("GET http://a/metrics HTTP/1.1\r\n\r\n") == 400);        // absolute-form
    CHECK(status_of("GET /a\x01 HTTP/1.1\r\n\r\n") == 400);                  // control byte in target
    CHECK(status_of("GET / HTTP/1.1x\r\n\r\n") == 400);                      // not a version
    CHECK(status_of("GET / http/1.1\r\n\r\n") == 400);                       // case matters
    CHECK(status_of("GET / HTTP/1.1\r\n\r\n") == 400);                       // HTTP/1.1 without Host
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400); // two Hosts
    CHECK(status_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n") == 400); // two Hosts in 1.0 too
    CHECK(status_of("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);           // space before the colon
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n") == 400); // obs-fold
    CHECK(status_of("GET / HTTP/1.1\r\nHost a\r\n\r\n") == 400);             // no colon
    CHECK(status_of("GET / HTTP/1.1\r\n: a\r\n\r\n") == 400);                // empty name
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n") == 400);        // DEL in a value
    const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
    CHECK(status_of(std::string(nul, sizeof nul - 1)) == 400);       // NUL in a value
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n") == 400); // CR inside a line
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -0\r\n\r\n") == 400);
    CHECK(status_of("GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
}

TEST_CASE("a method other than GET gets 405, at once")
{
    HttpRequestParser p;
    CHECK(p.feed("POST /metrics HTTP/1.1\r\n") == State::failed); // without waiting for the headers
    CHECK(p.error_status() == 405);
    CHECK(status_of("HEAD /healthz HTTP/1.1\r\nHost: a\r\n\r\n") == 405);
    CHECK(status_of("get /healthz HTTP/1.1\r\nHost: a\r\n\r\n") == 405); // methods are case-sensitive
}

TEST_CASE("an HTTP version other than 1.0 and 1.1 gets 505")
{
    CHECK(status_of("GET / HTTP/2.0\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/1.2\r\n\r\n") == 505);
    CHECK(status_of("GET / HTTP/0.9\r\n\r\n") == 505);
}

TEST_CASE("a head longer than 8 KiB gets 413, and the parser never holds more")
{
    const std::string start = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: ";
    SECTION("in one piece")
    {
        HttpRequestParser p;
        CHECK(p.feed(start + std::string(9000, 'x') + "\r\n\r\n") == State::failed);
        CHECK(p.error_status() == 413);
    }
    SECTION("trickled")
    {
        HttpRequestParser p;
        State s = p.feed(start);
        for (int i = 0; i < 20000 && s == State::incomplete; ++i)
            s = p.feed("x");
        CHECK(s == State::failed);
        CHECK(p.error_status() == 413);
    }
    SECTION("exactly at the limit is still fine")
    {
        const std::string end = "\r\n\r\n";
        const std::string head =
            start + std::string(HttpRequestParser::max_head_bytes - start.size() - end.size(), 'x') + end;
        REQUIRE(head.size() == HttpRequestParser::max_head_bytes);
        CHECK(status_of(head) == 0);
        CHECK(status_of(start + "x" + head.substr(start.size())) == 413);
    }
    SECTION("a broken line is still answered 400 when it comes first")
    {
        HttpRequestParser p;
        CHECK(p.feed("GET / HTTP/1.1\nHost: " + std::string(9000, 'x')) == State::failed);
        CHECK(p.error_status() == 400);
    }
}
