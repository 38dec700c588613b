// DatagramSender over a real io_uring and real UDP sockets on loopback: replies arrive, caps hold, a send the
// kernel fails is counted against the listener that sent it, and a throw while queueing leaks neither a slot
// nor the bytes accounting. RearmBackoff: when a failing recvmsg is re-armed and logged.
#include "engine/datagram_sender.hpp"
#include "engine/rearm_backoff.hpp"
#include "engine/user_data.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

using ringd::engine::Clock;
using ringd::engine::DatagramDrop;
using ringd::engine::DatagramSender;
using ringd::engine::ListenerStats;
using ringd::engine::RearmBackoff;
using ringd::engine::Ring;
using namespace std::chrono_literals;

namespace {

struct UdpSocket {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    UdpSocket()
    {
        REQUIRE(fd >= 0);
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        socklen_t len = sizeof addr;
        REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    }
    ~UdpSocket() { ::close(fd); }
    [[nodiscard]] const sockaddr* to() const { return reinterpret_cast<const sockaddr*>(&addr); }
    std::string receive()
    {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) != 1) return "(nothing)";
        char buf[2048];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        return n < 0 ? "(error)" : std::string(buf, std::size_t(n));
    }
};

// Submits what was queued and hands every completion to the sender, as the worker's loop does.
// Returns the slot indexes that completed.
std::vector<uint32_t> complete_all(Ring& ring, DatagramSender& sender)
{
    std::vector<uint32_t> completed;
    while (sender.in_flight() > 0) {
        REQUIRE(ring.submit_and_wait(1s) == 0);
        ring.drain([&](const io_uring_cqe& cqe) {
            const uint32_t index = ringd::engine::user_data_index(cqe.user_data);
            completed.push_back(index);
            sender.on_complete(index, cqe.res);
        });
    }
    return completed;
}

uint64_t send_failures(const ListenerStats& stats)
{
    return stats.totals().datagrams_dropped[std::size_t(DatagramDrop::send_failed)];
}

} // namespace

TEST_CASE("datagrams go out and their slots come back")
{
    Ring ring(64, 128);
    DatagramSender sender;
    UdpSocket from, to;
    auto counters = std::make_shared<ListenerStats>("sender", 1);
    for (int round = 0; round < 3; ++round) {
        REQUIRE(sender.send(ring, from.fd, "hello", 5, to.to(), sizeof to.addr, counters));
        CHECK(sender.in_flight() == 1);
        CHECK(sender.bytes_in_flight() == 5);
        complete_all(ring, sender);
        CHECK(to.receive() == "hello");
        CHECK(sender.in_flight() == 0);
        CHECK(sender.bytes_in_flight() == 0);
    }
    CHECK(send_failures(*counters) == 0);
    CHECK(counters->totals().datagrams_sent == 3);
    CHECK(counters->totals().bytes_sent == 15);
    CHECK(counters.use_count() == 1); // a completed send lets go of the listener's counters
}

TEST_CASE("a send the kernel fails is counted against the listener that sent it")
{
    Ring ring(64, 128);
    DatagramSender sender;
    UdpSocket from;
    auto counters = std::make_shared<ListenerStats>("sender", 1);
    auto other = std::make_shared<ListenerStats>("other", 1);
    // An IPv4 socket cannot send to an IPv6 address: the completion carries -EAFNOSUPPORT (or -EINVAL).
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(9);
    v6.sin6_addr = in6addr_loopback;
    REQUIRE(sender.send(ring, from.fd, "x", 1, reinterpret_cast<const sockaddr*>(&v6), sizeof v6, counters));
    REQUIRE(sender.send(ring, from.fd, "y", 1, reinterpret_cast<const sockaddr*>(&v6), sizeof v6, counters));
    UdpSocket to;
    REQUIRE(sender.send(ring, from.fd, "ok", 2, to.to(), sizeof to.addr, other));
    CHECK(complete_all(ring, sender).size() == 3);
    CHECK(send_failures(*counters) == 2);
    CHECK(counters->totals().datagrams_sent == 0);
    CHECK(send_failures(*other) == 0);
    CHECK(other->totals().datagrams_sent == 1);
    CHECK(to.receive() == "ok");
}

TEST_CASE("a throw while queueing a datagram leaks neither a slot nor its bytes")
{
    Ring ring(8, 16);
    DatagramSender sender;
    UdpSocket from, to;
    auto counters = std::make_shared<ListenerStats>("sender", 1);
    // Fill the submission queue, then break the ring: the next sqe() has to submit, the kernel refuses for
    // good (EOPNOTSUPP on /dev/null), and Ring::sqe throws RingError.
    for (int i = 0; i < 8; ++i)
        io_uring_prep_nop(ring.sqe());
    const int saved = ::dup(ring.raw()->ring_fd);
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(::dup3(devnull, ring.raw()->ring_fd, O_CLOEXEC) >= 0);
    ::close(devnull);
    CHECK_THROWS(sender.send(ring, from.fd, "lost", 4, to.to(), sizeof to.addr, counters));
    CHECK(sender.in_flight() == 0);
    CHECK(sender.bytes_in_flight() == 0);
    CHECK(counters.use_count() == 1);
    // The ring works again: the slot that failed is the one the next send uses, and it completes.
    REQUIRE(::dup3(saved, ring.raw()->ring_fd, O_CLOEXEC) >= 0);
    ::close(saved);
    REQUIRE(ring.submit_and_wait(1s) == 0);
    ring.drain([](const io_uring_cqe&) {}); // the nops
    REQUIRE(sender.send(ring, from.fd, "kept", 4, to.to(), sizeof to.addr, counters));
    CHECK(sender.in_flight() == 1);
    CHECK(sender.bytes_in_flight() == 4);
    // Slot 0, the one the failed send had picked: it was not lost (before, it was, and this used slot 1).
    CHECK(complete_all(ring, sender) == std::vector<uint32_t>{0});
    CHECK(to.receive() == "kept");
}

TEST_CASE("the byte cap refuses a datagram without queueing it")
{
    Ring ring(8, 16);
    DatagramSender sender;
    UdpSocket from, to;
    std::vector<char> huge(DatagramSender::max_bytes + 1, 'x');
    CHECK_FALSE(sender.send(ring, from.fd, huge.data(), huge.size(), to.to(), sizeof to.addr, nullptr));
    CHECK(sender.in_flight() == 0);
    CHECK(sender.bytes_in_flight() == 0);
}

TEST_CASE("a recvmsg error re-arms at once the first time, then backs off; the log gets a line per interval")
{
    RearmBackoff backoff;
    Clock::time_point t{};
    auto first = backoff.on_error(t);
    CHECK_FALSE(first.rearm_at.has_value());
    CHECK(first.log_count == 1);
    // It keeps failing: every retry waits, and the log stays quiet until the interval is over.
    uint64_t logged = 0;
    int lines = 0;
    for (int i = 0; i < 1000; ++i) {
        t += RearmBackoff::pause;
        auto d = backoff.on_error(t);
        REQUIRE(d.rearm_at == t + RearmBackoff::pause);
        if (d.log_count > 0) {
            ++lines;
            logged += d.log_count;
        }
    }
    // 1000 retries 100 ms apart are 100 s: one line per 10 s, each counting the errors since the last.
    CHECK(lines == 10);
    CHECK(logged == 1000);
    // A datagram arrives: the streak ends, and the next error is again retried at once.
    (void)backoff.on_error(t + 1ms);
    CHECK(backoff.on_success() == 1); // not logged yet: the caller reports it
    CHECK(backoff.errors_in_a_row() == 0);
    CHECK_FALSE(backoff.on_error(t + 2ms).rearm_at.has_value());
}
