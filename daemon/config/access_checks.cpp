// Warnings about `allow:`/`deny:` lists that shut out more than they look like they do: an allow entry that a
// deny covers (deny is checked first, so it admits nobody), and lists under which no peer can reach the listener.
//
// The peers a listener can see: an IPv4 socket sees only IPv4 peers. An IPv6 socket ringd opens itself is
// IPv6-only, but one passed in by systemd may be dual-stack (BindIPv6Only=), seeing IPv4 peers as ::ffff:a.b.c.d,
// which IPv4 ranges match; so for an IPv6 listener every address counts as possible, and an IPv4 entry is never
// called useless there.
#include "config/listener.hpp"
#include "config/prefix_cover.hpp"

#include <algorithm>

namespace ringd::config::detail {
namespace {

std::vector<Prefix> prefixes_of(const std::vector<RangeEntry>& entries)
{
    std::vector<Prefix> out;
    for (const RangeEntry& e : entries)
        out.push_back(prefix_of(e.cidr));
    return out;
}

Prefix possible_peers(const Endpoint& endpoint)
{
    return endpoint.family() == AF_INET ? ipv4_peers() : Prefix{}; // Prefix{} is ::/0
}

std::string describe_peers(const Endpoint& endpoint)
{
    return endpoint.family() == AF_INET ? " (an IPv4 socket: only IPv4 peers)" : "";
}

const RangeEntry* single_cover(const std::vector<RangeEntry>& entries, const Prefix& target)
{
    const auto it = std::find_if(entries.begin(), entries.end(),
                                 [&](const RangeEntry& e) { return prefix_contains(prefix_of(e.cidr), target); });
    return it == entries.end() ? nullptr : &*it;
}

Diagnostic warning(const ListenerDraft& listener, const Location& where, std::string message)
{
    return Diagnostic{where, listener.config.name, std::move(message), Severity::warning};
}

} // namespace

void check_access_lists(const ListenerDraft& listener, std::vector<Diagnostic>& warnings)
{
    const Endpoint& endpoint = listener.config.endpoint;
    if (!listener.listen_where || endpoint.is_unix()) return; // an error already
    const Prefix peers = possible_peers(endpoint);
    const std::vector<Prefix> denied = prefixes_of(listener.deny_entries);
    if (!denied.empty() && covered_by(peers, denied)) {
        // Every allow entry would be covered too: this one warning says it all.
        const RangeEntry* all = single_cover(listener.deny_entries, peers);
        const std::string what = all != nullptr ? "deny entry " + all->text : "the 'deny' entries together";
        warnings.push_back(warning(listener, all != nullptr ? all->where : *listener.deny_where,
                                   what + (all != nullptr ? " refuses" : " refuse") + " every peer" +
                                       describe_peers(endpoint) + ": nobody can reach " + endpoint.text));
        return;
    }
    if (listener.allow_entries.empty()) return;
    const bool any_possible =
        std::any_of(listener.allow_entries.begin(), listener.allow_entries.end(),
                    [&](const RangeEntry& e) { return prefixes_overlap(prefix_of(e.cidr), peers); });
    if (!any_possible) {
        warnings.push_back(warning(listener, *listener.allow_where,
                                   "no 'allow' entry can match a peer of " + endpoint.text + describe_peers(endpoint) +
                                       ": nobody is admitted"));
        return;
    }
    for (const RangeEntry& entry : listener.allow_entries) {
        const Prefix range = prefix_of(entry.cidr);
        if (!prefixes_overlap(range, peers)) continue; // useless here, but maybe a list shared with IPv6 listeners
        const Prefix reachable = prefix_contains(peers, range) ? range : peers;
        if (!covered_by(reachable, denied)) continue;
        const RangeEntry* cover = single_cover(listener.deny_entries, reachable);
        const std::string by = cover != nullptr ? "deny entry " + cover->text + " (line " +
                                                      std::to_string(cover->where.line) + ") covers it"
                                                : "the 'deny' entries together cover it";
        warnings.push_back(warning(listener, entry.where,
                                   "allow entry " + entry.text + " admits nobody: " + by + ", and 'deny' wins"));
    }
}

} // namespace ringd::config::detail
