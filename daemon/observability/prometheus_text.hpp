// PrometheusText: writes the Prometheus text exposition format, version 0.0.4.
//
// The format's rules this class keeps so its callers cannot break them: each metric family has one `# HELP` and
// one `# TYPE` line, before its samples, and appears once (a second family() of the same name throws); every
// sample belongs to the family opened last (its name is the family's, or for a histogram the family's with
// _bucket, _sum or _count); HELP text escapes `\` and line breaks, label values escape `\`, `"` and line breaks;
// names are checked against the format's alphabet. Integer counters print exactly; other values in the shortest
// form that reads back to the same double ("0.25", "1.5e+09", "+Inf").
#pragma once

#include <cstdint>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace ringd::observability {

enum class MetricType { counter, gauge, histogram };

struct Label {
    std::string_view name;
    std::string_view value;
};
using Labels = std::span<const Label>;

class PrometheusText {
public:
    // Opens a family. Throws std::logic_error for a name written before or outside [a-zA-Z_:][a-zA-Z0-9_:]*.
    void family(std::string_view name, MetricType type, std::string_view help);
    // One sample of the open family: `suffix` is "" or, for a histogram, "_bucket", "_sum" or "_count".
    // Throws std::logic_error without an open family, for a suffix the family's type has no use for, or a
    // label name outside [a-zA-Z_][a-zA-Z0-9_]*.
    void sample(Labels labels, uint64_t value, std::string_view suffix = {});
    void sample(Labels labels, double value, std::string_view suffix = {});
    // The samples of one histogram series: `per_bucket` holds one count per upper bound and a last one for what
    // lies above them all (not cumulative; this makes them so), `sum` is the sum of the observations.
    void histogram(Labels labels, std::span<const double> upper_bounds, std::span<const uint64_t> per_bucket,
                   double sum);

    [[nodiscard]] bool has_family(std::string_view name) const { return families_.count(std::string(name)) > 0; }
    [[nodiscard]] const std::string& text() const { return out_; }
    [[nodiscard]] std::string take() { return std::move(out_); }

private:
    void begin_sample(Labels labels, std::string_view suffix);
    void append_labels(Labels labels);

    std::string out_;
    std::set<std::string, std::less<>> families_;
    std::string current_;
    MetricType current_type_ = MetricType::gauge;
};

// Helpers shared with tests.
[[nodiscard]] bool valid_metric_name(std::string_view name);
[[nodiscard]] bool valid_label_name(std::string_view name);
[[nodiscard]] std::string escape_label_value(std::string_view value);
[[nodiscard]] std::string escape_help(std::string_view help);
[[nodiscard]] std::string format_value(double value);

} // namespace ringd::observability
