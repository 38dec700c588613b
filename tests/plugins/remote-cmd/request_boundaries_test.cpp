// Where a request ends, for every wire format, with the plugin driven through its C ABI by the fake host
// (fake_host.hpp): reads are whatever the test hands to on_data, and the request_assembly window is the fake
// host's timer, fired by the test, so segmentation is tested without timing. Also the framed protocol's
// duplicate keys and the allow list's argument policies, end to end through the plugin.
#include "fake_host.hpp"
#include "wire_replies.hpp"

#include <string>

using fake::Plugin;
using namespace wire;

namespace {

const char* const kLineProtocols[] = {"json-header", "size-prefixed"};

std::string line_config(const std::string& protocol)
{
    return "protocol: " + protocol + "\nallow: [echo, date, uname]\n";
}

// The text of the one error reply in `bytes`: the stderr part (json-header) or the whole body (size-prefixed).
std::string error_text(const std::string& protocol, const std::string& bytes)
{
    if (protocol == "json-header") {
        const auto all = replies(bytes, false);
        REQUIRE(all.size() == 1);
        CHECK(all[0].header["exit_code"] == 125);
        return all[0].err;
    }
    REQUIRE(bytes.size() >= 4);
    CHECK(le32_at(bytes) == bytes.size() - 4);
    return bytes.substr(4);
}

} // namespace

TEST_CASE("line protocols: a request split over reads within the window is one request", "[handler][lines]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        Plugin p(line_config(protocol));
        ringd_conn& c = p.open();
        p.data(c, "ech");
        p.data(c, "o hi");
        CHECK(c.spawns.empty()); // the window has not passed: it may go on
        CHECK(c.out.empty());
        CHECK(c.timers.size() == 1); // one window, restarted by the second read
        p.fire_timers(c);
        REQUIRE(c.spawns.size() == 1);
        CHECK(c.spawns.front().argv.size() == 2);
        CHECK(c.spawns.front().argv[0].ends_with("/echo"));
        CHECK(c.spawns.front().argv[1] == "hi");
        p.complete_ok(c, "hi\n");
        CHECK(c.take().ends_with("hi\n"));
        // The tutorial's client: the next command after the reply, again without a newline.
        p.data(c, "date");
        p.fire_timers(c);
        REQUIRE(c.spawns.size() == 1);
        CHECK(c.spawns.front().argv[0].ends_with("/date"));
        CHECK_FALSE(c.closed);
    }
}

TEST_CASE("line protocols: a newline ends a request at once, and lines are answered in order", "[handler][lines]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        Plugin p(line_config(protocol));
        ringd_conn& c = p.open();
        p.data(c, "echo a\nid\necho b\r\n");
        CHECK(c.timers.empty()); // nothing left to assemble: no window
        REQUIRE(c.spawns.size() == 1);
        CHECK(c.spawns.front().argv[1] == "a");
        p.complete_ok(c, "a\n");
        REQUIRE(c.spawns.size() == 1);
        CHECK(c.spawns.front().argv[1] == "b");
        p.complete_ok(c, "b\n");
        const std::string out = c.take();
        CHECK(out.find("a\n") < out.find("command not allowed: id"));
        CHECK(out.find("command not allowed: id") < out.find("b\n"));
    }
}

TEST_CASE("line protocols: the issue's 10,000-byte line in three reads is too_large, and nothing runs",
          "[handler][lines][security]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        Plugin p(line_config(protocol));
        ringd_conn& c = p.open();
        const std::string line = "echo " + std::string(4091, 'A') + "uname -a" + std::string(5896, 'B');
        REQUIRE(line.size() == 10'000);
        p.data(c, line.substr(0, 4096));
        p.data(c, line.substr(4096, 4096));
        p.data(c, line.substr(8192));
        CHECK(c.spawns.empty());
        CHECK(error_text(protocol, c.take()) == "ringd: request too large: more than 4096 bytes without a newline\n");
        CHECK(c.write_shut); // lingering: the rest cannot be told from a next request
        p.data(c, "echo after\n");
        CHECK(c.spawns.empty());
        CHECK(c.out.empty());
        p.peer_shutdown(c);
        CHECK(c.closed);
    }
}

TEST_CASE("line protocols: max_request below 4096 is the cap", "[handler][lines]")
{
    Plugin p("protocol: json-header\nallow: [echo]\nmax_request: 16\n");
    ringd_conn& c = p.open();
    p.data(c, "echo 0123456789\n"); // 15 bytes before the newline
    CHECK(c.spawns.size() == 1);
    p.complete_ok(c);
    (void)c.take();
    p.data(c, "echo 0123456789ab");
    CHECK(error_text("json-header", c.take()) == "ringd: request too large: more than 16 bytes without a newline\n");
}

TEST_CASE("line protocols: bytes before an unterminated request is answered are refused, not run",
          "[handler][lines][security]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        Plugin p(line_config(protocol));
        ringd_conn& c = p.open();
        p.data(c, "echo A");
        p.fire_timers(c); // the window passed: "echo A" runs
        REQUIRE(c.spawns.size() == 1);
        p.data(c, "uname -a"); // a late tail, or a second request: either way not a command of its own
        p.fire_timers(c);
        REQUIRE(c.spawns.size() == 1);
        p.complete_ok(c, "A\n");
        CHECK(c.spawns.empty());
        const std::string out = c.take();
        CHECK(out.find("A\n") != std::string::npos);
        CHECK(out.find("more bytes arrived before the previous request, which had no newline, was answered") !=
              std::string::npos);
        CHECK(c.write_shut);
    }
}

TEST_CASE("line protocols: a newline-ended request may be followed at once", "[handler][lines]")
{
    Plugin p(line_config("json-header"));
    ringd_conn& c = p.open();
    p.data(c, "echo 1\n");
    p.data(c, "echo 2"); // while echo 1 runs: the start of the next request
    p.fire_timers(c);
    p.complete_ok(c, "1\n");
    REQUIRE(c.spawns.size() == 1);
    CHECK(c.spawns.front().argv[1] == "2");
    p.complete_ok(c, "2\n");
    CHECK(replies(c.take(), false).size() == 2);
    CHECK_FALSE(c.write_shut);
}

TEST_CASE("line protocols: the peer's FIN ends a partial request without waiting", "[handler][lines]")
{
    Plugin p(line_config("size-prefixed"));
    ringd_conn& c = p.open();
    p.data(c, "ech");
    p.data(c, "o bye");
    p.peer_shutdown(c);
    REQUIRE(c.spawns.size() == 1);
    CHECK(c.spawns.front().argv[1] == "bye");
    p.complete_ok(c, "bye\n");
    CHECK(c.take() == std::string("\x04\0\0\0bye\n", 8));
    CHECK(c.closed);
}

TEST_CASE("line protocols: one read of many lines is queued a part at a time", "[handler][lines][memory]")
{
    Plugin p(line_config("json-header"));
    ringd_conn& c = p.open();
    std::string many;
    for (int i = 0; i < 100; ++i)
        many += "echo " + std::to_string(i) + "\n";
    p.data(c, many);
    CHECK(c.paused); // 16 queued, the rest of the read held unscanned
    for (int i = 0; i < 100; ++i) {
        REQUIRE(c.spawns.size() == 1);
        CHECK(c.spawns.front().argv[1] == std::to_string(i));
        p.complete_ok(c);
    }
    CHECK(replies(c.take(), false).size() == 100);
    CHECK_FALSE(c.paused);
}

TEST_CASE("framed: a 10,000-byte frame in three reads is one request", "[handler][lines]")
{
    Plugin p("protocol: framed\nallow: [echo]\n");
    ringd_conn& c = p.open();
    const std::string arg = std::string(4070, 'A') + " uname -a " + std::string(5920, 'B');
    const std::string request = frame(R"({"argv":["echo",")" + arg + R"("]})");
    REQUIRE(request.size() > 10'000);
    for (std::size_t at = 0; at < request.size(); at += 4096)
        p.data(c, request.substr(at, 4096));
    REQUIRE(c.spawns.size() == 1);
    CHECK(c.spawns.front().argv[1] == arg);
    CHECK(c.timers.empty()); // framed requests carry their length: no window
}

TEST_CASE("framed: a request with a key written twice is bad_request, and runs neither", "[handler][security]")
{
    Plugin p("protocol: framed\nallow: [echo, date]\n");
    ringd_conn& c = p.open();
    p.data(c, frame(R"({"argv":["echo","x"],"argv":["date","-s","2020-01-01"]})"));
    CHECK(c.spawns.empty());
    const Reply r = one_reply(c, true);
    CHECK(r.header["ok"] == false);
    CHECK(r.header["error_code"] == "bad_request");
    CHECK(r.header["error"] == "duplicate request field \"argv\"");
    CHECK(c.write_shut);
}

TEST_CASE("argument policies: date -s is refused, read-only uses run", "[handler][security]")
{
    Plugin p("protocol: json-header\nallow:\n  - {command: date, args: []}\n"
             "  - {command: date, args_pattern: '\\+[%A-Za-z0-9 :._,-]*'}\n");
    REQUIRE(p.created());
    ringd_conn& c = p.open();
    p.data(c, "date -s '2020-01-01 00:00'\n");
    CHECK(c.spawns.empty());
    const Reply r = one_reply(c, false);
    CHECK(r.header["exit_code"] == 126);
    CHECK(r.err == "ringd: arguments not allowed for date: -s '2020-01-01 00:00'\n");
    p.data(c, "date 010100002020\n"); // MMDDhhmmYYYY also sets the clock
    CHECK(c.spawns.empty());
    CHECK(one_reply(c, false).header["exit_code"] == 126);
    p.data(c, "date\n");
    REQUIRE(c.spawns.size() == 1);
    p.complete_ok(c);
    p.data(c, "date '+%Y-%m-%d %H:%M'\n");
    REQUIRE(c.spawns.size() == 1);
    CHECK(c.spawns.front().argv[1] == "+%Y-%m-%d %H:%M");
}

TEST_CASE("argument policies: a bad entry is a config error naming it", "[handler]")
{
    Plugin p("protocol: json-header\nallow: [ls, {command: df, args_pattern: '(['}]\n");
    CHECK_FALSE(p.created());
    CHECK(std::string(p.error().key) == "allow.1.args_pattern");
}
