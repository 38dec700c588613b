// Where json-header and size-prefixed requests end (plugins/remote-cmd/line_assembler.hpp): at a newline,
// or, for the partial request the caller ends, wherever the caller's window says; never at a read boundary.
#include "line_assembler.hpp"

#include <catch2/catch.hpp>

using ringd::remote_cmd::LineAssembler;
using Events = std::vector<LineAssembler::Event>;

namespace {

std::span<const std::byte> bytes(std::string_view s)
{
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::vector<std::string> requests(const Events& events)
{
    std::vector<std::string> out;
    for (const auto& e : events) {
        REQUIRE_FALSE(e.too_large);
        out.push_back(e.bytes);
    }
    return out;
}

} // namespace

TEST_CASE("a newline ends a request at once; the bytes after it begin the next", "[lines]")
{
    LineAssembler a(4096);
    Events out;
    a.feed(bytes("echo a\necho b\r\n\nech"), out);
    CHECK(requests(out) == std::vector<std::string>{"echo a", "echo b\r", ""});
    CHECK(a.has_partial());
    out.clear();
    a.feed(bytes("o c\n"), out);
    CHECK(requests(out) == std::vector<std::string>{"echo c"});
    CHECK_FALSE(a.has_partial());
}

TEST_CASE("a newline inside quotes or after a backslash is part of the request", "[lines]")
{
    LineAssembler a(4096);
    Events out;
    a.feed(bytes("echo 'new\nline' \"a\nb\" c\\\nd \"\\\"\n\"\n"), out);
    CHECK(requests(out) == std::vector<std::string>{"echo 'new\nline' \"a\nb\" c\\\nd \"\\\"\n\""});
    // The quoting state carries over reads, and starts afresh with each request.
    out.clear();
    a.feed(bytes("echo 'x"), out);
    a.feed(bytes("\n"), out);
    a.feed(bytes("y'\n'\n"), out);
    CHECK(requests(out) == std::vector<std::string>{"echo 'x\ny'"});
    CHECK(a.has_partial()); // "'": a quote left open
    CHECK(a.take_partial() == "'\n");
    a.feed(bytes("ls\n"), out);
    CHECK(requests(out).back() == "ls");
}

TEST_CASE("a request split over reads is one request, wherever it is split", "[lines]")
{
    const std::string line = "echo " + std::string(3000, 'A') + " uname -a";
    for (std::size_t chunk : {1u, 2u, 3u, 7u, 1000u, 4096u}) {
        INFO(chunk);
        LineAssembler a(4096);
        Events out;
        for (std::size_t i = 0; i < line.size(); i += chunk)
            a.feed(bytes(std::string_view(line).substr(i, chunk)), out);
        CHECK(out.empty()); // no newline: nothing ends until the caller's window does
        CHECK(a.take_partial() == line);
        CHECK_FALSE(a.has_partial());
    }
}

TEST_CASE("a request above the cap is too_large as soon as its cap+1st byte arrives, then all is ignored", "[lines]")
{
    LineAssembler a(4096);
    Events out;
    // The 10,000-byte line, as the daemon reads it: 4096 + 4096 + 1808 bytes, "uname -a" at 4096.
    const std::string line = "echo " + std::string(4091, 'A') + "uname -a" + std::string(5805, 'B') + "\n";
    a.feed(bytes(line.substr(0, 4096)), out);
    CHECK(out.empty());
    a.feed(bytes(line.substr(4096, 4096)), out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].too_large);
    CHECK(out[0].bytes == "request too large: more than 4096 bytes without a newline");
    CHECK(a.failed());
    CHECK_FALSE(a.has_partial());
    a.feed(bytes(line.substr(8192) + "echo later\n"), out);
    CHECK(out.size() == 1);
}

TEST_CASE("the cap counts the request without its newline", "[lines]")
{
    LineAssembler a(10);
    Events out;
    a.feed(bytes(std::string(10, 'x') + "\n" + std::string(10, 'y')), out);
    CHECK(requests(out) == std::vector<std::string>{std::string(10, 'x')});
    CHECK(a.take_partial() == std::string(10, 'y'));

    LineAssembler b(10);
    out.clear();
    b.feed(bytes(std::string(11, 'x') + "\n"), out); // a newline after too many bytes does not save it
    REQUIRE(out.size() == 1);
    CHECK(out[0].too_large);
}

TEST_CASE("max_events: the rest of a read stays unscanned and comes out in order", "[lines]")
{
    LineAssembler a(4096);
    Events out;
    a.feed(bytes("a\nb\nc\nd\ne"), out, 2);
    CHECK(requests(out) == std::vector<std::string>{"a", "b"});
    CHECK(a.buffered() == 5);
    a.feed(bytes("f\n"), out, 0); // behind the held input, not before it
    CHECK(a.buffered() == 7);
    out.clear();
    a.decode_buffered(out, 10);
    CHECK(requests(out) == std::vector<std::string>{"c", "d", "ef"});
    CHECK(a.buffered() == 0);
    CHECK_FALSE(a.has_partial());
}

TEST_CASE("discard_buffered drops held input and the partial request", "[lines]")
{
    LineAssembler a(4096);
    Events out;
    a.feed(bytes("a\nb\npartial"), out, 1);
    a.discard_buffered();
    CHECK(a.buffered() == 0);
    CHECK_FALSE(a.has_partial());
}
