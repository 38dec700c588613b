// The remote-cmd plugin itself, loaded from its .so into the plugin test kit (remote_cmd_kit.hpp): request queueing and
// ordering, the three protocols end to end, limits, tokens, peer credentials, and the concurrency gate across
// connections.
#include "wire_replies.hpp"

#include <cstddef>
#include <pwd.h>
#include <unistd.h>

using namespace wire;
using namespace std::string_literals;

namespace {

const std::string kShipped = "protocol: json-header\nallow: [ls, pwd, date, uptime, whoami, echo, uname, df]\n";

} // namespace

TEST_CASE("descriptor", "[handler]")
{
    CHECK(RemoteCmd::plugin().name() == "remote-cmd");
    CHECK(RemoteCmd::plugin().descriptor().socket_kinds == RINGD_KIND_STREAM);
    CHECK(config_error_key(kShipped) == "(accepted)");
}

TEST_CASE("bad config is reported with its key", "[handler]")
{
    CHECK(config_error_key("protocol: framed\nallow: [ls]\nmax_concurrent: zero\n") == "max_concurrent");
}

TEST_CASE("json-header: an allowed command is spawned with the listener's limits", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.feed("  ls -l /tmp\r\n");
    REQUIRE(c.spawns().size() == 1);
    const SpawnCall call = c.spawns().front();
    CHECK(call.argv.size() == 3);
    CHECK(call.argv[0].ends_with("/ls"));
    CHECK(call.argv[0].front() == '/');
    CHECK(call.argv[1] == "-l");
    CHECK(call.argv[2] == "/tmp");
    CHECK_FALSE(call.envp);
    CHECK_FALSE(call.cwd);
    CHECK(call.timeout_ms == 10'000);
    CHECK(call.max_output == 1024 * 1024);
    CHECK(call.run_as_uid == -1);
    CHECK(c.output().empty());
    p.complete_ok(c, "a\nb\n", "warn\n", 0);
    const std::string header = R"({"total_size":9,"stdout_size":4,"stderr_size":5,"exit_code":0,"signal":null,)"
                               R"("timed_out":false,"truncated":false,"duration_ms":2})";
    CHECK(c.take_output() == std::string{char(header.size()), 0, 0, 0} + header + "a\nb\nwarn\n");
}

TEST_CASE("json-header: a command not on the list is refused and never spawned", "[handler][security]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.feed("rm -rf /\n");
    CHECK(c.spawns().empty());
    const Reply r = one_reply(c, false);
    CHECK(r.header["exit_code"] == 126);
    CHECK(r.err == "ringd: command not allowed: rm\n");
    CHECK(r.header["total_size"] == r.err.size());
    CHECK_FALSE(c.closed());
}

TEST_CASE("json-header: injection probes never reach a shell", "[handler][security]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    for (const char* probe : {"ls; id", "ls $(id)", "`id`", "ls | id", "ls && id", "ls\nid", "ls > /tmp/x"}) {
        INFO(probe);
        c.feed(probe + "\n"s);
        for (const SpawnCall& call : c.spawns()) {
            CHECK(call.argv[0].ends_with("/ls"));
            CHECK(call.argv[0].find("sh") == std::string::npos);
        }
        while (!c.spawns().empty())
            p.complete_ok(c);
    }
}

TEST_CASE("requests on one connection run one at a time and are answered in order", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.feed("echo one\n");
    c.feed("rm x\n"); // refused: answered only after "echo one"
    c.feed("echo three\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.output().empty());
    p.complete_ok(c, "one\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "three");
    p.complete_ok(c, "three\n");
    const auto all = replies(c.take_output(), false);
    REQUIRE(all.size() == 3);
    CHECK(all[0].out == "one\n");
    CHECK(all[1].header["exit_code"] == 126);
    CHECK(all[2].out == "three\n");
}

TEST_CASE("json-header: empty and badly quoted requests", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.feed(" \n");
    c.feed("echo 'unterminated\n"); // the newline is inside the quote: the window ends the request
    CHECK(c.spawns().empty());
    p.fire_timer(c);
    const auto all = replies(c.take_output(), false);
    REQUIRE(all.size() == 2);
    CHECK(all[0].err == "ringd: empty command\n");
    CHECK(all[0].header["exit_code"] == 125);
    CHECK(all[1].err == "ringd: unterminated single quote in the command line\n");
    CHECK(c.spawns().empty());
    CHECK_FALSE(c.closed());
}

TEST_CASE("size-prefixed replies", "[handler]")
{
    RemoteCmd p("protocol: size-prefixed\nallow: [echo]\n");
    Connection c = p.open();
    c.feed("echo hi\n");
    p.complete_ok(c, "hi\n", "e");
    c.feed("cat /etc/shadow\n");
    CHECK(c.take_output() == "\x04\0\0\0hi\ne"s + "\x20\0\0\0ringd: command not allowed: cat\n"s);
}

TEST_CASE("spawn errors", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    p.refuse_next_spawn(EAGAIN);
    c.feed("date\n");
    Reply r = one_reply(c, false);
    CHECK(r.header["exit_code"] == 125);
    CHECK_THAT(r.err, Catch::StartsWith("ringd: cannot start date: "));
    p.refuse_next_spawn(ENOENT); // the daemon reports a vanished binary from spawn() itself
    c.feed("date\n");
    CHECK(one_reply(c, false).err == "ringd: command not found: date\n");

    c.feed("date\n");
    c.complete_spawn(SpawnResult::not_started(ENOENT));
    r = one_reply(c, false);
    CHECK(r.header["exit_code"] == 127);
    CHECK(r.err == "ringd: command not found: date\n");

    c.feed("date\n");
    c.complete_spawn(SpawnResult::not_started(EACCES));
    CHECK(one_reply(c, false).header["exit_code"] == 126);
}

TEST_CASE("timeouts and signals are reported", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.feed("uptime\n");
    SpawnResult res = SpawnResult::killed(9, true);
    res.truncated = true;
    c.complete_spawn(res);
    const Reply r = one_reply(c, false);
    CHECK(r.header["timed_out"] == true);
    CHECK(r.header["truncated"] == true);
    CHECK(r.header["exit_code"] == 137);
    CHECK(r.header["signal"] == 9);
}

TEST_CASE("framed: requests split across arbitrary chunks", "[handler]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\ntimeout: 5s\n");
    Connection c = p.open();
    const std::string bytes =
        frame(R"({"argv":["echo","a b"],"timeout_ms":99999})") + frame(R"({"cmd":"echo 'c d'","timeout_ms":250})");
    for (char ch : bytes)
        c.feed(std::string_view(&ch, 1));
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "a b");
    CHECK(c.spawns().front().timeout_ms == 5000); // capped by the listener
    p.complete_ok(c, "a b\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "c d");
    CHECK(c.spawns().front().timeout_ms == 250);
    p.complete_ok(c, "c d\n", "", 3);
    const auto all = replies(c.take_output(), true);
    REQUIRE(all.size() == 2);
    CHECK(all[0].header["ok"] == true);
    CHECK(all[0].out == "a b\n");
    CHECK(all[1].header["exit_code"] == 3);
    CHECK(all[1].header["duration_ms"] == 2);
}

TEST_CASE("framed: refusals keep the connection, malformed frames end it", "[handler]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    c.feed(frame(R"({"argv":["id"]})"));
    Reply r = one_reply(c, true);
    CHECK(r.header["ok"] == false);
    CHECK(r.header["error"] == "command not allowed: id");
    CHECK(r.header["error_code"] == "not_allowed");
    CHECK_FALSE(c.fin_sent());

    SECTION("invalid JSON")
    {
        c.feed(frame("{nope") + frame(R"({"argv":["echo"]})"));
    }
    SECTION("wrong types")
    {
        c.feed(frame(R"({"argv":"echo"})") + frame(R"({"argv":["echo"]})"));
    }
    SECTION("length 0")
    {
        c.feed(be32(0) + frame(R"({"argv":["echo"]})"));
    }
    SECTION("length above max_request")
    {
        c.feed(be32(64 * 1024 + 1));
    }
    r = one_reply(c, true);
    CHECK(r.header["ok"] == false);
    CHECK(r.header["error_code"] == "bad_request");
    CHECK(c.spawns().empty());
    CHECK(c.fin_sent()); // answered, FIN sent, now discarding input until the peer closes
    CHECK_FALSE(c.closed());
    c.feed(frame(R"({"argv":["echo"]})"));
    CHECK(c.spawns().empty());
    c.peer_shutdown();
    CHECK(c.closed());
}

TEST_CASE("framed: a lingering connection is closed by its timer", "[handler]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    c.feed(frame("[]"));
    CHECK(c.fin_sent());
    CHECK_FALSE(c.closed());
    p.fire_timer(c);
    CHECK(c.closed());
}

TEST_CASE("framed: a malformed frame behind a running command is answered after it", "[handler]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    c.feed(frame(R"({"argv":["echo","1"]})") + frame("bad"));
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.output().empty());
    p.complete_ok(c, "1\n");
    const auto all = replies(c.take_output(), true);
    REQUIRE(all.size() == 2);
    CHECK(all[0].out == "1\n");
    CHECK(all[1].header["ok"] == false);
    CHECK(c.fin_sent());
}

TEST_CASE("framed: a stream ending inside a frame", "[handler]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    c.feed(be32(50) + "{\"argv\":");
    c.peer_shutdown();
    const Reply r = one_reply(c, true);
    CHECK(r.header["ok"] == false);
    CHECK_THAT(r.header["error"].get<std::string>(), Catch::Contains("truncated frame"));
    CHECK(c.closed());
}

TEST_CASE("the peer's FIN: pending work is finished, then the connection closes", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.feed("date");
    c.peer_shutdown();
    CHECK_FALSE(c.closed());
    p.complete_ok(c, "now\n");
    CHECK(one_reply(c, false).out == "now\n");
    CHECK(c.closed());
    CHECK(c.fin_sent()); // closed after flush, not reset
    CHECK_FALSE(c.was_reset());
}

TEST_CASE("tokens", "[handler][security]")
{
    char path[] = "/tmp/remote-cmd-token-XXXXXX";
    const int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "s3cret\n", 7) == 7);
    ::close(fd);
    {
        RemoteCmd p("protocol: framed\nallow: [echo]\ntoken_file: "s + path + "\n");
        Connection good = p.open();
        good.feed(frame(R"({"argv":["echo"],"token":"s3cret"})"));
        CHECK(good.spawns().size() == 1);

        Connection wrong = p.open();
        wrong.feed(frame(R"({"argv":["echo"],"token":"s3creT"})"));
        Reply r = one_reply(wrong, true);
        CHECK(r.header["error_code"] == "unauthorized");
        CHECK(r.header["error"] == "wrong token");
        CHECK(wrong.spawns().empty());
        CHECK(wrong.fin_sent());

        Connection missing = p.open();
        missing.feed(frame(R"({"argv":["echo"]})"));
        r = one_reply(missing, true);
        CHECK(r.header["error"] == "this listener requires a token");
        CHECK(missing.spawns().empty());
    }
    ::unlink(path);
}

TEST_CASE("peer credentials", "[handler][security]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\nallow_uids: [1234]\nallow_gids: [50]\n");
    Connection by_uid = p.open(true, 1234, 1);
    by_uid.feed(frame(R"({"argv":["echo"]})"));
    CHECK(by_uid.spawns().size() == 1);

    Connection by_gid = p.open(true, 77, 50);
    by_gid.feed(frame(R"({"argv":["echo"]})"));
    CHECK(by_gid.spawns().size() == 1);

    Connection stranger = p.open(true, 1000, 1000);
    stranger.feed(frame(R"({"argv":["echo"]})"));
    CHECK(stranger.spawns().empty());
    const Reply r = one_reply(stranger, true);
    CHECK(r.header["error_code"] == "forbidden");
    CHECK_THAT(r.header["error"].get<std::string>(), Catch::Contains("uid 1000"));
    CHECK(stranger.fin_sent());

    Connection tcp = p.open(false, 1234, 50);
    tcp.feed(frame(R"({"argv":["echo"]})"));
    CHECK(tcp.spawns().empty());
    CHECK(one_reply(tcp, true).header["error_code"] == "forbidden");
}

TEST_CASE("peer credentials need the host service", "[handler]")
{
    CHECK(config_error_key("protocol: framed\nallow: [echo]\nallow_uids: [0]\n", false) == "allow_uids");
    CHECK(config_error_key("protocol: framed\nallow: [echo]\n", false) == "(accepted)");
}

TEST_CASE("the gate: max_concurrent across connections, a bounded FIFO, busy", "[handler]")
{
    RemoteCmd p("protocol: json-header\nallow: [date]\nmax_concurrent: 1\nmax_queued: 1\n");
    Connection a = p.open();
    Connection b = p.open();
    Connection c = p.open();
    a.feed("date\n");
    b.feed("date\n");
    c.feed("date\n");
    CHECK(a.spawns().size() == 1);
    CHECK(b.spawns().empty());
    CHECK(b.timers().size() == 1); // waiting, polling the gate
    const Reply busy = one_reply(c, false);
    CHECK(busy.header["exit_code"] == 125);
    CHECK_THAT(busy.err, Catch::StartsWith("ringd: busy: 1 commands already running"));

    p.fire_timer(b); // still full: keeps waiting
    CHECK(b.spawns().empty());
    CHECK(b.timers().size() == 1);
    p.complete_ok(a, "t\n");
    p.fire_timer(b);
    CHECK(b.spawns().size() == 1);
    CHECK(b.timers().empty());
    // The slot is taken again: a newcomer waits.
    c.feed("date\n");
    CHECK(c.spawns().empty());
    CHECK(c.timers().size() == 1);
}

TEST_CASE("the gate: a closed connection gives back its slot and its place", "[handler]")
{
    RemoteCmd p("protocol: json-header\nallow: [date]\nmax_concurrent: 1\nmax_queued: 2\n");
    Connection a = p.open();
    Connection b = p.open();
    Connection c = p.open();
    a.feed("date\n");
    b.feed("date\n");
    c.feed("date\n");
    b.reset(); // waiting, then gone
    a.reset(); // running, then gone: the host killed the child
    p.fire_timer(c);
    CHECK(c.spawns().size() == 1);
}

TEST_CASE("the gate: waiting longer than queue_timeout is busy", "[handler]")
{
    RemoteCmd p("protocol: json-header\nallow: [date]\nmax_concurrent: 1\nqueue_timeout: 1ms\n");
    Connection a = p.open();
    Connection b = p.open();
    a.feed("date\n");
    b.feed("date\n");
    ::usleep(3000);
    p.fire_timer(b);
    CHECK(b.spawns().empty());
    CHECK_THAT(one_reply(b, false).err, Catch::Contains("busy"));
    p.complete_ok(a);
    b.feed("date\n"); // the queue is empty again: straight through
    CHECK(b.spawns().size() == 1);
}

TEST_CASE("too many queued requests pause reading until they drain", "[handler]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    for (int i = 0; i < 17; ++i)
        c.feed("date\n");
    CHECK(c.paused());
    for (int i = 0; i < 10; ++i)
        p.complete_ok(c);
    CHECK_FALSE(c.paused());
}

// A client that pipelines requests and never reads: remote-cmd must not keep running them and piling their
// replies into ringd's memory. The fake host holds owned reply buffers until transmit(), as ringd does until
// the kernel has taken them.
TEST_CASE("a large reply not yet sent holds back the next command; small ones do not", "[handler][memory]")
{
    RemoteCmd p("protocol: framed\nallow: [echo, head]\n");
    Connection c = p.open();
    c.hold_output(true);
    c.feed(frame(R"({"argv":["head","-c","100000","/dev/zero"]})") + frame(R"({"argv":["echo","2"]})") +
           frame(R"({"argv":["echo","3"]})"));
    REQUIRE(c.spawns().size() == 1);
    p.complete_ok(c, std::string(100'000, '\0')); // more than 64 KiB: the client must take it first
    CHECK(c.spawns().empty());
    CHECK(c.timers().size() == 1); // re-checks from a timer (there is no "sent" callback)
    p.fire_timer(c);
    CHECK(c.spawns().empty());
    CHECK(c.timers().size() == 1);
    c.drain();
    p.fire_timer(c);
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "2");
    CHECK(c.timers().empty());
    p.complete_ok(c, "2\n"); // small, so the next starts although this reply is still queued
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[1] == "3");
    p.complete_ok(c, std::string(100'000, 'z'));
    CHECK(c.timers().empty()); // nothing queued: an unsent reply alone is no reason to poll
    c.drain();                 // the client reads at last
    const auto all = replies(c.take_output(), true);
    REQUIRE(all.size() == 3);
    CHECK(all[0].out.size() == 100'000);
    CHECK(all[1].out == "2\n");
    CHECK(all[2].out == std::string(100'000, 'z'));
}

TEST_CASE("json-header: a large unsent reply holds back the next command too", "[handler][memory]")
{
    RemoteCmd p(kShipped);
    Connection c = p.open();
    c.hold_output(true);
    c.feed("df\n");
    c.feed("date\n");
    p.complete_ok(c, std::string(70'000, 'd'));
    CHECK(c.spawns().empty());
    c.drain();
    p.fire_timer(c);
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv[0].ends_with("/date"));
}

TEST_CASE("while replies are not read, polling backs off; it starts over once they are", "[handler][memory]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    c.hold_output(true);
    c.feed(frame(R"({"argv":["echo","1"]})") + frame(R"({"argv":["echo","2"]})") + frame(R"({"argv":["echo","3"]})"));
    p.complete_ok(c, std::string(80'000, '1'));
    std::vector<uint64_t> delays;
    for (int i = 0; i < 10; ++i) {
        REQUIRE(c.timers().size() == 1);
        delays.push_back(c.timers().front().delay_ms);
        if (i < 9) p.fire_timer(c);
    }
    CHECK(delays == std::vector<uint64_t>{1, 2, 4, 8, 16, 32, 64, 64, 64, 64});
    CHECK(c.spawns().empty());
    c.drain();
    p.fire_timer(c);
    REQUIRE(c.spawns().size() == 1);
    p.complete_ok(c, std::string(80'000, '2'));
    REQUIRE(c.timers().size() == 1);
    CHECK(c.timers().front().delay_ms == 1);
}

TEST_CASE("reply buffers freed after on_close touch nothing of the connection", "[handler][memory]")
{
    // ringd frees a closed connection's output queue after on_close has freed the plugin's state (ASan
    // reports a use after free here if the free callback reaches into that state).
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    c.hold_output(true);
    c.feed(frame(R"({"argv":["echo","1"]})") + frame(R"({"argv":["echo","2"]})"));
    p.complete_ok(c, std::string(80'000, '1'));
    REQUIRE(c.queued_output() > 80'000);
    CHECK(c.spawns().empty()); // "echo 2" waits for the reply to leave
    c.reset();
    CHECK(c.queued_output() == 0);
}

TEST_CASE("one read of many frames is queued a part at a time and answered in order", "[handler][memory]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    std::string bytes;
    for (int i = 0; i < 40; ++i)
        bytes += frame(R"({"argv":["echo",")" + std::to_string(i) + R"("]})");
    c.feed(bytes + be32(50) + "{\"argv\":"); // and a last frame the stream ends inside
    c.peer_shutdown();
    CHECK(c.paused());
    for (int i = 0; i < 40; ++i) {
        REQUIRE(c.spawns().size() == 1);
        CHECK(c.spawns().front().argv[1] == std::to_string(i));
        CHECK_FALSE(c.closed());
        p.complete_ok(c, std::to_string(i) + "\n");
    }
    CHECK_FALSE(c.paused());
    const auto all = replies(c.take_output(), true);
    REQUIRE(all.size() == 41);
    for (int i = 0; i < 40; ++i)
        CHECK(all[static_cast<std::size_t>(i)].out == std::to_string(i) + "\n");
    CHECK_THAT(all[40].header["error"].get<std::string>(), Catch::Contains("truncated frame"));
    CHECK(c.closed());
}

TEST_CASE("a read of many refused requests is answered in full at once", "[handler][memory]")
{
    RemoteCmd p("protocol: framed\nallow: [echo]\n");
    Connection c = p.open();
    std::string bytes;
    for (int i = 0; i < 100; ++i)
        bytes += frame(R"({"argv":["id"]})");
    c.feed(bytes);
    const auto all = replies(c.take_output(), true);
    CHECK(all.size() == 100);
    CHECK_FALSE(c.paused());
}

TEST_CASE("shell mode runs /bin/sh -c LINE", "[handler]")
{
    RemoteCmd p("protocol: json-header\nshell: true\nallow: ['*']\n");
    CHECK(p.logged("ARBITRARY shell"));
    Connection c = p.open();
    c.feed("ls | wc -l\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().argv == std::vector<std::string>{"/bin/sh", "-c", "ls | wc -l"});
}

TEST_CASE("run_as is passed to spawn", "[handler]")
{
    if (::geteuid() != 0) return;
    RemoteCmd p("protocol: json-header\nallow: [whoami]\nrun_as: nobody\n");
    Connection c = p.open();
    c.feed("whoami\n");
    REQUIRE(c.spawns().size() == 1);
    CHECK(c.spawns().front().run_as_uid == 65534);
    CHECK(c.spawns().front().run_as_gid == 65534);
}

TEST_CASE("a failure before exec names its step; an older host's result is read as an exec failure", "[handler]")
{
    // run_as as ringd's own user is accepted without root, so this runs either way.
    const passwd* me = ::getpwuid(::geteuid());
    REQUIRE(me != nullptr);
    const std::string user = me->pw_name;
    RemoteCmd p("protocol: framed\nallow: [date]\nrun_as: " + user + "\n");
    Connection c = p.open();
    const std::string request = frame(R"({"argv":["date"]})");

    p.kit.clear_logs();
    c.feed(request);
    SpawnResult res = SpawnResult::not_started(EPERM, RINGD_SPAWN_STEP_CREDENTIALS);
    c.complete_spawn(res);
    Reply r = one_reply(c, true);
    CHECK(r.header["ok"] == false);
    CHECK(r.header["error_code"] == "cannot_execute");
    CHECK(r.header["error"] == "cannot switch to user " + user + ": Operation not permitted");
    CHECK(p.logged("cannot switch to user " + user)); // the operator has to fix it, so the log says it too

    c.feed(request);
    c.complete_spawn(SpawnResult::not_started(ENOENT, RINGD_SPAWN_STEP_CWD));
    r = one_reply(c, true);
    CHECK(r.header["error_code"] == "internal"); // not "command not found": date exists
    CHECK(r.header["error"] == "cannot enter the working directory for date: No such file or directory");

    c.feed(request);
    res.struct_size = uint32_t(offsetof(ringd_spawn_result, spawn_step)); // an older host: spawn_step not there
    c.complete_spawn(res);
    r = one_reply(c, true);
    CHECK(r.header["error_code"] == "cannot_execute");
    CHECK(r.header["error"] == "cannot execute date: Operation not permitted");
}

TEST_CASE("end to end with a real child", "[handler]")
{
    RemoteCmd p("protocol: json-header\nallow: [echo, sh]\n");
    Connection c = p.open();
    c.feed("echo 'hello  world' ';' '$(id)'\n");
    REQUIRE(c.spawns().size() == 1);
    const RealRun run = run_for_real(c.spawns().front());
    p.complete_ok(c, run.out, run.err, WEXITSTATUS(run.status));
    const Reply r = one_reply(c, false);
    CHECK(r.out == "hello  world ; $(id)\n");
    CHECK(r.header["exit_code"] == 0);
}
