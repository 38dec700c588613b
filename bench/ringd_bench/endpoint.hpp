// Endpoint: where the load goes, parsed from --connect, and non-blocking connect to it.
// Accepted: tcp://H:P, udp://H:P (H = IPv4, [IPv6] or a host name), unix:///abs/path, unix:@abstract.
#pragma once

#include "fd.hpp"

#include <string>
#include <string_view>
#include <sys/socket.h>

namespace ringd_bench {

enum class Transport { tcp, udp, unix_stream };

struct Endpoint {
    Transport transport = Transport::tcp;
    sockaddr_storage address{};
    socklen_t address_len = 0;
    std::string text;

    [[nodiscard]] int family() const { return address.ss_family; }
    [[nodiscard]] bool is_stream() const { return transport != Transport::udp; }
};

// Throws std::invalid_argument with a message saying what was expected.
[[nodiscard]] Endpoint parse_endpoint(std::string_view text);

// A new non-blocking socket for `ep` with connect() started. `in_progress` says whether the handshake is
// still running (wait for EPOLLOUT / EPOLLIN). Returns an invalid Fd with errno set on immediate failure.
// TCP sockets get TCP_NODELAY when `nodelay`; `rst_on_close` sets SO_LINGER {1, 0} so close() sends RST
// and leaves no TIME_WAIT behind (connection churn would otherwise run out of ephemeral ports).
[[nodiscard]] Fd start_connect(const Endpoint& ep, bool nodelay, bool rst_on_close, bool& in_progress);

} // namespace ringd_bench
