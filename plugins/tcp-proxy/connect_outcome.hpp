// What a failed upstream connect means for the upstream and for the client that wanted it.
//
// A connect can fail because of the upstream (refused, timed out, unreachable, no such unix socket): then the
// upstream is marked down and the client tries the next one. It can fail because of ringd itself (the
// listener's max_outbound_connections, no descriptors, the daemon stopping): then no other upstream would do
// better, and blaming this one would take a healthy upstream out of rotation, so the client is closed and the
// upstream stays up. And a connect can be cancelled because the proxy closed it (the client left first, or a
// shutdown): nobody's fault, nothing to retry.
#pragma once

namespace ringd::tcp_proxy {

enum class ConnectFailure {
    upstream,  // mark the upstream down, try the next one
    local,     // close the client, leave the upstream alone
    cancelled, // the proxy closed the connection itself
};

enum class ConnectStage {
    request, // host->connect itself returned the error: nothing was sent to the upstream
    outcome, // on_connect reported it
};

// `error` is a negative errno. The same number can mean different things at the two stages: -EAGAIN from
// host->connect is the listener's max_outbound_connections, in on_connect a unix upstream's full backlog.
[[nodiscard]] ConnectFailure classify_connect_failure(int error, ConnectStage stage);

} // namespace ringd::tcp_proxy
