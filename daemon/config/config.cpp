// Loading ringd.yaml: the top-level settings, then the listeners of the main file and of every `include:`d file,
// then the checks across all of them. Every problem is collected; the caller gets a Config or one ConfigErrors.
#include "config/config.hpp"

#include "config/listener.hpp"
#include "config/reader.hpp"
#include "config/units.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <glob.h>
#include <map>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

namespace ringd::config {
namespace {

using detail::Field;
using detail::Fields;
using detail::Reporter;

constexpr std::array<std::string_view, 10> top_level_keys{"workers",     "plugin_dir", "log",       "shutdown_timeout",
                                                          "limits",      "include",    "listeners", "admin",
                                                          "drain_grace", "access_log"};
constexpr std::array<std::string_view, 1> include_file_keys{"listeners"};
constexpr std::array<std::string_view, 1> log_keys{"level"};
constexpr std::array<std::string_view, 5> log_levels{"trace", "debug", "info", "warn", "error"};
constexpr uint64_t max_workers = 256;

// Used when the file has no `plugin_dir:`. The build defines RINGD_DEFAULT_PLUGIN_DIR as the directory plugins
// are installed into (daemon/config/CMakeLists.txt); the fallback is the conventional location.
#ifdef RINGD_DEFAULT_PLUGIN_DIR
constexpr std::string_view default_plugin_dir = RINGD_DEFAULT_PLUGIN_DIR;
#else
constexpr std::string_view default_plugin_dir = "/usr/lib/ringd/plugins";
#endif

std::optional<std::string> read_text_file(const std::filesystem::path& path, std::string& error)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    if (in) text << in.rdbuf();
    if (!in || in.bad()) {
        error = std::strerror(errno != 0 ? errno : EIO);
        return std::nullopt;
    }
    return text.str();
}

// Glob metacharacters in the config's own directory must match literally.
std::string escape_glob(const std::string& text)
{
    std::string out;
    for (char c : text) {
        if (c == '*' || c == '?' || c == '[' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// An `include:` file, and the pattern that matched it (where problems reading it are reported).
struct Include {
    std::filesystem::path path;
    YAML::Mark pattern_mark;
};

class Loader {
public:
    Loader(std::filesystem::path base_dir, const LoadOptions& options)
        : base_dir_(std::filesystem::absolute(base_dir).lexically_normal()), options_(options)
    {
    }
    Config load(const std::string& text, const std::string& file_name, const std::filesystem::path& main_path);

private:
    void read_settings(Reporter& reporter, const Fields& fields);
    void read_workers(Reporter& reporter, const Field& field);
    void read_plugin_dir(Reporter& reporter, const Field* field);
    void read_log(Reporter& reporter, const Field& field);
    void read_admin(Reporter& reporter, const Field& field);
    std::vector<Include> expand_includes(Reporter& reporter, const Field& field,
                                         const std::filesystem::path& main_path) const;
    void expand_pattern(Reporter& reporter, const Field& item, const std::filesystem::path& main_path,
                        std::map<std::filesystem::path, YAML::Mark>& matches) const;
    void read_include(Reporter& main_reporter, const Include& include, const detail::ListenerContext& context);
    void sort_by_position(std::vector<Diagnostic>& diagnostics) const;
    [[noreturn]] void throw_errors();

    std::filesystem::path base_dir_;
    const LoadOptions& options_;
    Config config_;
    std::vector<detail::ListenerDraft> drafts_;
    std::vector<Diagnostic> diagnostics_;
    std::vector<Diagnostic> warnings_;
    detail::LimitsWhere limits_where_;                 // of the top-level `limits:`
    std::optional<detail::ListenerDraft> admin_draft_; // `admin:` as the checks across listeners see it
    std::vector<std::string> file_names_;              // as they appear in diagnostics, in reading order
    size_t listener_entries_ = 0;
};

Config Loader::load(const std::string& text, const std::string& file_name, const std::filesystem::path& main_path)
{
    config_.files.push_back(main_path);
    file_names_.push_back(file_name);
    Reporter reporter(file_name, diagnostics_, warnings_);
    const std::optional<YAML::Node> root = detail::parse_document(reporter, text);
    if (!root) throw_errors();
    // An empty file is read as an empty mapping, so it fails with "no listeners configured".
    const YAML::Node top = root->IsNull() ? YAML::Node(YAML::NodeType::Map) : *root;
    const std::optional<Fields> fields =
        detail::read_mapping(reporter, top, top.Mark(), "the config file", top_level_keys);
    if (!fields) throw_errors();
    read_settings(reporter, *fields);
    const detail::ListenerContext context{.defaults = config_.limits,
                                          .defaults_where = limits_where_,
                                          .plugin_dir = config_.plugin_dir,
                                          .access_log = config_.access_log,
                                          .check_plugin_files = options_.check_plugin_files};
    const Field* listeners = fields->find("listeners");
    if (listeners != nullptr) listener_entries_ += detail::read_listeners(reporter, *listeners, context, drafts_);
    if (const Field* include = fields->find("include"); include != nullptr) {
        for (const Include& file : expand_includes(reporter, *include, main_path))
            read_include(reporter, file, context);
    }
    detail::check_reserved_names(drafts_, diagnostics_);
    if (const Field* admin = fields->find("admin"); admin != nullptr) read_admin(reporter, *admin);
    detail::check_unique(drafts_, diagnostics_);
    for (const detail::ListenerDraft& draft : drafts_) {
        detail::check_access_lists(draft, warnings_);
        detail::check_plugin_limits(draft, warnings_);
        detail::check_source_limits(draft, warnings_);
    }
    if (admin_draft_) {
        // After the listeners: an address conflict is reported at the admin listener, naming the listener.
        std::vector<detail::ListenerDraft> with_admin = drafts_;
        with_admin.push_back(*admin_draft_);
        std::vector<Diagnostic> conflicts;
        detail::check_unique(with_admin, conflicts);
        for (Diagnostic& d : conflicts) {
            if (d.listener == admin_draft_->config.name) diagnostics_.push_back(std::move(d));
        }
        detail::check_access_lists(*admin_draft_, warnings_);
    }
    if (listener_entries_ == 0)
        reporter.error(listeners != nullptr ? listeners->key_node.Mark() : YAML::Mark(), "no listeners configured");
    if (!diagnostics_.empty()) throw_errors();
    for (detail::ListenerDraft& draft : drafts_)
        config_.listeners.push_back(std::move(draft.config));
    sort_by_position(warnings_);
    config_.warnings = std::move(warnings_);
    return std::move(config_);
}

// Everything but `listeners:` and `include:`, which need these settings to be read first.
void Loader::read_settings(Reporter& reporter, const Fields& fields)
{
    if (const Field* f = fields.find("workers"); f != nullptr) read_workers(reporter, *f);
    read_plugin_dir(reporter, fields.find("plugin_dir"));
    if (const Field* f = fields.find("log"); f != nullptr) read_log(reporter, *f);
    if (const Field* f = fields.find("shutdown_timeout"); f != nullptr) {
        if (auto value = detail::read_parsed(reporter, *f, "a duration like 5s", parse_duration)) {
            config_.shutdown_timeout = *value;
            // The engine gives every closing connection shutdown_timeout to flush before resetting it, so 0
            // resets each one at once: a reply still queued when a connection closes is lost, on every close.
            if (value->count() == 0)
                reporter.warn(f->value_mark(), "shutdown_timeout 0 resets every closing connection at once: output "
                                               "still queued when a connection closes (a last reply, a goodbye) is "
                                               "lost, on every close and at stop; give it time, e.g. 5s");
        }
    }
    if (const Field* f = fields.find("limits"); f != nullptr)
        detail::read_limits(reporter, *f, "limits", config_.limits, limits_where_);
    if (const Field* f = fields.find("drain_grace"); f != nullptr) {
        if (auto value = detail::read_parsed(reporter, *f, "a duration like 5s", parse_duration))
            config_.drain_grace = *value;
    }
    if (const Field* f = fields.find("access_log"); f != nullptr) {
        if (auto on = detail::read_on_off(reporter, *f)) config_.access_log = *on;
    }
}

void Loader::read_admin(Reporter& reporter, const Field& field)
{
    detail::ListenerDraft draft;
    config_.admin = detail::read_admin(reporter, field, draft);
    if (config_.admin) admin_draft_ = std::move(draft);
}

void Loader::read_workers(Reporter& reporter, const Field& field)
{
    const std::string text = field.value.IsScalar() ? field.value.Scalar() : std::string();
    if (text == "auto") {
        // hardware_concurrency() may return 0 ("unknown"); clamp into the range a number would be held to.
        const uint64_t cpus = std::thread::hardware_concurrency();
        config_.workers = static_cast<unsigned>(std::clamp<uint64_t>(cpus, 1, max_workers));
        return;
    }
    const std::optional<uint64_t> n = field.value.IsScalar() ? detail::parse_decimal(text) : std::nullopt;
    if (n && *n >= 1 && *n <= max_workers) {
        config_.workers = static_cast<unsigned>(*n);
        return;
    }
    reporter.error(field.value_mark(),
                   "expected \"auto\" or a number from 1 to 256 for 'workers', got " + detail::describe(field.value));
}

// Precedence: --plugin-dir, then `plugin_dir:` (relative to this file's directory), then the built-in default.
// The file's value is validated even when overridden: the file has to be valid on its own.
void Loader::read_plugin_dir(Reporter& reporter, const Field* field)
{
    std::filesystem::path dir{default_plugin_dir};
    if (field != nullptr) {
        const std::optional<std::string> text = detail::read_scalar(reporter, *field, "a directory path");
        if (text && text->empty())
            reporter.error(field->value_mark(), "expected a directory path for 'plugin_dir', got \"\"");
        else if (text)
            dir = base_dir_ / *text; // an absolute *text replaces base_dir_
    }
    if (options_.plugin_dir_override) dir = *options_.plugin_dir_override;
    config_.plugin_dir = std::filesystem::absolute(dir).lexically_normal();
}

void Loader::read_log(Reporter& reporter, const Field& field)
{
    const std::optional<Fields> fields =
        detail::read_mapping(reporter, field.value, field.value_mark(), "log", log_keys);
    const Field* level = fields ? fields->find("level") : nullptr;
    if (level == nullptr) return;
    const std::optional<std::string> text = detail::read_scalar(reporter, *level, "a log level");
    if (!text) return;
    if (std::find(log_levels.begin(), log_levels.end(), *text) != log_levels.end()) {
        config_.log_level = *text;
        return;
    }
    reporter.error(level->value_mark(), "expected one of trace, debug, info, warn, error for 'level', got " +
                                            detail::describe(level->value));
}

// Every file matched by the `include:` glob(s), each once, in sorted path order. A glob matching nothing is
// fine (an empty conf.d); directories are skipped, and so is the main file should a glob match it.
std::vector<Include> Loader::expand_includes(Reporter& reporter, const Field& field,
                                             const std::filesystem::path& main_path) const
{
    std::map<std::filesystem::path, YAML::Mark> matches;
    if (field.value.IsScalar()) {
        expand_pattern(reporter, field, main_path, matches);
    } else if (field.value.IsSequence()) {
        for (const YAML::Node& pattern : field.value)
            expand_pattern(reporter, Field{field.key, field.key_node, pattern}, main_path, matches);
    } else {
        reporter.error(field.value_mark(), "expected a glob like conf.d/*.yaml or a list of globs for 'include', got " +
                                               detail::describe(field.value));
    }
    std::vector<Include> includes;
    for (const auto& [path, mark] : matches)
        includes.push_back(Include{path, mark});
    return includes;
}

void Loader::expand_pattern(Reporter& reporter, const Field& item, const std::filesystem::path& main_path,
                            std::map<std::filesystem::path, YAML::Mark>& matches) const
{
    const std::optional<std::string> pattern = detail::read_scalar(reporter, item, "a glob like conf.d/*.yaml");
    if (!pattern) return;
    if (pattern->empty()) {
        reporter.error(item.value_mark(), "expected a glob like conf.d/*.yaml for 'include', got \"\"");
        return;
    }
    std::string base = base_dir_.string();
    if (!base.ends_with('/')) base += '/';
    const std::string full = pattern->starts_with('/') ? *pattern : escape_glob(base) + *pattern;
    glob_t found{};
    const int rc = glob(full.c_str(), 0, nullptr, &found);
    if (rc != 0 && rc != GLOB_NOMATCH)
        reporter.error(item.value_mark(), "cannot expand include pattern \"" + *pattern + "\"");
    for (size_t i = 0; rc == 0 && i < found.gl_pathc; ++i) {
        const std::filesystem::path path = found.gl_pathv[i];
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec) || std::filesystem::equivalent(path, main_path, ec)) continue;
        matches.emplace(path, item.value_mark());
    }
    globfree(&found);
}

void Loader::read_include(Reporter& main_reporter, const Include& include, const detail::ListenerContext& context)
{
    std::string error;
    const std::optional<std::string> text = read_text_file(include.path, error);
    if (!text) {
        main_reporter.error(include.pattern_mark, "cannot read included file " + include.path.string() + ": " + error);
        return;
    }
    config_.files.push_back(include.path);
    file_names_.push_back(include.path.string());
    Reporter reporter(include.path.string(), diagnostics_, warnings_);
    const std::optional<YAML::Node> root = detail::parse_document(reporter, *text);
    if (!root || root->IsNull()) return; // a syntax error (reported), or an empty drop-in (fine)
    const std::optional<Fields> fields =
        detail::read_mapping(reporter, *root, root->Mark(), "an included file", include_file_keys);
    const Field* listeners = fields ? fields->find("listeners") : nullptr;
    if (listeners != nullptr) listener_entries_ += detail::read_listeners(reporter, *listeners, context, drafts_);
}

// Diagnostics in reading order of their files, and by position within each file (the settings are read in a
// fixed order, not in the order they were written).
void Loader::sort_by_position(std::vector<Diagnostic>& diagnostics) const
{
    auto rank = [&](const Diagnostic& d) {
        const auto it = std::find(file_names_.begin(), file_names_.end(), d.where.file);
        return std::tuple(it - file_names_.begin(), d.where.line, d.where.column);
    };
    std::stable_sort(diagnostics.begin(), diagnostics.end(),
                     [&](const Diagnostic& a, const Diagnostic& b) { return rank(a) < rank(b); });
}

[[noreturn]] void Loader::throw_errors()
{
    sort_by_position(diagnostics_);
    sort_by_position(warnings_);
    throw ConfigErrors(std::move(diagnostics_), std::move(warnings_));
}

std::string join_diagnostics(const std::vector<Diagnostic>& diagnostics)
{
    std::string text;
    for (const Diagnostic& d : diagnostics) {
        if (!text.empty()) text += '\n';
        text += d.str();
    }
    return text.empty() ? "invalid configuration" : text;
}

} // namespace

std::string Location::str() const
{
    // Line 0 marks a problem with the file as a whole (it cannot be read), which has no position.
    if (line <= 0) return file;
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Diagnostic::str() const
{
    std::string text = where.str() + ": ";
    if (severity == Severity::warning) text += "warning: ";
    if (!listener.empty()) text += "listener '" + listener + "': ";
    return text + message;
}

ConfigErrors::ConfigErrors(std::vector<Diagnostic> diagnostics, std::vector<Diagnostic> warnings)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)),
      warnings_(std::move(warnings))
{
}

const Location& ListenerConfig::locate_config_key(const std::string& dotted_key) const
{
    // The nearest recorded ancestor: "a.b.c", then "a.b", then "a", then "" (always recorded by the loader).
    std::string key = dotted_key;
    while (true) {
        if (const auto it = config_key_locations.find(key); it != config_key_locations.end()) return it->second;
        if (key.empty()) return where;
        const size_t dot = key.rfind('.');
        key = dot == std::string::npos ? std::string() : key.substr(0, dot);
    }
}

Config parse_config(const std::string& yaml_text, const std::string& file_name, const std::filesystem::path& base_dir,
                    const LoadOptions& options)
{
    Loader loader(base_dir, options);
    return loader.load(yaml_text, file_name, base_dir / std::filesystem::path(file_name).filename());
}

Config load_config(const std::filesystem::path& file, const LoadOptions& options)
{
    std::string error;
    const std::optional<std::string> text = read_text_file(file, error);
    if (!text) throw ConfigErrors({Diagnostic{Location{file.string(), 0, 0}, {}, "cannot read config file: " + error}});
    Loader loader(std::filesystem::absolute(file).parent_path(), options);
    return loader.load(*text, file.string(), file);
}

} // namespace ringd::config
