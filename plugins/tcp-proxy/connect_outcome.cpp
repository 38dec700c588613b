// Sorting failed connects into the upstream's fault, ringd's own shortage, and cancellations.
#include "connect_outcome.hpp"

#include <cerrno>

namespace ringd::tcp_proxy {

namespace {

// Resources of ringd (or of the machine) that ran out, or a daemon that no longer opens connections.
bool local_shortage(int errnum)
{
    switch (errnum) {
    case EMFILE: // descriptors of this process, or the worker's connection slots
    case ENFILE: // descriptors of the system
    case ENOMEM:
    case ENOBUFS:
    case ESHUTDOWN: // ringd is stopping, or a reload replaced this instance
        return true;
    default:
        return false;
    }
}

} // namespace

ConnectFailure classify_connect_failure(int error, ConnectStage stage)
{
    const int errnum = -error;
    if (stage == ConnectStage::outcome) {
        if (errnum == ECANCELED) return ConnectFailure::cancelled;
        // Everything else the connect itself ran into is the upstream's (or the path's): ECONNREFUSED,
        // ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, a unix socket that is missing (ENOENT) or whose backlog is full.
        return local_shortage(errnum) ? ConnectFailure::local : ConnectFailure::upstream;
    }
    switch (errnum) {
    case EAGAIN: // the listener's max_outbound_connections
    case EPERM:  // off a worker thread: a bug, but not the upstream's
    case ENOSYS: // a host without outbound connections (ABI 1.0)
        return ConnectFailure::local;
    default: // EINVAL, EAFNOSUPPORT (no IPv6 here), ...: this upstream's address cannot be used
        return local_shortage(errnum) ? ConnectFailure::local : ConnectFailure::upstream;
    }
}

} // namespace ringd::tcp_proxy
