// Socket activation: the listening sockets systemd passes to ringd (LISTEN_FDS / LISTEN_FDNAMES, see
// sd_listen_fds(3)), owned until a listener claims the one named after it.
//
// The contract with ringd.socket: each socket's FileDescriptorName= is the `name:` of the listener that serves
// it. At startup every listener first tries claim(name) and binds its own socket only if nothing was passed;
// afterwards any socket still unclaimed is a configuration error ("passed socket X is claimed by no listener").
// Sockets are verified with check_inherited_socket before use, so a UDP socket cannot end up behind a TCP
// listener just because the names match.
#pragma once

#include "util/unique_fd.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <utility>
#include <vector>

namespace ringd::service {

class InheritedSockets {
public:
    struct Entry {
        std::string name;
        UniqueFd fd;
    };

    // No sockets (not socket-activated).
    InheritedSockets() = default;
    // Takes ownership of already-collected sockets (used by from_environment and by tests).
    explicit InheritedSockets(std::vector<Entry> sockets) : sockets_(std::move(sockets)) {}

    // Collects the sockets systemd passed to this process and unsets LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES, so
    // neither a child process nor a second call can take them again. Sockets without a FileDescriptorName=
    // are named "unknown" (systemd's default). Returns no sockets when LISTEN_PID is not this process.
    // Throws std::system_error if the variables are malformed.
    [[nodiscard]] static InheritedSockets from_environment();

    // Removes and returns the first socket named `name`, or nullopt if there is none.
    [[nodiscard]] std::optional<UniqueFd> claim(const std::string& name);

    // Names of the sockets nobody claimed (in the order systemd passed them), for the startup error.
    [[nodiscard]] std::vector<std::string> unclaimed() const;

    [[nodiscard]] std::size_t size() const noexcept { return sockets_.size(); }
    [[nodiscard]] bool empty() const noexcept { return sockets_.empty(); }

private:
    std::vector<Entry> sockets_;
};

// What a listener needs its inherited socket to be.
struct SocketExpectation {
    int family = AF_INET;              // AF_INET, AF_INET6 or AF_UNIX
    int type = SOCK_STREAM;            // SOCK_STREAM (listening) or SOCK_DGRAM
    const sockaddr* address = nullptr; // if set, the socket must be bound to exactly this address
    socklen_t address_len = 0;
};

// Checks that `fd` is a socket of the expected family and type (a listening one for SOCK_STREAM) and, if an
// address is given, bound to it. Returns nullopt if it matches, else a sentence describing both sides, e.g.
// "is a UDP (IPv4) socket bound to 127.0.0.1:8080, but the listener needs a listening TCP (IPv4) socket bound
// to 127.0.0.1:9090". The caller prefixes it with the socket's name: "passed socket 'echo' is a ...".
[[nodiscard]] std::optional<std::string> check_inherited_socket(int fd, const SocketExpectation& expected);

// "127.0.0.1:8080", "[::1]:8080", "/run/ringd/x.sock", "@abstract" (for messages).
[[nodiscard]] std::string describe_address(const sockaddr* address, socklen_t len);

} // namespace ringd::service
