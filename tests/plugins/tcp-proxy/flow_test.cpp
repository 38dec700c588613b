// tcp-proxy's flow control for one direction: the receiver's queue never above buffer, one read kept at most,
// release as room comes back, and the FIN passed on only after everything kept.
#include "flow.hpp"

#include <catch2/catch.hpp>
#include <string>

using namespace ringd::tcp_proxy;

namespace {

std::span<const std::byte> bytes_of(const std::string& s)
{
    return std::as_bytes(std::span(s.data(), s.size()));
}

std::string text(std::span<const std::byte> b)
{
    return {reinterpret_cast<const char*>(b.data()), b.size()};
}

} // namespace

TEST_CASE("a read that fits is queued whole", "[tcp_proxy][flow]")
{
    Flow flow(100);
    const std::string read = "0123456789";
    CHECK(text(flow.take(bytes_of(read), 90)) == read);
    CHECK_FALSE(flow.stalled());
}

TEST_CASE("the receiver's queue is filled exactly to buffer; the rest is kept and the sender stalls",
          "[tcp_proxy][flow]")
{
    Flow flow(100);
    const std::string read = "0123456789";
    CHECK(text(flow.take(bytes_of(read), 96)) == "0123");
    CHECK(flow.stalled());
    CHECK(flow.kept() == 6);
    CHECK(flow.low_water() == 50);
    CHECK(text(flow.take(bytes_of(read), 100)).empty()); // a full queue takes nothing
    CHECK(flow.kept() == 16);                            // behind what was kept, in order
    CHECK(flow.release(50) == "4567890123456789");       // room for 50: all of it
    CHECK_FALSE(flow.stalled());
}

TEST_CASE("what is kept is released as far as room allows, in order", "[tcp_proxy][flow]")
{
    Flow flow(10);
    const std::string read = "abcdefghijklmnopqrstuvwxyz";
    CHECK(text(flow.take(bytes_of(read), 0)) == "abcdefghij");
    CHECK(flow.release(5) == "klmno");
    CHECK(flow.stalled());
    CHECK(flow.release(10).empty()); // no room
    CHECK(flow.release(0) == "pqrstuvwxy");
    CHECK(flow.release(0) == "z");
    CHECK_FALSE(flow.stalled());
}

TEST_CASE("while the receiver connects everything is kept; above buffer the sender pauses", "[tcp_proxy][flow]")
{
    Flow flow(8);
    CHECK_FALSE(flow.keep(bytes_of("12345")));
    CHECK(flow.keep(bytes_of("6789")));
    CHECK(flow.release(0) == "12345678");
    CHECK(flow.release(0) == "9");
    CHECK(flow.release_all().empty());
}

TEST_CASE("the FIN is passed on once, after everything kept", "[tcp_proxy][flow]")
{
    Flow flow(4);
    (void)flow.take(bytes_of("123456"), 0);
    flow.sender_finished();
    CHECK_FALSE(flow.fin_to_pass()); // "56" is still kept
    CHECK_FALSE(flow.done());
    CHECK(flow.release(0) == "56");
    CHECK(flow.fin_to_pass());
    CHECK_FALSE(flow.fin_to_pass());
    CHECK(flow.done());
}

TEST_CASE("the sender gone: everything kept goes, whatever the receiver holds", "[tcp_proxy][flow]")
{
    Flow flow(4);
    (void)flow.take(bytes_of("123456789"), 4);
    CHECK(flow.release_all() == "123456789");
    CHECK_FALSE(flow.stalled());
}
