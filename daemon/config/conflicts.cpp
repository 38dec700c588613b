// The checks that span every listener of every file: unique names, and addresses that can all be bound at once.
#include "config/listener.hpp"

#include <arpa/inet.h>
#include <cstring>

namespace ringd::config::detail {
namespace {

struct IpAddress {
    bool wildcard = false;
    uint16_t port = 0;
};

IpAddress ip_address_of(const Endpoint& endpoint)
{
    IpAddress ip;
    if (endpoint.family() == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, &endpoint.address, sizeof(in));
        ip.wildcard = in.sin_addr.s_addr == htonl(INADDR_ANY);
        ip.port = ntohs(in.sin_port);
    } else if (endpoint.family() == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, &endpoint.address, sizeof(in6));
        ip.wildcard = IN6_IS_ADDR_UNSPECIFIED(&in6.sin6_addr);
        ip.port = ntohs(in6.sin6_port);
    }
    return ip;
}

// True when binding both would fail with EADDRINUSE: the same address, or a wildcard and any address of the
// same family on the same port. Only the same family is compared: whether [::]:P also takes 0.0.0.0:P depends on
// IPV6_V6ONLY, which the engine sets, so that listening on both (a common dual-stack setup) stays possible.
bool conflicts(const Endpoint& a, const Endpoint& b)
{
    if (a.same_address(b)) return true;
    if (a.transport != b.transport || a.is_unix() || a.family() != b.family()) return false;
    const IpAddress x = ip_address_of(a);
    const IpAddress y = ip_address_of(b);
    return x.port == y.port && (x.wildcard || y.wildcard);
}

Diagnostic duplicate_name(const ListenerDraft& later, const ListenerDraft& earlier)
{
    return Diagnostic{*later.name_where, later.config.name,
                      "duplicate listener name '" + later.config.name + "' (first defined at " +
                          earlier.name_where->str() + ")"};
}

Diagnostic address_conflict(const ListenerDraft& later, const ListenerDraft& earlier)
{
    const Endpoint& mine = later.config.endpoint;
    const Endpoint& theirs = earlier.config.endpoint;
    const std::string other = "listener '" + earlier.config.name + "' at " + earlier.listen_where->str();
    std::string message = mine.same_address(theirs)
                              ? "listen address \"" + mine.text + "\" is already used by " + other
                              : "listen address \"" + mine.text + "\" conflicts with \"" + theirs.text + "\" of " +
                                    other + " (a wildcard address takes the port on every address)";
    return Diagnostic{*later.listen_where, later.config.name, std::move(message)};
}

} // namespace

void check_unique(const std::vector<ListenerDraft>& listeners, std::vector<Diagnostic>& sink)
{
    for (size_t i = 0; i < listeners.size(); ++i) {
        const ListenerDraft& later = listeners[i];
        // Each problem is reported once, against the first earlier listener it collides with.
        bool name_reported = false;
        bool address_reported = false;
        for (size_t j = 0; j < i; ++j) {
            const ListenerDraft& earlier = listeners[j];
            if (!name_reported && later.name_where && earlier.name_where && later.config.name == earlier.config.name) {
                sink.push_back(duplicate_name(later, earlier));
                name_reported = true;
            }
            if (!address_reported && later.listen_where && earlier.listen_where &&
                conflicts(later.config.endpoint, earlier.config.endpoint)) {
                sink.push_back(address_conflict(later, earlier));
                address_reported = true;
            }
        }
    }
}

} // namespace ringd::config::detail
