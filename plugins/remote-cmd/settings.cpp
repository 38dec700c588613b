// Parsing and validation of remote-cmd's listener config; see settings.hpp.
#include "settings.hpp"

#include "argv_splitter.hpp"
#include "command_policy.hpp"
#include "common/config_mapping.hpp"
#include "common/config_scalar.hpp"
#include "common/config_units.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <grp.h>
#include <limits>
#include <pwd.h>
#include <ringd/plugin.hpp>
#include <stdexcept>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

namespace ringd::remote_cmd {
using plugin_common::parse_duration;
using plugin_common::parse_size;
using plugin_common::whole_number;

namespace {

// The length fields of json-header and size-prefixed are signed 32-bit: keep every response well inside.
constexpr uint64_t kMaxOutputLimit = 1024ull * 1024 * 1024;
constexpr uint64_t kMaxRequestLimit = 16ull * 1024 * 1024;
constexpr std::size_t kMaxTokenBytes = 4096;

std::string scalar(const YAML::Node& node, const std::string& key)
{
    return plugin_common::scalar_text(node, key, "a single value");
}

std::chrono::milliseconds duration_key(const YAML::Node& node, const std::string& key)
{
    try {
        const auto d = parse_duration(scalar(node, key));
        if (d.count() <= 0) throw ConfigError(key, "must be greater than 0");
        if (d.count() > std::numeric_limits<uint32_t>::max()) throw ConfigError(key, "must be below 49 days");
        return d;
    } catch (const std::invalid_argument& e) {
        throw ConfigError(key, e.what());
    }
}

uint64_t size_key(const YAML::Node& node, const std::string& key, uint64_t min, uint64_t max)
{
    uint64_t v = 0;
    try {
        v = parse_size(scalar(node, key));
    } catch (const std::invalid_argument& e) {
        throw ConfigError(key, e.what());
    }
    if (v < min || v > max) {
        throw ConfigError(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + " bytes");
    }
    return v;
}

uint32_t count_key(const YAML::Node& node, const std::string& key, uint32_t min, uint32_t max)
{
    const auto v = whole_number(scalar(node, key));
    if (!v) throw ConfigError(key, "expected a whole number");
    if (*v < min || v > max) {
        throw ConfigError(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    }
    return static_cast<uint32_t>(*v);
}

bool bool_key(const YAML::Node& node, const std::string& key)
{
    try {
        return node.as<bool>();
    } catch (const YAML::Exception&) {
        throw ConfigError(key, "expected true or false");
    }
}

std::vector<std::string> string_list(const YAML::Node& node, const std::string& key)
{
    std::vector<std::string> out;
    if (node.IsNull()) return out;
    if (!node.IsSequence()) throw ConfigError(key, "expected a list, e.g. [ls, date]");
    for (const YAML::Node& item : node)
        out.push_back(scalar(item, key));
    return out;
}

// `args: [..]` of an allow entry: the exact arguments, each a scalar (an empty list: no arguments at all).
std::vector<std::string> fixed_arguments(const YAML::Node& node, const std::string& key)
{
    if (!node.IsSequence()) throw ConfigError(key, "expected a list of the exact arguments, e.g. [\"+%s\"] or []");
    std::vector<std::string> out;
    for (std::size_t i = 0; i < node.size(); ++i) {
        out.push_back(plugin_common::scalar_text(node[i], key + "." + std::to_string(i), "an argument"));
        if (out.back().find('\0') != std::string::npos) throw ConfigError(key, "arguments must not contain NUL");
    }
    return out;
}

// One allow entry: a command name, or a mapping that also says which arguments it may have. `key` is the
// entry's dotted path ("allow.3"), so that errors point at the entry (or the field inside it) itself.
AllowEntry allow_entry(const YAML::Node& node, const std::string& key)
{
    if (!node.IsMap()) {
        AllowEntry entry(plugin_common::scalar_text(
            node, key,
            "a command name, or a mapping like {command: date, args: []} or {command: df, args_pattern: RE}"));
        if (auto problem = allow_entry_error(entry.command)) throw ConfigError(key, *problem);
        return entry;
    }
    AllowEntry entry{std::string()};
    bool has_command = false;
    for (const auto& pair : node) {
        const std::string field = pair.first.IsScalar() ? pair.first.Scalar() : std::string();
        const std::string field_key = key + "." + field;
        if (field == "command") {
            entry.command = plugin_common::scalar_text(pair.second, field_key, "a command name or an absolute path");
            if (auto problem = allow_entry_error(entry.command)) throw ConfigError(field_key, *problem);
            has_command = true;
        } else if (field == "args") {
            entry.args = fixed_arguments(pair.second, field_key);
        } else if (field == "args_pattern") {
            const std::string text = plugin_common::scalar_text(pair.second, field_key, "a regular expression");
            try {
                entry.set_pattern(text);
            } catch (const std::regex_error& e) {
                throw ConfigError(field_key, "not a valid regular expression (ECMAScript): " + std::string(e.what()));
            }
        } else {
            throw ConfigError(field.empty() ? key : field_key,
                              "unknown allow-entry field \"" + field +
                                  "\" (an entry has command, and args or args_pattern)");
        }
    }
    if (!has_command) throw ConfigError(key, "an allow entry written as a mapping needs command: NAME");
    if (entry.args && entry.pattern) {
        throw ConfigError(key,
                          "an allow entry has args (exact arguments) or args_pattern, not both; write two entries");
    }
    if (entry.command == "*" && !entry.any_arguments()) {
        throw ConfigError(key, "\"*\" cannot have an argument policy: shell mode gives the whole line to /bin/sh");
    }
    return entry;
}

std::vector<AllowEntry> allow_list(const YAML::Node& node, const std::string& key)
{
    std::vector<AllowEntry> out;
    if (node.IsNull()) return out;
    if (!node.IsSequence()) throw ConfigError(key, "expected a list, e.g. [ls, date]");
    for (std::size_t i = 0; i < node.size(); ++i)
        out.push_back(allow_entry(node[i], key + "." + std::to_string(i)));
    return out;
}

// getpwnam_r / getgrnam_r want a caller buffer; grow it on ERANGE.
template <class Entry, class Lookup> std::optional<Entry> lookup_name(const std::string& name, Lookup lookup)
{
    std::vector<char> buffer(4096);
    for (;;) {
        Entry entry{};
        Entry* found = nullptr;
        const int rc = lookup(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
        if (rc == ERANGE && buffer.size() < (1u << 20)) {
            buffer.resize(buffer.size() * 2);
            continue;
        }
        if (rc != 0 || found == nullptr) return std::nullopt;
        return entry;
    }
}

// Entries are numeric ids or names (users for allow_uids, groups for allow_gids).
std::vector<uint32_t> id_list(const YAML::Node& node, const std::string& key, bool users)
{
    std::vector<uint32_t> ids;
    for (const std::string& item : string_list(node, key)) {
        if (const auto id = whole_number(item)) {
            if (*id >= std::numeric_limits<uint32_t>::max()) throw ConfigError(key, "id out of range: " + item);
            ids.push_back(static_cast<uint32_t>(*id));
        } else if (users) {
            auto pw = lookup_name<passwd>(item, ::getpwnam_r);
            if (!pw) throw ConfigError(key, "no such user: " + item);
            ids.push_back(pw->pw_uid);
        } else {
            auto gr = lookup_name<group>(item, ::getgrnam_r);
            if (!gr) throw ConfigError(key, "no such group: " + item);
            ids.push_back(gr->gr_gid);
        }
    }
    return ids;
}

std::string read_token_file(const std::string& path)
{
    const std::string key = "token_file";
    if (path.empty() || path.front() != '/') throw ConfigError(key, "must be an absolute path");
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) throw ConfigError(key, "cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    std::string token;
    std::string problem;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        problem = path + " is not a regular file";
    } else if ((st.st_mode & S_IRWXO) != 0) {
        problem = path + " is accessible by other users (mode " + std::to_string((st.st_mode >> 6) & 7) +
                  std::to_string((st.st_mode >> 3) & 7) + std::to_string(st.st_mode & 7) + "); run chmod o= on it";
    } else if (st.st_size > static_cast<off_t>(kMaxTokenBytes)) {
        problem = path + " is larger than 4096 bytes";
    } else {
        token.resize(static_cast<std::size_t>(st.st_size));
        const ssize_t n = ::read(fd, token.data(), token.size());
        if (n < 0) problem = "cannot read " + path + ": " + std::strerror(errno);
        token.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
    }
    ::close(fd);
    if (!problem.empty()) throw ConfigError(key, problem);
    token = std::string(trim_blanks(token));
    if (token.empty()) throw ConfigError(key, path + " is empty");
    return token;
}

void resolve_run_as(Settings& s, const std::string& user)
{
    auto pw = lookup_name<passwd>(user, ::getpwnam_r);
    if (!pw) throw ConfigError("run_as", "no such user: " + user);
    if (::geteuid() != 0 && pw->pw_uid != ::geteuid()) {
        throw ConfigError("run_as",
                          "run_as needs ringd to run as root (it runs as uid " + std::to_string(::geteuid()) + ")");
    }
    s.run_as = user;
    s.run_as_uid = pw->pw_uid;
    s.run_as_gid = pw->pw_gid;
}

Protocol protocol_key(const YAML::Node& node)
{
    const std::string p = scalar(node, "protocol");
    if (p == "json-header") return Protocol::json_header;
    if (p == "size-prefixed") return Protocol::size_prefixed;
    if (p == "framed") return Protocol::framed;
    throw ConfigError("protocol", "expected json-header, size-prefixed or framed, got \"" + p + "\"");
}

void check_consistency(Settings& s, bool has_protocol)
{
    if (!has_protocol) {
        throw ConfigError("protocol", "remote-cmd needs protocol: json-header, size-prefixed or framed");
    }
    const bool star = std::ranges::any_of(s.allow, [](const AllowEntry& e) { return e.command == "*"; });
    if (s.shell && !star) {
        throw ConfigError("shell", "shell: true runs any command line through /bin/sh -c, so it requires "
                                   "allow: [\"*\"] to say so");
    }
    if (star && !s.shell) {
        throw ConfigError("allow", "\"*\" (anything) is only accepted with shell: true; list the commands instead");
    }
    if (s.token && s.protocol != Protocol::framed) {
        throw ConfigError("token_file", "a token needs protocol: framed (other protocols cannot carry one)");
    }
    if (s.shell) s.warnings.push_back("shell: true: this listener runs ARBITRARY shell commands for its clients");
    if (s.allow.empty()) s.warnings.push_back("the allow list is empty: every command will be refused");
    for (const AllowEntry& entry : s.allow) {
        const std::string& name = entry.command;
        if (name != "*" && name.front() != '/' && !find_in_search_path(name)) {
            s.warnings.push_back("allowed command \"" + name + "\" is not in /usr/local/bin:/usr/bin:/bin (yet)");
        }
    }

    if (::geteuid() == 0 && s.run_as_uid < 0) {
        s.warnings.push_back("commands run as root: consider run_as: to drop privileges");
    }
}

} // namespace

Settings parse_settings(std::string_view config_yaml)
{
    Settings s;
    bool has_protocol = false;
    bool has_assembly = false;
    for (const auto& [key, v] :
         plugin_common::read_config_mapping(config_yaml, "remote-cmd's config must be a mapping")) {
        if (key == "protocol") {
            s.protocol = protocol_key(v);
            has_protocol = true;
        } else if (key == "allow") {
            s.allow = allow_list(v, key);
        } else if (key == "shell") {
            s.shell = bool_key(v, key);
        } else if (key == "timeout") {
            s.timeout = duration_key(v, key);
        } else if (key == "queue_timeout") {
            s.queue_timeout = duration_key(v, key);
        } else if (key == "max_output") {
            s.max_output = size_key(v, key, 0, kMaxOutputLimit);
        } else if (key == "max_request") {
            s.max_request = static_cast<uint32_t>(size_key(v, key, 1, kMaxRequestLimit));
        } else if (key == "max_concurrent") {
            s.max_concurrent = count_key(v, key, 1, 4096);
        } else if (key == "max_queued") {
            s.max_queued = count_key(v, key, 0, 65536);
        } else if (key == "token_file") {
            s.token = read_token_file(scalar(v, key));
        } else if (key == "allow_uids") {
            s.allow_uids = id_list(v, key, true);
        } else if (key == "allow_gids") {
            s.allow_gids = id_list(v, key, false);
        } else if (key == "request_assembly") {
            s.request_assembly = duration_key(v, key);
            if (s.request_assembly.count() > 1000) throw ConfigError(key, "must be at most 1s");
            has_assembly = true;
        } else if (key == "run_as") {
            resolve_run_as(s, scalar(v, key));
        } else {
            throw ConfigError(key, "unknown key \"" + key +
                                       "\" (remote-cmd knows protocol, allow, shell, timeout, "
                                       "max_output, max_concurrent, max_queued, queue_timeout, max_request, "
                                       "token_file, allow_uids, allow_gids, run_as, request_assembly)");
        }
    }
    check_consistency(s, has_protocol);
    if (s.protocol == Protocol::framed && has_assembly) {
        throw ConfigError("request_assembly", "request_assembly applies to json-header and size-prefixed only "
                                              "(framed requests carry their length)");
    }
    return s;
}

} // namespace ringd::remote_cmd
