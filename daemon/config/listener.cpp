// Reading one `listeners:` entry: name, endpoint, plugin file, access lists, limits and the plugin's own config.
#include "config/listener.hpp"

#include "config/units.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace ringd::config::detail {
namespace {

constexpr std::array<std::string_view, 12> listener_keys{
    "name",   "listen", "plugin",     "allow",          "deny",          "mode",
    "limits", "config", "access_log", "proxy_protocol", "proxy_trusted", "proxy_timeout"};
constexpr std::array<std::string_view, 3> required_listener_keys{"name", "listen", "plugin"};
constexpr std::array<std::string_view, 9> limits_keys{"max_connections",
                                                      "idle_timeout",
                                                      "max_output_buffer",
                                                      "max_outbound_connections",
                                                      "max_connections_per_source",
                                                      "source_prefix_v4",
                                                      "source_prefix_v6",
                                                      "max_tracked_sources",
                                                      "connection_rate_per_source"};

constexpr uint64_t max_connections_limit = 1'000'000;
constexpr uint64_t min_output_buffer = 1024; // smaller would not hold one typical reply

// Listener names appear in logs, metrics and messages unquoted, so keep them to a safe alphabet.
bool is_valid_name(std::string_view name)
{
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
               c == '-';
    });
}

std::optional<std::string> read_name(Reporter& reporter, const Field& field)
{
    const std::optional<std::string> name = read_scalar(reporter, field, "a listener name");
    if (!name) return std::nullopt;
    if (is_valid_name(*name)) return name;
    reporter.error(field.value_mark(),
                   "expected a listener name made of letters, digits, '_', '.' and '-', got " + describe(field.value));
    return std::nullopt;
}

// `plugin: NAME` is <plugin_dir>/NAME.so; `plugin: /abs/path.so` is used as is. Relative paths are refused: it
// would be unclear whether they are relative to the config file or to plugin_dir.
std::optional<std::filesystem::path> resolve_plugin(Reporter& reporter, const Field& field,
                                                    const ListenerContext& context)
{
    const std::string expected = "a plugin name like echo-upper or an absolute path to a .so file";
    const std::optional<std::string> text = read_scalar(reporter, field, expected);
    if (!text) return std::nullopt;
    std::filesystem::path path;
    if (text->starts_with('/') && text->ends_with(".so")) {
        path = std::filesystem::path(*text).lexically_normal();
    } else if (is_valid_name(*text) && !text->ends_with(".so")) {
        path = context.plugin_dir / (*text + ".so");
    } else {
        const bool dot_so = is_valid_name(*text) && text->ends_with(".so");
        reporter.error(field.value_mark(), "expected " + expected + ", got " + describe(field.value) +
                                               (dot_so ? " (write the name without .so)" : ""));
        return std::nullopt;
    }
    std::error_code ec;
    if (context.check_plugin_files && !std::filesystem::is_regular_file(path, ec)) {
        reporter.error(field.value_mark(), "plugin file not found: " + path.string());
        return std::nullopt;
    }
    return path;
}

// Warnings about one entry of an `allow:`/`deny:` list: a range with host bits set, and a range listed twice.
void warn_about_range(Reporter& reporter, const Field& item, const RangeEntry& entry,
                      const std::vector<RangeEntry>& earlier)
{
    if (cidr_has_host_bits(entry.text))
        reporter.warn(entry.where, entry.text + " has host bits set; it matches " + format_cidr(entry.cidr) +
                                       " (write the network address, or a bare address for one host)");
    const auto same = std::find_if(earlier.begin(), earlier.end(), [&](const RangeEntry& e) {
        return e.cidr.family == entry.cidr.family && e.cidr.prefix_len == entry.cidr.prefix_len &&
               e.cidr.bytes == entry.cidr.bytes;
    });
    if (same != earlier.end())
        reporter.warn(entry.where, "'" + item.key + "' lists " + format_cidr(entry.cidr) + " twice (also at line " +
                                       std::to_string(same->where.line) + "); was another range meant?");
}

std::vector<RangeEntry> read_cidrs(Reporter& reporter, const Field& field)
{
    std::vector<RangeEntry> ranges;
    if (!field.value.IsSequence()) {
        reporter.error(field.value_mark(), "expected a list of address ranges like [127.0.0.0/8, \"::1/128\"] for '" +
                                               field.key + "', got " + describe(field.value));
        return ranges;
    }
    // `allow: []` would admit everyone (an empty allow list means "no allow list"), the opposite of what
    // writing it suggests.
    if (field.key == "allow" && field.value.size() == 0)
        reporter.error(field.value_mark(), "an empty 'allow' list would admit everyone; list the ranges to admit, or "
                                           "remove 'allow'");
    for (const YAML::Node& entry : field.value) {
        const Field item{field.key, field.key_node, entry};
        if (auto cidr = read_parsed(reporter, item, "an address range like 10.0.0.0/8", parse_cidr)) {
            RangeEntry range{*cidr, entry.Scalar(), reporter.at(item.value_mark())};
            warn_about_range(reporter, item, range, ranges);
            ranges.push_back(std::move(range));
        }
    }
    return ranges;
}

// Records where each key inside `config:` was written, under its dotted path ("rate_limit.burst"); sequence
// elements use their index ("backends.0.host"), so plugins can point at any value they reject.
// A key written twice in one mapping is an error here, for every plugin: yaml-cpp keeps both entries and would
// hand both to the plugin, which would silently take one of them (and point its errors at the other).
void record_config_keys(Reporter& reporter, const YAML::Node& node, const std::string& prefix,
                        std::map<std::string, Location>& out)
{
    auto path_of = [&](const std::string& part) { return prefix.empty() ? part : prefix + "." + part; };
    if (node.IsMap()) {
        std::map<std::string, int> first_line; // of each key of this mapping
        for (const auto& pair : node) {
            if (!pair.first.IsScalar()) continue;
            const std::string& name = pair.first.Scalar();
            if (const auto [it, fresh] = first_line.emplace(name, pair.first.Mark().line + 1); !fresh) {
                reporter.error(pair.first.Mark(), "duplicate key '" + name + "' in 'config' (first at line " +
                                                      std::to_string(it->second) + ")");
                continue;
            }
            const std::string path = path_of(name);
            out.emplace(path, reporter.at(pair.first.Mark()));
            record_config_keys(reporter, pair.second, path, out);
        }
    } else if (node.IsSequence()) {
        for (size_t i = 0; i < node.size(); ++i) {
            if (node[i].IsNull()) continue; // yaml-cpp gives empty elements the position of the next token
            const std::string path = path_of(std::to_string(i));
            out.emplace(path, reporter.at(node[i].Mark()));
            record_config_keys(reporter, node[i], path, out);
        }
    }
}

// The plugin owns everything inside `config:`, so it is only checked to be a mapping, then handed over as text.
void read_plugin_config(Reporter& reporter, const Field* field, ListenerConfig& listener)
{
    listener.plugin_config_yaml = "{}";
    listener.config_key_locations[""] = listener.where;
    if (field == nullptr) return;
    if (!field->value.IsMap()) {
        reporter.error(field->value_mark(),
                       "expected 'config' to be a mapping (the plugin's settings), got " + describe(field->value));
        return;
    }
    YAML::Emitter emitter;
    emitter << field->value;
    if (!emitter.good()) {
        reporter.error(field->value_mark(), "cannot re-emit 'config' for the plugin: " + emitter.GetLastError());
        return;
    }
    listener.plugin_config_yaml = emitter.c_str();
    listener.config_key_locations[""] = reporter.at(field->value.Mark());
    record_config_keys(reporter, field->value, "", listener.config_key_locations);
}

// Where a listener's own `limits:` mapping sets a per-source limit (to anything but off), if it does.
std::optional<Location> own_per_source_limit(const Reporter& reporter, const Field& limits)
{
    if (!limits.value.IsMap()) return std::nullopt;
    for (const auto& pair : limits.value) {
        if (!pair.first.IsScalar()) continue;
        const std::string& key = pair.first.Scalar();
        const bool off = pair.second.IsScalar() && pair.second.Scalar() == "off";
        if ((key == "max_connections_per_source" || key == "connection_rate_per_source") && !off)
            return reporter.at(pair.first.Mark());
    }
    return std::nullopt;
}

void read_fields(Reporter& reporter, const Fields& fields, const ListenerContext& context, ListenerDraft& draft)
{
    ListenerConfig& listener = draft.config;
    if (const Field* f = fields.find("name"); f != nullptr) {
        if (auto name = read_name(reporter, *f)) {
            listener.name = *name;
            draft.name_where = reporter.at(f->value_mark());
        }
    }
    if (const Field* f = fields.find("listen"); f != nullptr) {
        if (auto endpoint = read_parsed(reporter, *f, "a listen address like tcp://127.0.0.1:8080", parse_endpoint)) {
            listener.endpoint = *endpoint;
            draft.listen_where = reporter.at(f->value_mark());
        }
    }
    if (const Field* f = fields.find("plugin"); f != nullptr) {
        listener.plugin_where = reporter.at(f->value_mark());
        if (auto path = resolve_plugin(reporter, *f, context)) listener.plugin_path = *path;
    }
    for (const char* key : {"allow", "deny"}) {
        const Field* f = fields.find(key);
        if (f == nullptr) continue;
        // Unix peers have no IP address to match, so such a list could only ever deny or admit everyone.
        if (draft.listen_where && listener.endpoint.is_unix())
            reporter.error(f->key_node.Mark(), "'" + f->key +
                                                   "' cannot be used on a unix socket listener; restrict "
                                                   "access with the socket file's permissions instead");
        const bool allow = f->key == "allow";
        std::vector<RangeEntry>& entries = allow ? draft.allow_entries : draft.deny_entries;
        entries = read_cidrs(reporter, *f);
        (allow ? draft.allow_where : draft.deny_where) = reporter.at(f->key_node.Mark());
        std::vector<Cidr>& ranges = allow ? listener.allow : listener.deny;
        for (const RangeEntry& entry : entries)
            ranges.push_back(entry.cidr);
    }
    if (const Field* f = fields.find("mode"); f != nullptr) {
        // Only a socket file has permission bits: an abstract name or a port has none to set.
        if (draft.listen_where && (!listener.endpoint.is_unix() || listener.endpoint.is_abstract_unix()))
            reporter.error(f->key_node.Mark(), "'mode' applies only to unix:///path listeners (" +
                                                   listener.endpoint.text + " has no socket file)");
        if (auto mode = read_parsed(reporter, *f, "permission bits like 0660", parse_file_mode))
            listener.unix_mode = *mode;
    }
    if (const Field* f = fields.find("limits"); f != nullptr) {
        // Every limit is about connections, and a datagram listener has none: the settings would do nothing.
        if (draft.listen_where && !listener.endpoint.is_stream())
            reporter.warn(f->key_node.Mark(), "'limits' has no effect on a udp listener (" + listener.endpoint.text +
                                                  "): max_connections, idle_timeout and max_output_buffer apply "
                                                  "to connections, and datagrams have none");
        read_limits(reporter, *f, "listener limits", listener.limits, draft.limits_where);
        draft.own_per_source_limit = own_per_source_limit(reporter, *f);
    }
    if (const Field* f = fields.find("access_log"); f != nullptr) {
        // Records are per connection, and datagrams have none (the top-level default is not warned about).
        if (draft.listen_where && !listener.endpoint.is_stream())
            reporter.warn(f->key_node.Mark(), "'access_log' has no effect on a udp listener (" +
                                                  listener.endpoint.text +
                                                  "): it records connections, and datagrams have none");
        if (auto on = read_on_off(reporter, *f)) listener.access_log = *on;
    }
    read_proxy_settings(reporter, fields, draft);
    read_plugin_config(reporter, fields.find("config"), listener);
}

// A listener's name as written, to label its diagnostics even when the name itself is invalid.
std::string label_of(const YAML::Node& entry)
{
    // Iterated rather than looked up: yaml-cpp's const operator[] yields an invalid node for a missing key.
    for (const auto& pair : entry) {
        if (pair.first.IsScalar() && pair.first.Scalar() == "name")
            return pair.second.IsScalar() ? pair.second.Scalar() : std::string();
    }
    return {};
}

std::optional<ListenerDraft> read_listener(Reporter& reporter, const YAML::Node& entry, const ListenerContext& context)
{
    reporter.set_listener(label_of(entry));
    const std::optional<Fields> fields = read_mapping(reporter, entry, entry.Mark(), "listener", listener_keys);
    if (!fields) return std::nullopt;
    ListenerDraft draft;
    draft.config.where = reporter.at(entry.Mark());
    draft.config.limits = context.defaults;
    draft.config.access_log = context.access_log;
    draft.limits_where = context.defaults_where;
    for (std::string_view key : required_listener_keys) {
        if (fields->find(key) == nullptr)
            reporter.error(entry.Mark(), "missing required key '" + std::string(key) + "' in listener");
    }
    read_fields(reporter, *fields, context, draft);
    return draft;
}

} // namespace

void read_limits(Reporter& reporter, const Field& field, std::string_view what, Limits& limits, LimitsWhere& where)
{
    const std::optional<Fields> fields = read_mapping(reporter, field.value, field.value_mark(), what, limits_keys);
    if (!fields) return;
    if (const Field* f = fields->find("max_connections"); f != nullptr) {
        if (auto value = read_integer(reporter, *f, 1, max_connections_limit))
            limits.max_connections = static_cast<uint32_t>(*value);
    }
    if (const Field* f = fields->find("idle_timeout"); f != nullptr) {
        if (auto value = read_parsed(reporter, *f, "a duration like 60s", parse_duration)) {
            limits.idle_timeout = *value;
            where.idle_timeout = reporter.at(f->value_mark());
        }
    }
    if (const Field* f = fields->find("max_output_buffer"); f != nullptr) {
        const auto value = read_parsed(reporter, *f, "a size like 1MiB", parse_size);
        if (value && *value < min_output_buffer) {
            reporter.error(f->value_mark(), "expected max_output_buffer of at least 1KiB, got " + describe(f->value));
        } else if (value) {
            limits.max_output_buffer = *value;
            where.max_output_buffer = reporter.at(f->value_mark());
        }
    }
    if (const Field* f = fields->find("max_outbound_connections"); f != nullptr) {
        // 0 is allowed: a listener whose plugin must not connect anywhere.
        if (auto value = read_integer(reporter, *f, 0, max_connections_limit))
            limits.max_outbound_connections = static_cast<uint32_t>(*value);
    }
    read_source_limits(reporter, *fields, limits, where);
}

std::optional<bool> read_on_off(Reporter& reporter, const Field& field)
{
    const std::optional<std::string> text = read_scalar(reporter, field, "on or off");
    if (!text) return std::nullopt;
    if (*text == "on" || *text == "true") return true;
    if (*text == "off" || *text == "false") return false;
    reporter.error(field.value_mark(), "expected on or off for '" + field.key + "', got " + describe(field.value));
    return std::nullopt;
}

size_t read_listeners(Reporter& reporter, const Field& field, const ListenerContext& context,
                      std::vector<ListenerDraft>& out)
{
    if (field.value.IsNull()) return 0; // `listeners:` left empty, e.g. everything commented out
    if (!field.value.IsSequence()) {
        reporter.error(field.value_mark(),
                       "expected a list of listeners for 'listeners', got " + describe(field.value));
        return 1;
    }
    for (const YAML::Node& entry : field.value) {
        const YAML::Mark mark = entry.IsNull() ? field.key_node.Mark() : entry.Mark();
        if (!entry.IsMap()) {
            reporter.error(mark,
                           "expected a listener (a mapping with name, listen and plugin), got " + describe(entry));
            continue;
        }
        if (auto draft = read_listener(reporter, entry, context)) out.push_back(std::move(*draft));
    }
    reporter.set_listener({});
    return field.value.size();
}

std::vector<RangeEntry> read_ranges(Reporter& reporter, const Field& field)
{
    return read_cidrs(reporter, field);
}

} // namespace ringd::config::detail
