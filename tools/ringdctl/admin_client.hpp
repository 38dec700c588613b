// ringdctl's connection to the admin listener: one GET over TCP or a unix socket, bounded in time, and the
// check `ringdctl drain` makes before it signals a pid a listener reported.
#pragma once

#include "config/endpoint.hpp"
#include "http_response.hpp"

#include <chrono>
#include <stdexcept>
#include <string_view>

namespace ringd::ctl {

// The admin listener cannot be reached (refused, timed out, no such socket): ringdctl exits 3.
class Unreachable : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Timeouts {
    std::chrono::milliseconds connect{2000};  // until the connection is established
    std::chrono::milliseconds response{5000}; // from then until the whole response has arrived
};

// GET `path` from the admin listener at `where`. Throws Unreachable or BadResponse; any HTTP status is a
// response (the caller decides what a 503 means).
[[nodiscard]] HttpResponse http_get(const config::Endpoint& where, std::string_view path, const Timeouts& timeouts);

// True for an address of this host: a unix socket, loopback, or an address one of its interfaces has (found by
// binding a throwaway socket to it). A pid is only meaningful on the host (and in the PID namespace) that
// reported it, so `ringdctl drain` refuses a listener elsewhere.
[[nodiscard]] bool is_local(const config::Endpoint& endpoint);

} // namespace ringd::ctl
