// ringd-cmd's protocol side (tools/ringd-cmd/cmd_client.hpp): request bytes, reply decoding over a
// socketpair with hand-written replies, exit statuses, and URL parsing.
#include "argv_splitter.hpp"
#include "cmd_client.hpp"

#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace ringd::cmd_client;
using namespace std::string_literals;

namespace {

// A reply fed through a socketpair, with stdout/stderr captured through pipes.
struct Exchange {
    Reply reply;
    std::string out, err;
};

std::string drain(int fd)
{
    std::string s;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(fd, buffer, sizeof buffer)) > 0)
        s.append(buffer, static_cast<std::size_t>(n));
    return s;
}

Exchange exchange(WireProtocol protocol, const std::string& server_bytes)
{
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    int out_pipe[2];
    int err_pipe[2];
    REQUIRE(::pipe(out_pipe) == 0);
    REQUIRE(::pipe(err_pipe) == 0);
    // Write in small pieces from another thread so the reader sees arbitrary chunking.
    std::thread server([&] {
        for (std::size_t i = 0; i < server_bytes.size(); i += 3) {
            const auto piece = server_bytes.substr(i, 3);
            (void)!::write(sv[1], piece.data(), piece.size());
        }
        ::close(sv[1]);
    });
    Exchange e;
    try {
        e.reply = read_reply(sv[0], protocol, out_pipe[1], err_pipe[1]);
    } catch (...) {
        server.join();
        ::close(sv[0]);
        ::close(out_pipe[0]);
        ::close(out_pipe[1]);
        ::close(err_pipe[0]);
        ::close(err_pipe[1]);
        throw;
    }
    server.join();
    ::close(sv[0]);
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    e.out = drain(out_pipe[0]);
    e.err = drain(err_pipe[0]);
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    return e;
}

std::string le32(uint32_t n)
{
    return {char(n & 0xff), char((n >> 8) & 0xff), char((n >> 16) & 0xff), char(n >> 24)};
}
std::string be32(uint32_t n)
{
    return {char(n >> 24), char((n >> 16) & 0xff), char((n >> 8) & 0xff), char(n & 0xff)};
}

} // namespace

TEST_CASE("framed request bytes", "[client]")
{
    Request r;
    r.argv = {"ls", "-l", "a b"};
    const std::string body = R"({"argv":["ls","-l","a b"]})";
    CHECK(encode_request(WireProtocol::framed, r) == be32(body.size()) + body);
    r.token = "t";
    r.timeout_ms = 500;
    const std::string body2 = R"({"argv":["ls","-l","a b"],"timeout_ms":500,"token":"t"})";
    CHECK(encode_request(WireProtocol::framed, r) == be32(body2.size()) + body2);
    Request line;
    line.argv = {"ls", "|", "wc"};
    line.as_line = true;
    const std::string body3 = R"({"cmd":"ls | wc"})";
    CHECK(encode_request(WireProtocol::framed, line) == be32(body3.size()) + body3);
}

TEST_CASE("json-header request bytes quote arguments so the server splits them back", "[client]")
{
    Request r;
    r.argv = {"echo", "a b", "it's", "$(id)", ""};
    const std::string bytes = encode_request(WireProtocol::json_header, r);
    CHECK(bytes == R"(echo 'a b' 'it'\''s' '$(id)' '')"
                   "\n"); // a newline ends the request at once
    CHECK(ringd::remote_cmd::split_command_line(bytes).argv == r.argv);
    r.argv = {"echo", std::string(5000, 'x')};
    CHECK_THROWS_WITH(encode_request(WireProtocol::json_header, r), Catch::Contains("too long for json-header"));
    r.argv = {"echo"};
    r.token = "t";
    CHECK_THROWS_WITH(encode_request(WireProtocol::json_header, r), Catch::Contains("--token-file needs"));
    r.argv = {"a\0b"s};
    r.token.reset();
    CHECK_THROWS(encode_request(WireProtocol::json_header, r));
}

TEST_CASE("json-header reply decoding", "[client]")
{
    const std::string header = R"({"total_size":7,"stdout_size":3,"stderr_size":4,"exit_code":3,"timed_out":false,)"
                               R"("truncated":false})";
    const Exchange e = exchange(WireProtocol::json_header, le32(header.size()) + header + "out" + "err!");
    CHECK(e.out == "out");
    CHECK(e.err == "err!");
    CHECK(e.reply.exit_status == 3);
    CHECK(e.reply.error.empty());
}

TEST_CASE("framed reply decoding and exit statuses", "[client]")
{
    const std::string ok = R"({"ok":true,"exit_code":null,"signal":15,"stdout_size":1,"stderr_size":0,)"
                           R"("timed_out":false,"truncated":false,"duration_ms":1})";
    Exchange e = exchange(WireProtocol::framed, be32(ok.size()) + ok + "x");
    CHECK(e.out == "x");
    CHECK(e.reply.exit_status == 143);

    const std::string refused = R"({"ok":false,"error":"command not allowed: rm","error_code":"not_allowed",)"
                                R"("stdout_size":0,"stderr_size":0})";
    e = exchange(WireProtocol::framed, be32(refused.size()) + refused);
    CHECK(e.reply.exit_status == 126);
    CHECK(e.reply.error == "command not allowed: rm");
}

TEST_CASE("malformed replies are errors, not hangs", "[client]")
{
    CHECK_THROWS_WITH(exchange(WireProtocol::framed, ""), Catch::Contains("closed the connection"));
    CHECK_THROWS_WITH(exchange(WireProtocol::framed, be32(0)), Catch::Contains("header length 0"));
    CHECK_THROWS_WITH(exchange(WireProtocol::framed, be32(10) + "{}"), Catch::Contains("closed the connection"));
    CHECK_THROWS_WITH(exchange(WireProtocol::framed, be32(2) + "[]"), Catch::Contains("not a JSON object"));
    CHECK_THROWS_WITH(exchange(WireProtocol::framed, be32(2) + "{}"), Catch::Contains("stdout_size"));
    const std::string h = R"({"stdout_size":5,"stderr_size":0})";
    CHECK_THROWS_WITH(exchange(WireProtocol::framed, be32(h.size()) + h + "ab"), Catch::Contains("stdout"));
    // A size-prefixed or other server answering a json-header client: the "header length" is nonsense.
    CHECK_THROWS_WITH(exchange(WireProtocol::json_header, le32(0x7fffffff)), Catch::Contains("another protocol"));
}

TEST_CASE("exit status mapping", "[client]")
{
    using nlohmann::json;
    CHECK(exit_status_for(WireProtocol::json_header, json{{"exit_code", 0}}) == 0);
    CHECK(exit_status_for(WireProtocol::json_header, json{{"exit_code", 143}, {"timed_out", true}}) == 124);
    CHECK(exit_status_for(WireProtocol::json_header, json{{"exit_code", 127}}) == 127);
    CHECK(exit_status_for(WireProtocol::json_header, json{{"exit_code", -1}}) == 125);
    CHECK(exit_status_for(WireProtocol::json_header, json::object()) == 125);
    CHECK(exit_status_for(WireProtocol::framed, json{{"ok", true}, {"exit_code", 7}, {"signal", nullptr}}) == 7);
    CHECK(exit_status_for(WireProtocol::framed, json{{"ok", true}, {"exit_code", nullptr}, {"signal", 9}}) == 137);
    CHECK(exit_status_for(WireProtocol::framed, json{{"ok", false}, {"error_code", "not_found"}}) == 127);
    CHECK(exit_status_for(WireProtocol::framed, json{{"ok", false}, {"error_code", "forbidden"}}) == 126);
    CHECK(exit_status_for(WireProtocol::framed, json{{"ok", false}, {"error_code", "busy"}}) == 125);
    CHECK(exit_status_for(WireProtocol::framed, json{{"ok", true}, {"timed_out", true}, {"signal", 15}}) == 124);
}

TEST_CASE("connect URLs", "[client]")
{
    Target t = parse_target("tcp://127.0.0.1:8000");
    CHECK(t.kind == Target::Kind::tcp);
    CHECK(t.host == "127.0.0.1");
    CHECK(t.port == "8000");
    t = parse_target("tcp://[::1]:9");
    CHECK(t.host == "::1");
    CHECK(t.port == "9");
    t = parse_target("tcp://localhost:80");
    CHECK(t.host == "localhost");
    t = parse_target("unix:///run/ringd/cmd.sock");
    CHECK(t.kind == Target::Kind::unix_path);
    CHECK(t.path == "/run/ringd/cmd.sock");
    t = parse_target("unix:@ringd-cmd");
    CHECK(t.kind == Target::Kind::unix_abstract);
    CHECK(t.path == "ringd-cmd");
    for (const char* bad : {"127.0.0.1:8000", "tcp://127.0.0.1", "tcp://:80", "tcp://h:x", "tcp://[::1]80",
                            "unix://relative", "unix:@", "http://x:1"}) {
        INFO(bad);
        CHECK_THROWS(parse_target(bad));
    }
    CHECK(parse_protocol("framed") == WireProtocol::framed);
    CHECK(parse_protocol("json-header") == WireProtocol::json_header);
    CHECK_FALSE(parse_protocol("size-prefixed"));
}

TEST_CASE("connecting to an abstract unix socket", "[client]")
{
    const std::string name = "ringd-cmd-unit-" + std::to_string(::getpid());
    const int listener = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(listener >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    REQUIRE(::listen(listener, 1) == 0);
    const int fd = connect_target(parse_target("unix:@" + name), std::chrono::seconds(1));
    CHECK(fd >= 0);
    ::close(fd);
    ::close(listener);
}

TEST_CASE("connecting to nothing fails with a message", "[client]")
{
    CHECK_THROWS_WITH(connect_target(parse_target("unix:///nonexistent/ringd.sock"), std::chrono::seconds(1)),
                      Catch::Contains("cannot connect to unix:///nonexistent/ringd.sock"));
}
