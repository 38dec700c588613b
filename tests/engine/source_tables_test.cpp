// SourceTableRegistry: which per-source table a listener generation gets, so that a reload keeps counting the
// connections open from each source unless what a source is (max_tracked_sources, a prefix) changed.
#include "engine/listener.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>

using namespace ringd;

namespace {

config::ListenerConfig with_limits(const std::string& name, std::optional<uint32_t> per_source)
{
    config::ListenerConfig l;
    l.name = name;
    l.endpoint = config::parse_endpoint("tcp://127.0.0.1:7000");
    l.limits.max_connections_per_source = per_source;
    return l;
}

limits::SourceKey key_of(const char* address)
{
    const config::Cidr cidr = config::parse_cidr(address);
    sockaddr_storage storage{};
    auto& in = reinterpret_cast<sockaddr_in&>(storage);
    in.sin_family = AF_INET;
    std::memcpy(&in.sin_addr, cidr.bytes.data(), 4);
    return *limits::source_key_of(reinterpret_cast<const sockaddr*>(&storage), {});
}

} // namespace

TEST_CASE("a listener without per-source limits gets no table", "[source_tables]")
{
    engine::SourceTableRegistry registry;
    CHECK(registry.for_listener(with_limits("a", std::nullopt)) == nullptr);
    auto rate_only = with_limits("a", std::nullopt);
    rate_only.limits.connection_rate_per_source = config::ConnectionRate{5, std::chrono::seconds(1), 5};
    CHECK(registry.for_listener(rate_only) != nullptr);
}

TEST_CASE("the next generation of a name shares its table, with its counts, while the shape is the same",
          "[source_tables]")
{
    engine::SourceTableRegistry registry;
    const auto first = registry.for_listener(with_limits("a", 1));
    REQUIRE(first != nullptr);
    REQUIRE(first->admit(key_of("192.0.2.1"), limits::SourceTable::Clock::now(), {1, std::nullopt}) ==
            limits::Admission::admitted);

    SECTION("another limit: the same table, the open connection still counts")
    {
        const auto raised = registry.for_listener(with_limits("a", 3));
        CHECK(raised == first);
        CHECK(raised->open_connections(key_of("192.0.2.1")) == 1);
    }
    SECTION("another name: a table of its own")
    {
        CHECK(registry.for_listener(with_limits("b", 1)) != first);
    }
    SECTION("another prefix or size: a fresh table")
    {
        auto wider = with_limits("a", 1);
        wider.limits.source_prefix_v4 = 24;
        const auto wider_table = registry.for_listener(wider);
        CHECK(wider_table != first);
        CHECK(wider_table->open_connections(key_of("192.0.2.1")) == 0);
        auto bigger = with_limits("a", 1);
        bigger.limits.max_tracked_sources = 1000;
        const auto bigger_table = registry.for_listener(bigger);
        CHECK((bigger_table != first && bigger_table != wider_table));
    }
}
