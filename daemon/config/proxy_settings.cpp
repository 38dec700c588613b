// A listener's PROXY protocol keys: proxy_protocol (which header version every connection begins with),
// proxy_trusted (the peers allowed to send one) and proxy_timeout (how long a header may take), with the checks
// that need the listener's transport. The codec is daemon/proxy_protocol/; docs/configuration.md, "Listeners".
//
// Trust: a header rewrites who the client is, so only the proxies named in proxy_trusted may send one. A unix
// listener takes no proxy_trusted: its peers have no address, and who may connect (and so send a header) is
// decided by the socket file's permissions (`mode`), so every peer of it is a trusted proxy.
#include "config/listener.hpp"
#include "config/prefix_cover.hpp"
#include "config/units.hpp"

#include <algorithm>
#include <array>

namespace ringd::config {

std::string_view describe(ProxyProtocol protocol)
{
    switch (protocol) {
    case ProxyProtocol::off:
        return "off";
    case ProxyProtocol::v1:
        return "v1";
    case ProxyProtocol::v2:
        return "v2";
    case ProxyProtocol::any:
        return "any";
    }
    return "off";
}

namespace detail {
namespace {

constexpr auto min_proxy_timeout = std::chrono::milliseconds(10);
constexpr auto max_proxy_timeout = std::chrono::minutes(1);
constexpr std::array proxy_protocols{ProxyProtocol::off, ProxyProtocol::v1, ProxyProtocol::v2, ProxyProtocol::any};

std::optional<ProxyProtocol> read_protocol(Reporter& reporter, const Field& field, const ListenerDraft& draft)
{
    const std::optional<std::string> text = read_scalar(reporter, field, "v1, v2, any or off");
    if (!text) return std::nullopt;
    const auto it = std::find_if(proxy_protocols.begin(), proxy_protocols.end(),
                                 [&](ProxyProtocol p) { return describe(p) == *text; });
    if (it == proxy_protocols.end()) {
        reporter.error(field.value_mark(),
                       "expected v1, v2, any or off for 'proxy_protocol', got " + describe(field.value));
        return std::nullopt;
    }
    const Endpoint& endpoint = draft.config.endpoint;
    if (draft.listen_where && !endpoint.is_stream() && (*it == ProxyProtocol::v1 || *it == ProxyProtocol::any)) {
        reporter.error(field.value_mark(), "a udp listener takes only proxy_protocol v2 (" + endpoint.text +
                                               "): v1 is a line of text at the start of a stream, and a datagram "
                                               "carries a binary v2 header");
        return std::nullopt;
    }
    return *it;
}

void read_trusted(Reporter& reporter, const Field& field, ListenerDraft& draft)
{
    draft.proxy_trusted_where = reporter.at(field.key_node.Mark());
    if (draft.listen_where && draft.config.endpoint.is_unix()) {
        reporter.error(field.key_node.Mark(),
                       "'proxy_trusted' cannot be used on a unix socket listener: its peers have no address; who may "
                       "connect, and so send a header, is decided by the socket file's permissions ('mode')");
        return;
    }
    if (field.value.IsSequence() && field.value.size() == 0)
        reporter.error(field.value_mark(), "an empty 'proxy_trusted' list trusts nobody, so every connection would be "
                                           "refused; list the addresses of the proxies that send the header");
    draft.proxy_trusted_entries = read_ranges(reporter, field);
    for (const RangeEntry& entry : draft.proxy_trusted_entries)
        draft.config.proxy_trusted.push_back(entry.cidr);
}

void read_timeout(Reporter& reporter, const Field& field, ListenerDraft& draft)
{
    draft.proxy_timeout_where = reporter.at(field.key_node.Mark());
    const auto value = read_parsed(reporter, field, "a duration like 3s", parse_duration);
    if (value && (*value < min_proxy_timeout || *value > max_proxy_timeout))
        reporter.error(field.value_mark(), "expected a proxy_timeout from 10ms to 1m, got " + describe(field.value));
    else if (value)
        draft.config.proxy_timeout = *value;
}

// proxy_trusted covering every peer the socket can have: then anyone who can connect may claim any address.
void warn_if_trusting_everyone(Reporter& reporter, const ListenerDraft& draft)
{
    const Endpoint& endpoint = draft.config.endpoint;
    std::vector<Prefix> trusted;
    for (const RangeEntry& entry : draft.proxy_trusted_entries)
        trusted.push_back(prefix_of(entry.cidr));
    // An IPv4 socket sees only IPv4 peers; an IPv6 one may be dual-stack (see access_checks.cpp).
    const Prefix peers = endpoint.family() == AF_INET ? ipv4_peers() : Prefix{};
    if (trusted.empty() || !covered_by(peers, trusted)) return;
    const auto all = std::find_if(draft.proxy_trusted_entries.begin(), draft.proxy_trusted_entries.end(),
                                  [&](const RangeEntry& e) { return prefix_contains(prefix_of(e.cidr), peers); });
    const bool one = all != draft.proxy_trusted_entries.end();
    reporter.warn(one ? all->where : *draft.proxy_trusted_where,
                  (one ? "proxy_trusted " + all->text + " trusts" : std::string("the proxy_trusted entries trust")) +
                      " every peer of " + endpoint.text +
                      ": anyone who can connect can send a PROXY header and claim to be any client; list only "
                      "the addresses of your proxies or load balancers");
}

} // namespace

void read_proxy_settings(Reporter& reporter, const Fields& fields, ListenerDraft& draft)
{
    const Field* protocol = fields.find("proxy_protocol");
    const Field* trusted = fields.find("proxy_trusted");
    const Field* timeout = fields.find("proxy_timeout");
    std::optional<ProxyProtocol> read = ProxyProtocol::off; // nullopt: written, but invalid (reported)
    if (protocol != nullptr) {
        draft.proxy_protocol_where = reporter.at(protocol->key_node.Mark());
        read = read_protocol(reporter, *protocol, draft);
        if (read) draft.config.proxy_protocol = *read;
    }
    if (trusted != nullptr) read_trusted(reporter, *trusted, draft);
    if (timeout != nullptr) read_timeout(reporter, *timeout, draft);
    if (!read || !draft.listen_where) return; // the combinations below need both to be known
    const Endpoint& endpoint = draft.config.endpoint;
    if (*read == ProxyProtocol::off) {
        for (const Field* f : {trusted, timeout}) {
            if (f != nullptr)
                reporter.warn(f->key_node.Mark(), "'" + f->key + "' has no effect without proxy_protocol");
        }
        return;
    }
    if (!endpoint.is_unix() && trusted == nullptr)
        reporter.error(protocol->key_node.Mark(),
                       "'proxy_protocol' needs 'proxy_trusted': the addresses of the proxies or load balancers "
                       "that may send the header (from anyone else, a header could claim any client address)");
    if (timeout != nullptr && !endpoint.is_stream())
        reporter.warn(timeout->key_node.Mark(), "'proxy_timeout' has no effect on a udp listener (" + endpoint.text +
                                                    "): each datagram carries its own header");
    if (trusted != nullptr && !endpoint.is_unix()) warn_if_trusting_everyone(reporter, draft);
}

} // namespace detail
} // namespace ringd::config
