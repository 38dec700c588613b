// Internal to ringd_config: reading `listeners:` entries and `limits:` mappings, and the checks that span all
// listeners of all files (unique names, non-conflicting addresses).
#pragma once

#include "config/config.hpp"
#include "config/reader.hpp"

#include <filesystem>
#include <optional>
#include <vector>

namespace ringd::config::detail {

// What every listener entry is read against, whichever file it is in.
struct ListenerContext {
    Limits defaults;                  // the top-level `limits:`
    std::filesystem::path plugin_dir; // absolute; already the --plugin-dir override when one was given
    bool check_plugin_files = true;
};

// A listener as read, plus the positions the cross-listener checks report at. Those are set only when the
// name / endpoint is valid, so a bad value is not reported a second time as a duplicate.
struct ListenerDraft {
    ListenerConfig config;
    std::optional<Location> name_where;
    std::optional<Location> listen_where;
};

// Overrides the keys of `limits` that `field` (a `limits:` mapping) sets. `what` names it in messages.
void read_limits(Reporter& reporter, const Field& field, std::string_view what, Limits& limits);

// Appends one draft per listener entry of a `listeners:` value. Returns how many entries were written, counting a
// malformed `listeners:` value as one, so that it is not also reported as "no listeners configured".
size_t read_listeners(Reporter& reporter, const Field& field, const ListenerContext& context,
                      std::vector<ListenerDraft>& out);

// Reports duplicate names and conflicting addresses, each at the later of the two listeners.
void check_unique(const std::vector<ListenerDraft>& listeners, std::vector<Diagnostic>& sink);

} // namespace ringd::config::detail
