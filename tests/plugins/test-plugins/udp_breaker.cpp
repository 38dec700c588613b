// udp-breaker: on a datagram "break <port>", makes recvmsg on ringd's UDP socket bound to 127.0.0.1:<port> fail
// for good, so the tests can check that a worker does not spin on a persistent recvmsg error.
//
// Nothing from outside the process makes recvmsg on an unconnected UDP socket fail persistently (ICMP errors
// reach it only with IP_RECVERR, and then once per ICMP message). So this replaces the socket behind ringd's
// back: the descriptor number becomes an unconnected TCP socket (recvmsg: ENOTCONN, every time), and the
// original socket is made to fail once, which ends the multishot recvmsg still armed on it (it holds the old
// file, not the number): ringd then re-arms on the number, and fails for good. Other datagrams are echoed, so the test
// can tell the plugin is loaded.
#include <arpa/inet.h>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <netinet/in.h>
#include <ringd/plugin.hpp>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

namespace {

// The process's UDP socket bound to 127.0.0.1:port, or -1.
int udp_socket_on(uint16_t port)
{
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
        const int fd = std::atoi(entry.path().filename().c_str());
        int type = 0;
        socklen_t type_len = sizeof type;
        sockaddr_in addr{};
        socklen_t addr_len = sizeof addr;
        if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &type_len) != 0 || type != SOCK_DGRAM) continue;
        if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) continue;
        if (addr.sin_family == AF_INET && ntohs(addr.sin_port) == port) return fd;
    }
    return -1;
}

class UdpBreaker final : public ringd::Handler {
public:
    using Handler::Handler;

    static std::unique_ptr<UdpBreaker> create(const ringd::InstanceArgs& args)
    {
        return std::make_unique<UdpBreaker>(args);
    }

    void on_datagram(const ringd::Datagram& dgram) override
    {
        const std::string text(reinterpret_cast<const char*>(dgram.payload().data()), dgram.payload().size());
        if (text.rfind("break ", 0) != 0) {
            (void)dgram.reply(text);
            return;
        }
        const int fd = udp_socket_on(uint16_t(std::atoi(text.c_str() + 6)));
        const int old = fd >= 0 ? ::dup(fd) : -1;
        const int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (old < 0 || tcp < 0 || ::dup3(tcp, fd, O_CLOEXEC) < 0) {
            log().error("udp-breaker: could not replace the socket");
            return;
        }
        // Connected to a port nobody listens on, the old socket gets ICMP port unreachable for what it sends:
        // its next recvmsg fails once (ECONNREFUSED), which ends the armed multishot.
        sockaddr_in nowhere{};
        socklen_t len = sizeof nowhere;
        const int probe = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        nowhere.sin_family = AF_INET;
        nowhere.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(probe, reinterpret_cast<sockaddr*>(&nowhere), sizeof nowhere);
        ::getsockname(probe, reinterpret_cast<sockaddr*>(&nowhere), &len);
        ::close(probe);
        ::connect(old, reinterpret_cast<sockaddr*>(&nowhere), sizeof nowhere);
        (void)::send(old, "x", 1, 0);
        ::close(old);
        ::close(tcp);
        log().info("udp-breaker: socket " + std::to_string(fd) + " replaced");
    }
};

} // namespace

RINGD_EXPORT_HANDLER(UdpBreaker, "udp-breaker", "1.0.0", RINGD_KIND_DATAGRAM)
