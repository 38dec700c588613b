// Strict YAML node reading for the config loader: type checks, key tables and positions for diagnostics.
#include "config/reader.hpp"

#include <algorithm>
#include <charconv>
#include <numeric>

namespace ringd::config::detail {
namespace {

std::string join(std::span<const std::string_view> words)
{
    std::string out;
    for (std::string_view word : words) {
        if (!out.empty()) out += ", ";
        out += word;
    }
    return out;
}

// Levenshtein distance, to suggest the key that was probably meant ("max_conections").
size_t edit_distance(std::string_view a, std::string_view b)
{
    std::vector<size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), size_t{0});
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t diagonal = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            diagonal = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, substitution});
        }
    }
    return row[b.size()];
}

std::string unknown_key_message(const std::string& key, std::string_view what,
                                std::span<const std::string_view> allowed)
{
    std::string message = "unknown key '" + key + "' in " + std::string(what);
    const auto closest = std::min_element(allowed.begin(), allowed.end(), [&](std::string_view a, std::string_view b) {
        return edit_distance(key, a) < edit_distance(key, b);
    });
    if (closest != allowed.end() && edit_distance(key, *closest) <= 2)
        message += "; did you mean '" + std::string(*closest) + "'?";
    return message + " (expected one of: " + join(allowed) + ")";
}

} // namespace

Location Reporter::at(const YAML::Mark& mark) const
{
    // yaml-cpp counts from 0 and uses -1 for "no position"; Location is 1-based, so clamp to the file's start.
    return Location{file_, std::max(mark.line, 0) + 1, std::max(mark.column, 0) + 1};
}

void Reporter::error(const Location& where, std::string message)
{
    errors_.push_back(Diagnostic{where, listener_, std::move(message)});
}

void Reporter::warn(const Location& where, std::string message)
{
    warnings_.push_back(Diagnostic{where, listener_, std::move(message), Severity::warning});
}

YAML::Mark Field::value_mark() const
{
    return value.IsNull() ? key_node.Mark() : value.Mark();
}

const Field* Fields::find(std::string_view key) const
{
    const auto it = std::find_if(fields_.begin(), fields_.end(), [&](const Field& f) { return f.key == key; });
    return it == fields_.end() ? nullptr : &*it;
}

std::string describe(const YAML::Node& node)
{
    switch (node.Type()) {
    case YAML::NodeType::Map:
        return "a mapping";
    case YAML::NodeType::Sequence:
        return "a sequence";
    case YAML::NodeType::Scalar:
        return '"' + node.Scalar() + '"';
    default:
        return "nothing (null)";
    }
}

std::optional<Fields> read_mapping(Reporter& reporter, const YAML::Node& node, const YAML::Mark& where,
                                   std::string_view what, std::span<const std::string_view> allowed)
{
    if (!node.IsMap()) {
        reporter.error(where, "expected " + std::string(what) + " to be a mapping, got " + describe(node));
        return std::nullopt;
    }
    Fields fields;
    std::vector<std::pair<std::string, YAML::Mark>> seen;
    for (const auto& pair : node) {
        const YAML::Node& key = pair.first;
        if (!key.IsScalar()) {
            reporter.error(key.Mark(), "expected a plain key in " + std::string(what) + ", got " + describe(key));
            continue;
        }
        const std::string name = key.Scalar();
        // yaml-cpp keeps both entries of a duplicated key; YAML forbids them, and silently taking one would hide
        // an editing mistake.
        const auto first = std::find_if(seen.begin(), seen.end(), [&](const auto& s) { return s.first == name; });
        if (first != seen.end()) {
            reporter.error(key.Mark(), "duplicate key '" + name + "' in " + std::string(what) + " (first at line " +
                                           std::to_string(first->second.line + 1) + ")");
            continue;
        }
        seen.emplace_back(name, key.Mark());
        if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
            reporter.error(key.Mark(), unknown_key_message(name, what, allowed));
            continue;
        }
        fields.add(Field{name, key, pair.second});
    }
    return fields;
}

std::optional<std::string> read_scalar(Reporter& reporter, const Field& field, std::string_view expected)
{
    if (field.value.IsScalar()) return field.value.Scalar();
    reporter.error(field.value_mark(),
                   "expected " + std::string(expected) + " for '" + field.key + "', got " + describe(field.value));
    return std::nullopt;
}

std::optional<uint64_t> parse_decimal(std::string_view text)
{
    if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
    uint64_t value = 0;
    const char* end = text.data() + text.size();
    auto [rest, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || rest != end) return std::nullopt;
    return value;
}

std::optional<uint64_t> read_integer(Reporter& reporter, const Field& field, uint64_t min, uint64_t max)
{
    const std::string expected = "a number from " + std::to_string(min) + " to " + std::to_string(max);
    const std::optional<std::string> text = read_scalar(reporter, field, expected);
    if (!text) return std::nullopt;
    const std::optional<uint64_t> value = parse_decimal(*text);
    if (value && *value >= min && *value <= max) return value;
    reporter.error(field.value_mark(),
                   "expected " + expected + " for '" + field.key + "', got " + describe(field.value));
    return std::nullopt;
}

std::optional<YAML::Node> parse_document(Reporter& reporter, const std::string& text)
{
    std::vector<YAML::Node> documents;
    try {
        documents = YAML::LoadAll(text);
    } catch (const YAML::Exception& e) { // ParserException, and anything else yaml-cpp reports with a mark
        reporter.error(e.mark, "YAML syntax error: " + e.msg);
        return std::nullopt;
    }
    if (documents.empty()) return YAML::Node(YAML::NodeType::Null);
    // Only the first document is read, so content after a `---` would be silently ignored; a trailing empty
    // document (a stray `---` at the end) holds nothing and is harmless.
    const auto extra =
        std::find_if(documents.begin() + 1, documents.end(), [](const YAML::Node& d) { return !d.IsNull(); });
    if (extra != documents.end()) {
        reporter.error(extra->Mark(), "a config file must hold a single YAML document (found another after ---)");
        return std::nullopt;
    }
    return documents.front();
}

} // namespace ringd::config::detail
