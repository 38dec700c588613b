// InheritedSockets and check_inherited_socket with real sockets passed the way systemd passes them: at fd 3,
// 4, 5 with LISTEN_FDS/LISTEN_PID/LISTEN_FDNAMES. sd_listen_fds() only accepts LISTEN_PID == getpid() and we
// must overwrite fds 3.. , so each scenario runs in a forked child that reports its failures through a pipe.
#include "service/socket_activation.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <functional>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

using ringd::UniqueFd;
using ringd::service::check_inherited_socket;
using ringd::service::InheritedSockets;
using ringd::service::SocketExpectation;

namespace {

// Failures collected inside the child (Catch2's assertions cannot report from a forked process).
struct Failures {
    std::string text;
    void expect(bool ok, int line, const char* what)
    {
        if (!ok) text += "line " + std::to_string(line) + ": " + what + "\n";
    }
};
#define EXPECT(f, cond) (f).expect((cond), __LINE__, #cond)

// Runs `body` in a child process; returns what it reported ("" = all good).
std::string in_child(const std::function<void(Failures&)>& body)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        // The body overwrites fds 3, 4, 5, where the pipe itself probably is: move our end out of the way.
        const int report = fcntl(p[1], F_DUPFD_CLOEXEC, 100);
        close(p[1]);
        Failures f;
        try {
            body(f);
        } catch (const std::exception& e) {
            f.text += std::string("exception: ") + e.what() + "\n";
        }
        if (!f.text.empty()) (void)!write(report, f.text.data(), f.text.size());
        _exit(0);
    }
    close(p[1]);
    std::string out;
    char buf[1024];
    ssize_t n = 0;
    while ((n = read(p[0], buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    close(p[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) out += "child crashed\n";
    return out;
}

sockaddr_in loopback(uint16_t port)
{
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// Binds a loopback socket on an ephemeral port; returns the fd and fills the bound address.
int bound_inet(int type, sockaddr_in& bound)
{
    const int fd = socket(AF_INET, type, 0);
    sockaddr_in a = loopback(0);
    if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return -1;
    socklen_t len = sizeof bound;
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    if (type == SOCK_STREAM) listen(fd, 16);
    return fd;
}

// Moves `fd` to a number >= 10, so placing several at 3, 4, 5 cannot clobber one another.
int high(int fd)
{
    const int moved = fcntl(fd, F_DUPFD, 10);
    close(fd);
    return moved;
}

// Moves `fd` to exactly `target` (the slot systemd would use).
void place(int fd, int target)
{
    if (fd != target) {
        dup2(fd, target);
        close(fd);
    }
}

void export_fds(int count, const char* names)
{
    setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
    setenv("LISTEN_FDS", std::to_string(count).c_str(), 1);
    if (names != nullptr)
        setenv("LISTEN_FDNAMES", names, 1);
    else
        unsetenv("LISTEN_FDNAMES");
}

bool contains(const std::optional<std::string>& text, const char* part)
{
    return text && text->find(part) != std::string::npos;
}

} // namespace

TEST_CASE("named sockets are claimed by name, verified, and the rest reported")
{
    const std::string failures = in_child([](Failures& f) {
        char dir_tmpl[] = "/tmp/ringd-sa-XXXXXX";
        const std::string dir = mkdtemp(dir_tmpl);
        const std::string path = dir + "/local.sock";

        sockaddr_in tcp_addr{};
        sockaddr_in udp_addr{};
        const int tcp = high(bound_inet(SOCK_STREAM, tcp_addr));
        const int udp = high(bound_inet(SOCK_DGRAM, udp_addr));
        const int unx = high(socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un un{};
        un.sun_family = AF_UNIX;
        path.copy(un.sun_path, sizeof un.sun_path - 1);
        EXPECT(f, bind(unx, reinterpret_cast<sockaddr*>(&un), sizeof un) == 0);
        EXPECT(f, listen(unx, 4) == 0);
        place(tcp, 3);
        place(udp, 4);
        place(unx, 5);
        export_fds(3, "echo:dns:local");

        InheritedSockets sockets = InheritedSockets::from_environment();
        EXPECT(f, sockets.size() == 3);
        EXPECT(f, getenv("LISTEN_FDS") == nullptr);
        EXPECT(f, getenv("LISTEN_PID") == nullptr);
        EXPECT(f, getenv("LISTEN_FDNAMES") == nullptr);
        EXPECT(f, InheritedSockets::from_environment().empty()); // taken exactly once

        auto dns = sockets.claim("dns");
        EXPECT(f, dns.has_value() && dns->get() == 4);
        EXPECT(f, !sockets.claim("dns").has_value());
        EXPECT(f, !sockets.claim("nope").has_value());

        SocketExpectation udp_ok{AF_INET, SOCK_DGRAM, reinterpret_cast<sockaddr*>(&udp_addr), sizeof udp_addr};
        EXPECT(f, !check_inherited_socket(4, udp_ok).has_value());
        EXPECT(f, !check_inherited_socket(4, {AF_INET, SOCK_DGRAM}).has_value());

        // A UDP socket behind a TCP listener: both sides are named.
        const auto wrong_type = check_inherited_socket(4, {AF_INET, SOCK_STREAM});
        EXPECT(f, contains(wrong_type, "is a UDP (IPv4) socket bound to 127.0.0.1:"));
        EXPECT(f, contains(wrong_type, "needs a listening TCP (IPv4) socket"));

        auto echo = sockets.claim("echo");
        EXPECT(f, echo.has_value() && echo->get() == 3);
        SocketExpectation tcp_ok{AF_INET, SOCK_STREAM, reinterpret_cast<sockaddr*>(&tcp_addr), sizeof tcp_addr};
        EXPECT(f, !check_inherited_socket(3, tcp_ok).has_value());
        const sockaddr_in elsewhere = loopback(1);
        const auto wrong_addr = check_inherited_socket(
            3, {AF_INET, SOCK_STREAM, reinterpret_cast<const sockaddr*>(&elsewhere), sizeof elsewhere});
        EXPECT(f, contains(wrong_addr, "needs a listening TCP (IPv4) socket bound to 127.0.0.1:1"));
        EXPECT(f, contains(wrong_addr, ("bound to 127.0.0.1:" + std::to_string(ntohs(tcp_addr.sin_port))).c_str()));
        EXPECT(f, contains(check_inherited_socket(3, {AF_INET6, SOCK_STREAM}), "TCP (IPv6)"));

        EXPECT(f, sockets.unclaimed() == std::vector<std::string>{"local"});
        SocketExpectation unix_ok{AF_UNIX, SOCK_STREAM, reinterpret_cast<sockaddr*>(&un), sizeof un};
        EXPECT(f, !check_inherited_socket(5, unix_ok).has_value());
        sockaddr_un other = un;
        other.sun_path[std::strlen(other.sun_path) - 1] = 'X';
        const auto wrong_path =
            check_inherited_socket(5, {AF_UNIX, SOCK_STREAM, reinterpret_cast<sockaddr*>(&other), sizeof other});
        EXPECT(f, contains(wrong_path, ("is a unix stream socket bound to " + path).c_str()));
        auto local = sockets.claim("local");
        EXPECT(f, local.has_value() && sockets.unclaimed().empty() && sockets.empty());

        // The claimed UniqueFds close their sockets when they go away.
        echo.reset();
        EXPECT(f, fcntl(3, F_GETFD) < 0);
        unlink(path.c_str());
        rmdir(dir.c_str());
    });
    CHECK(failures == "");
}

TEST_CASE("unnamed sockets are called 'unknown'; sockets meant for another pid are left alone")
{
    const std::string failures = in_child([](Failures& f) {
        sockaddr_in a{};
        place(high(bound_inet(SOCK_STREAM, a)), 3);
        export_fds(1, nullptr);
        InheritedSockets sockets = InheritedSockets::from_environment();
        EXPECT(f, sockets.unclaimed() == std::vector<std::string>{"unknown"});
        auto fd = sockets.claim("unknown");
        EXPECT(f, fd.has_value());
        (void)fd->release(); // keep fd 3 open for the next part

        export_fds(1, "echo");
        setenv("LISTEN_PID", std::to_string(getpid() + 1).c_str(), 1);
        EXPECT(f, InheritedSockets::from_environment().empty());
        EXPECT(f, fcntl(3, F_GETFD) >= 0); // not ours to close
    });
    CHECK(failures == "");
}

TEST_CASE("not-a-socket and non-listening sockets are described")
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    CHECK(check_inherited_socket(p[0], {AF_INET, SOCK_STREAM}).value_or("").find("is not a socket") == 0);
    close(p[0]);
    close(p[1]);

    const int s = socket(AF_INET, SOCK_STREAM, 0);
    const auto msg = check_inherited_socket(s, {AF_INET, SOCK_STREAM});
    CHECK(msg.value_or("").find("is a non-listening TCP (IPv4) socket") == 0);
    close(s);

    const std::optional<UniqueFd> none = InheritedSockets().claim("x");
    CHECK_FALSE(none.has_value());
}

TEST_CASE("malformed LISTEN_FDS is an error, not silently ignored")
{
    const std::string failures = in_child([](Failures& f) {
        setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
        setenv("LISTEN_FDS", "many", 1);
        bool threw = false;
        try {
            (void)InheritedSockets::from_environment();
        } catch (const std::system_error&) {
            threw = true;
        }
        EXPECT(f, threw);
    });
    CHECK(failures == "");
}
