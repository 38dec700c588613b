// Internal to ringd_config: strict reading of yaml-cpp nodes that records a Diagnostic for every problem instead
// of throwing, so one pass over a file reports all of its errors. Nothing here is part of the public API.
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace ringd::config::detail {

// Where problems in one file go: errors to one list, warnings to another. `listener` is the listener being read
// (empty outside one); it is stamped on every Diagnostic reported while it is set.
class Reporter {
public:
    Reporter(std::string file, std::vector<Diagnostic>& errors, std::vector<Diagnostic>& warnings)
        : file_(std::move(file)), errors_(errors), warnings_(warnings)
    {
    }

    [[nodiscard]] const std::string& file() const { return file_; }
    [[nodiscard]] Location at(const YAML::Mark& mark) const;
    void error(const YAML::Mark& mark, std::string message) { error(at(mark), std::move(message)); }
    void error(const Location& where, std::string message);
    // Valid, but almost certainly not what was meant; never makes the config fail.
    void warn(const YAML::Mark& mark, std::string message) { warn(at(mark), std::move(message)); }
    void warn(const Location& where, std::string message);
    [[nodiscard]] const std::string& listener() const { return listener_; }
    void set_listener(std::string name) { listener_ = std::move(name); }

private:
    std::string file_;
    std::string listener_;
    std::vector<Diagnostic>& errors_;
    std::vector<Diagnostic>& warnings_;
};

// One `key: value` pair of a mapping.
struct Field {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;

    // Where to report a bad value: the value itself, except that yaml-cpp places an empty (null) value at the
    // start of the *next* token, so those are reported at their key instead.
    [[nodiscard]] YAML::Mark value_mark() const;
};

// The known keys of one mapping, in document order.
class Fields {
public:
    void add(Field field) { fields_.push_back(std::move(field)); }
    [[nodiscard]] const Field* find(std::string_view key) const;

private:
    std::vector<Field> fields_;
};

// "a mapping", "a sequence", "null" or the scalar in quotes: the "got ..." part of a message.
[[nodiscard]] std::string describe(const YAML::Node& node);

// Reads `node` as a mapping whose keys must be in `allowed`; reports a non-mapping node (at `where`), non-string,
// duplicate and unknown keys. `what` names the mapping in messages ("listener", "limits"). Returns nullopt
// only when `node` is not a mapping; bad keys are reported and skipped.
[[nodiscard]] std::optional<Fields> read_mapping(Reporter& reporter, const YAML::Node& node, const YAML::Mark& where,
                                                 std::string_view what, std::span<const std::string_view> allowed);

// A scalar's text; `expected` completes "expected ..." when the value is a mapping, sequence or null.
[[nodiscard]] std::optional<std::string> read_scalar(Reporter& reporter, const Field& field, std::string_view expected);

// Digits only: no sign, no spaces, no 0x; nullopt also on overflow.
[[nodiscard]] std::optional<uint64_t> parse_decimal(std::string_view text);

// A decimal integer in [min, max], written without sign or leading '+' (quoted or not).
[[nodiscard]] std::optional<uint64_t> read_integer(Reporter& reporter, const Field& field, uint64_t min, uint64_t max);

// A scalar run through `parse` (parse_duration, parse_size, parse_endpoint, ...); a ParseError becomes a
// Diagnostic carrying its message.
template <typename Parse>
[[nodiscard]] auto read_parsed(Reporter& reporter, const Field& field, std::string_view expected, Parse parse)
    -> std::optional<decltype(parse(std::string_view{}))>
{
    const std::optional<std::string> text = read_scalar(reporter, field, expected);
    if (!text) return std::nullopt;
    try {
        return parse(std::string_view(*text));
    } catch (const ParseError& e) {
        reporter.error(field.value_mark(), e.what());
        return std::nullopt;
    }
}

// Parses a whole file's text. Reports a syntax error (with yaml-cpp's 0-based mark made 1-based) or a second
// `---` document and returns nullopt; an empty file yields a null node.
[[nodiscard]] std::optional<YAML::Node> parse_document(Reporter& reporter, const std::string& text);

} // namespace ringd::config::detail
