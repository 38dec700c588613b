// tcp-proxy's reading of a failed connect: the upstream's fault, ringd's own shortage, or a cancellation.
#include "connect_outcome.hpp"

#include <catch2/catch.hpp>
#include <cerrno>

using namespace ringd::tcp_proxy;

TEST_CASE("what the upstream did wrong marks it down", "[tcp_proxy]")
{
    for (int e : {ECONNREFUSED, ETIMEDOUT, ENETUNREACH, EHOSTUNREACH, ENOENT, ECONNRESET, EAGAIN})
        CHECK(classify_connect_failure(-e, ConnectStage::outcome) == ConnectFailure::upstream);
    // An address this machine cannot use (no IPv6) is that upstream's problem too: the next may do.
    for (int e : {EAFNOSUPPORT, EINVAL})
        CHECK(classify_connect_failure(-e, ConnectStage::request) == ConnectFailure::upstream);
}

TEST_CASE("ringd's own limits close the client and leave the upstream up", "[tcp_proxy]")
{
    // -EAGAIN from host->connect is max_outbound_connections, not the upstream's backlog.
    for (int e : {EAGAIN, EMFILE, ENFILE, ENOMEM, ENOBUFS, ESHUTDOWN, EPERM, ENOSYS})
        CHECK(classify_connect_failure(-e, ConnectStage::request) == ConnectFailure::local);
    for (int e : {EMFILE, ENOMEM, ENOBUFS, ESHUTDOWN})
        CHECK(classify_connect_failure(-e, ConnectStage::outcome) == ConnectFailure::local);
}

TEST_CASE("a connect the proxy cancelled is nobody's fault", "[tcp_proxy]")
{
    CHECK(classify_connect_failure(-ECANCELED, ConnectStage::outcome) == ConnectFailure::cancelled);
}
