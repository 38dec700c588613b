// Where a request ends, for every wire format, with the plugin in the plugin test kit (remote_cmd_kit.hpp):
// reads are whatever the test feeds, and the request_assembly window is a timer in the kit's virtual time,
// fired by the test, so segmentation is tested without timing. Also the framed protocol's
// duplicate keys and the allow list's argument policies, end to end through the plugin.
#include "wire_replies.hpp"

#include <string>

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
        RemoteCmd p(line_config(protocol));
        Connection c = p.open();
        c.feed("ech");
        c.feed("o hi");
        CHECK(c.spawns().empty()); // the window has not passed: it may go on
        CHECK(c.output().empty());
        CHECK(c.timers().size() == 1); // one window, restarted by the second read
        p.fire_timer(c);
        REQUIRE(c.spawns().size() == 1);
        CHECK(c.spawns().front().argv.size() == 2);
        CHECK(c.spawns().front().argv[0].ends_with("/echo"));
        CHECK(c.spawns().front().argv[1] == "hi");
        p.complete_ok(c, "hi\n");
        CHECK(c.take_output().ends_with("hi\n"));
        // The tutorial's client: the next command after the reply, again without a newline.
        c.feed("date");
        p.fire_timer(c);
        REQUIRE(c.spawns().size() == 1);
        CHECK(c.spawns().front().argv[0].ends_with("/date"));
        CHECK_FALSE(c.closed());
    }
}

TEST_CASE("line protocols: a newline ends a request at once, and lines are answered in order", "[handler][lines]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        RemoteCmd p(line_config(protocol));
        Connection c = p.open();
        c.feed("echo a\nid\necho b\r\n");
        CHECK(c.timers().empty()); // nothing left to assemble: no window
        REQUIRE(c.spawns().size() == 1);
        CHECK(c.spawns().front().argv[1] == "a");
        p.complete_ok(c, "a\n");
        REQUIRE(c.spawns().size() == 1);
        CHECK(c.spawns().front().argv[1] == "b");
        p.complete_ok(c, "b\n");
        const std::string out = c.take_output();
        CHECK(out.find("a\n") < out.find("command not allowed: id"));
        CHECK(out.find("command not allowed: id") < out.find("b\n"));
    }
}

TEST_CASE("line protocols: the issue's 10,000-byte line in three reads is too_large, and nothing runs",
          "[handler][lines][security]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        RemoteCmd p(line_config(protocol));
        Connection c = p.open();
        const std::string line = "echo " + std::string(4091, 'A') + "uname -a" + std::string(5896, 'B');
        REQUIRE(line.size() == 10'000);
        c.feed(line.substr(0, 4096));
        c.feed(line.substr(4096, 4096));
        c.feed(line.substr(8192));
        CHECK(c.spawns().empty());
        CHECK(error_text(protocol, c.take_output()) ==
              "ringd: request too large: more than 4096 bytes without a newline\n");
        CHECK(c.fin_sent()); // lingering: the rest cannot be told from a next request
        c.feed("echo after\n");
        CHECK(c.spawns().empty());
        CHECK(c.output().empty());
        c.peer_shutdown();
        CHECK(c.closed());
    }
}

TEST_CASE("line protocols: max_request below 4096 is the cap", "[handler][lines]")
{
    RemoteCmd p("protocol: json-header\nallow: [echo]\nmax_request: 16\n");
    Connection c = p.open();
    c.feed("echo 0123456789\n"); // 15 bytes before the newline
    CHECK(c.spawns().size() == 1);
    p.complete_ok(c);
    (void)c.take_output();
    c.feed("echo 0123456789ab");
    CHECK(error_text("json-header", c.take_output()) ==
          "ringd: request too large: more than 16 bytes without a newline\n");
}

TEST_CASE("line protocols: bytes before an unterminated request is answered are refused, not run",
          "[handler][lines][security]")
{
    for (const char* protocol : kLineProtocols) {
        INFO(protocol);
        RemoteCmd p(line_config(protocol));
        Connection c = p.open();
        c.feed("echo A");
        p.fire_timer(c); // the window passed: "echo A" runs
        REQUIRE(c.spawns().size() == 1);
        c.feed("uname -a"); // a late tail, or a second request: either way not a command of its own
        p.fire_timer(c);
        REQUIRE(c.spawns().size() == 1);
        p.complete_ok(c, "A\n");
        CHECK(c.spawns().empty());
        const std::string out = c.take_output();
        CHECK(out.find("A\n") != std::string::npos);
        CHECK(out.find("more bytes arrived before the previous request, which had no newline, was answered") !=
              std::string::npos);
        CHECK(c.fin_sent());
    }
}

TEST_CASE("line protocols: a newline-ended request may be followed at once", "[handler][lines]")
{
    RemoteCmd p(line_config("json-header"));
    Connection c = p.open();
    c.feed("echo 1\n");
    c.feed("echo 2"); // while echo 1 runs: the start of the next request
    p.fire_timer(c);
    p.complete_ok(c, "1\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "2");
    p.complete_ok(c, "2\n");
    CHECK(replies(c.take_output(), false).size() == 2);
    CHECK_FALSE(c.fin_sent());
}

TEST_CASE("line protocols: the peer's FIN ends a partial request without waiting", "[handler][lines]")
{
    RemoteCmd p(line_config("size-prefixed"));
    Connection c = p.open();
    c.feed("ech");
    c.feed("o bye");
    c.peer_shutdown();
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "bye");
    p.complete_ok(c, "bye\n");
    CHECK(c.take_output() == std::string("\x04\0\0\0bye\n", 8));
    CHECK(c.closed());
}

TEST_CASE("line protocols: one read of many lines is queued a part at a time", "[handler][lines][memory]")
{
    RemoteCmd p(line_config("json-header"));
    Connection c = p.open();
    std::string many;
    for (int i = 0; i < 100; ++i)
        many += "echo " + std::to_string(i) + "\n";
    c.feed(many);
    CHECK(c.paused()); // 16 queued, the rest of the read held unscanned
    for (int i = 0; i < 100; ++i) {
        REQUIRE(c.spawns().size() == 1);
        CHECK(c.spawns().front().argv[1] == std::to_string(i));
        p.complete_ok(c);
    }
    CHECK(replies(c.take_output(), false).size() == 100);
    CHECK_FALSE(c.paused());
}

TEST_CASE("framed: a 10,000-byte frame in three reads is one request", "[handler][lines]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    const std::string arg = std::string(4070, 'A') + " uname -a " + std::string(5920, 'B');
    const std::string request = frame(R"({"argv":["echo",")" + arg + R"("]})");
    REQUIRE(request.size() > 10'000);
    for (std::size_t at = 0; at < request.size(); at += 4096)
        c.feed(request.substr(at, 4096));
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == arg);
    CHECK(c.timers().empty()); // framed requests carry their length: no window
}

TEST_CASE("framed: a request with a key written twice is bad_request, and runs neither", "[handler][security]")
{
    RemoteCmd p("protocol: framed\nallow: [echo, date]\n");
    Connection c = p.open();
    c.feed(frame(R"({"argv":["echo","x"],"argv":["date","-s","2020-01-01"]})"));
    CHECK(c.spawns().empty());
    const Reply r = one_reply(c, true);
    CHECK(r.header["ok"] == false);
    CHECK(r.header["error_code"] == "bad_request");
    CHECK(r.header["error"] == "duplicate request field \"argv\"");
    CHECK(c.fin_sent());
}

TEST_CASE("argument policies: date -s is refused, read-only uses run", "[handler][security]")
{
    RemoteCmd p("protocol: json-header\nallow:\n  - {command: date, args: []}\n"
                "  - {command: date, args_pattern: '\\+[%A-Za-z0-9 :._,-]*'}\n");
    Connection c = p.open();
    c.feed("date -s '2020-01-01 00:00'\n");
    CHECK(c.spawns().empty());
    const Reply r = one_reply(c, false);
    CHECK(r.header["exit_code"] == 126);
    CHECK(r.err == "ringd: arguments not allowed for date: -s '2020-01-01 00:00'\n");
    c.feed("date 010100002020\n"); // MMDDhhmmYYYY also sets the clock
    CHECK(c.spawns().empty());
    CHECK(one_reply(c, false).header["exit_code"] == 126);
    c.feed("date\n");
    REQUIRE(c.spawns().size() == 1);
    p.complete_ok(c);
    c.feed("date '+%Y-%m-%d %H:%M'\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "+%Y-%m-%d %H:%M");
}

TEST_CASE("argument policies: a bad entry is a config error naming it", "[handler]")
{
    CHECK(config_error_key("protocol: json-header\nallow: [ls, {command: df, args_pattern: '(['}]\n") ==
          "allow.1.args_pattern");
}
