// ServiceNotifier against a real AF_UNIX datagram socket standing in for systemd's notify socket.
#include "service/notifier.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using ringd::service::ServiceNotifier;

namespace {

// A bound datagram socket in a fresh temp dir, exported as NOTIFY_SOCKET for the test's lifetime.
class FakeNotifySocket {
public:
    FakeNotifySocket()
    {
        char tmpl[] = "/tmp/ringd-notify-XXXXXX";
        dir_ = mkdtemp(tmpl);
        path_ = dir_ + "/notify.sock";
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.copy(addr.sun_path, sizeof addr.sun_path - 1);
        REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        timeval tv{2, 0}; // a missing message fails the test instead of hanging it
        setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setenv("NOTIFY_SOCKET", path_.c_str(), 1);
    }
    ~FakeNotifySocket()
    {
        unsetenv("NOTIFY_SOCKET");
        close(fd_);
        std::filesystem::remove_all(dir_);
    }
    FakeNotifySocket(const FakeNotifySocket&) = delete;
    FakeNotifySocket& operator=(const FakeNotifySocket&) = delete;

    std::string receive()
    {
        char buf[4096];
        const ssize_t n = recv(fd_, buf, sizeof buf, 0);
        REQUIRE(n >= 0);
        return std::string(buf, static_cast<std::size_t>(n));
    }
    bool nothing_pending()
    {
        char buf[16];
        return recv(fd_, buf, sizeof buf, MSG_DONTWAIT) < 0;
    }

private:
    std::string dir_;
    std::string path_;
    int fd_ = -1;
};

} // namespace

TEST_CASE("notifier sends readiness, status, reloading and stopping")
{
    FakeNotifySocket sock;
    ServiceNotifier n;
    REQUIRE(n.enabled());

    n.ready("serving 3 listeners");
    CHECK(sock.receive() == "READY=1\nSTATUS=serving 3 listeners");

    n.ready();
    CHECK(sock.receive() == "READY=1");

    n.status("line one\nline two");
    CHECK(sock.receive() == "STATUS=line one line two"); // a newline would start a new assignment

    n.reloading();
    const std::string reloading = sock.receive();
    CHECK(reloading.rfind("RELOADING=1\nMONOTONIC_USEC=", 0) == 0);
    const long long usec = std::stoll(reloading.substr(reloading.find('=', 12) + 1));
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const long long now = ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
    CHECK(usec > 0);
    CHECK(usec <= now);
    CHECK(now - usec < 5'000'000);

    n.stopping();
    CHECK(sock.receive() == "STOPPING=1");

    n.extend_timeout(std::chrono::seconds(3));
    CHECK(sock.receive() == "EXTEND_TIMEOUT_USEC=3000000");
    CHECK(sock.nothing_pending());
}

TEST_CASE("watchdog interval comes from WATCHDOG_USEC when WATCHDOG_PID is this process")
{
    FakeNotifySocket sock;
    setenv("WATCHDOG_USEC", "5000000", 1);
    setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
    {
        ServiceNotifier n;
        REQUIRE(n.watchdog_interval().has_value());
        CHECK(n.watchdog_interval()->count() == 5'000'000);
        n.watchdog_ping();
        CHECK(sock.receive() == "WATCHDOG=1");
    }
    // Meant for another process (e.g. we are a forked child): no watchdog, and pings are not sent.
    setenv("WATCHDOG_PID", std::to_string(getpid() + 1).c_str(), 1);
    {
        ServiceNotifier n;
        CHECK_FALSE(n.watchdog_interval().has_value());
        n.watchdog_ping();
        CHECK(sock.nothing_pending());
    }
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    ServiceNotifier n;
    CHECK_FALSE(n.watchdog_interval().has_value());
}

TEST_CASE("without NOTIFY_SOCKET every call is a harmless no-op")
{
    unsetenv("NOTIFY_SOCKET");
    ServiceNotifier n;
    CHECK_FALSE(n.enabled());
    CHECK_FALSE(n.watchdog_interval().has_value());
    n.ready("x");
    n.reloading();
    n.status("y");
    n.watchdog_ping();
    n.stopping();
    CHECK(n.send("READY=1"));
}

TEST_CASE("a notify socket nobody listens on is reported, not fatal")
{
    setenv("NOTIFY_SOCKET", "/nonexistent-dir/notify.sock", 1);
    ServiceNotifier n;
    CHECK(n.enabled());
    CHECK_FALSE(n.send("READY=1"));
    n.ready(); // second failure: no exception, no second warning
    unsetenv("NOTIFY_SOCKET");
}

TEST_CASE("abstract notify sockets work too")
{
    const std::string name = "ringd-notify-test-" + std::to_string(getpid());
    const int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    name.copy(addr.sun_path + 1, sizeof addr.sun_path - 2);
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
    setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
    ServiceNotifier n;
    n.ready();
    char buf[64];
    const ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    CHECK(std::string(buf, got > 0 ? static_cast<std::size_t>(got) : 0) == "READY=1");
    unsetenv("NOTIFY_SOCKET");
    close(fd);
}
