// Internal to ringd_config: reading `listeners:` entries and `limits:` mappings, the checks that span all
// listeners of all files (unique names, non-conflicting addresses), and the per-listener warnings that need a
// whole entry read first (access lists, plugin timeouts).
#pragma once

#include "config/config.hpp"
#include "config/reader.hpp"

#include <filesystem>
#include <optional>
#include <vector>

namespace ringd::config::detail {

// Where the limits that warnings talk about were written (unset: the built-in default).
struct LimitsWhere {
    std::optional<Location> idle_timeout;
    std::optional<Location> max_output_buffer;
    std::optional<Location> max_connections_per_source;
    std::optional<Location> connection_rate_per_source;
    std::optional<Location> max_tracked_sources;
};

// What every listener entry is read against, whichever file it is in.
struct ListenerContext {
    Limits defaults; // the top-level `limits:`
    LimitsWhere defaults_where;
    std::filesystem::path plugin_dir; // absolute; already the --plugin-dir override when one was given
    bool access_log = false;          // the top-level `access_log:`
    bool check_plugin_files = true;
};

// One valid `allow:` or `deny:` entry: the range, its text as written and where.
struct RangeEntry {
    Cidr cidr;
    std::string text;
    Location where;
};

// A listener as read, plus the positions the cross-listener checks report at. Those are set only when the
// name / endpoint is valid, so a bad value is not reported a second time as a duplicate.
struct ListenerDraft {
    ListenerConfig config;
    std::optional<Location> name_where;
    std::optional<Location> listen_where;
    // For the warnings: each valid `allow:`/`deny:` entry as written, and the keys themselves.
    std::vector<RangeEntry> allow_entries;
    std::vector<RangeEntry> deny_entries;
    std::optional<Location> allow_where;
    std::optional<Location> deny_where;
    LimitsWhere limits_where; // the listener's own `limits:`, else the top-level one
    // The listener's own `limits:` sets a per-source limit (where), for the warning on unix listeners.
    std::optional<Location> own_per_source_limit;
    // `proxy_trusted:` entries as written, and the proxy keys, for the warnings.
    std::vector<RangeEntry> proxy_trusted_entries;
    std::optional<Location> proxy_protocol_where;
    std::optional<Location> proxy_trusted_where;
    std::optional<Location> proxy_timeout_where;
};

// Overrides the keys of `limits` (and `where`) that `field` (a `limits:` mapping) sets. `what` names it in
// messages.
void read_limits(Reporter& reporter, const Field& field, std::string_view what, Limits& limits, LimitsWhere& where);

// The per-source keys of a `limits:` mapping (source_limits.cpp): max_connections_per_source,
// connection_rate_per_source, source_prefix_v4/v6, max_tracked_sources.
void read_source_limits(Reporter& reporter, const Fields& fields, Limits& limits, LimitsWhere& where);

// Warns where per-source limits cannot work as written: a per-source count not below max_connections, a table
// that open connections alone can fill, limits on a unix listener that no PROXY header gives an address.
void check_source_limits(const ListenerDraft& listener, std::vector<Diagnostic>& warnings);

// A listener's proxy_protocol, proxy_trusted and proxy_timeout (proxy_settings.cpp), after `listen:` is read.
void read_proxy_settings(Reporter& reporter, const Fields& fields, ListenerDraft& draft);

// An `access_log:` value: on or off (true and false too). Reports anything else.
[[nodiscard]] std::optional<bool> read_on_off(Reporter& reporter, const Field& field);

// Appends one draft per listener entry of a `listeners:` value. Returns how many entries were written, counting a
// malformed `listeners:` value as one, so that it is not also reported as "no listeners configured".
size_t read_listeners(Reporter& reporter, const Field& field, const ListenerContext& context,
                      std::vector<ListenerDraft>& out);

// The entries of an `allow:` or `deny:` list (each reported and skipped when invalid), with the warnings about
// single entries (host bits set, a range listed twice).
std::vector<RangeEntry> read_ranges(Reporter& reporter, const Field& field);

// The top-level `admin:` (admin.cpp). `draft` gets what the checks across listeners need: the name `admin`, the
// endpoint and where it was written, the access lists as written.
std::optional<AdminConfig> read_admin(Reporter& reporter, const Field& field, ListenerDraft& draft);

// Listener names ringd keeps for itself (`admin`): an error at each listener that takes one.
void check_reserved_names(const std::vector<ListenerDraft>& listeners, std::vector<Diagnostic>& sink);

// Reports duplicate names and conflicting addresses, each at the later of the two listeners.
void check_unique(const std::vector<ListenerDraft>& listeners, std::vector<Diagnostic>& sink);

// Warns about access lists that shut out more than meant: an `allow` entry a `deny` covers (it admits nobody),
// a `deny` or `allow` under which no peer at all can reach the listener (access_checks.cpp).
void check_access_lists(const ListenerDraft& listener, std::vector<Diagnostic>& warnings);

// Warns where a limit of the listener works against what the plugin's own config sets up: an idle_timeout that
// cuts a wait short, a max_output_buffer below a proxy's buffer (plugin_limits.cpp).
void check_plugin_limits(const ListenerDraft& listener, std::vector<Diagnostic>& warnings);

} // namespace ringd::config::detail
