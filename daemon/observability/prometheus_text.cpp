// The Prometheus text format 0.0.4: families, samples, escaping, number formatting.
#include "observability/prometheus_text.hpp"

#include <charconv>
#include <cmath>
#include <vector>

namespace ringd::observability {

namespace {

bool name_start(char c, bool colon_allowed)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_allowed && c == ':');
}

bool valid_name(std::string_view name, bool colon_allowed)
{
    if (name.empty() || !name_start(name[0], colon_allowed)) return false;
    for (char c : name) {
        if (!name_start(c, colon_allowed) && !(c >= '0' && c <= '9')) return false;
    }
    return true;
}

const char* type_name(MetricType type)
{
    switch (type) {
    case MetricType::counter:
        return "counter";
    case MetricType::gauge:
        return "gauge";
    case MetricType::histogram:
        return "histogram";
    }
    return "untyped";
}

} // namespace

bool valid_metric_name(std::string_view name)
{
    return valid_name(name, true);
}

bool valid_label_name(std::string_view name)
{
    // Names starting with "__" are reserved for Prometheus itself.
    return valid_name(name, false) && !name.starts_with("__");
}

std::string escape_label_value(std::string_view value)
{
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '"') {
            out += "\\\"";
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

std::string escape_help(std::string_view help)
{
    std::string out;
    out.reserve(help.size());
    for (char c : help) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += ' '; // a bare CR would end the line for some parsers
        } else {
            out += c;
        }
    }
    return out;
}

std::string format_value(double value)
{
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    char buf[64];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    return std::string(buf, result.ptr);
}

void PrometheusText::family(std::string_view name, MetricType type, std::string_view help)
{
    if (!valid_metric_name(name)) throw std::logic_error("invalid metric name: " + std::string(name));
    if (!families_.emplace(name).second) throw std::logic_error("metric family written twice: " + std::string(name));
    current_ = name;
    current_type_ = type;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    out_ += escape_help(help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += ' ';
    out_ += type_name(type);
    out_ += '\n';
}

void PrometheusText::append_labels(Labels labels)
{
    if (labels.empty()) return;
    out_ += '{';
    bool first = true;
    for (const Label& label : labels) {
        if (!valid_label_name(label.name)) throw std::logic_error("invalid label name: " + std::string(label.name));
        if (!first) out_ += ',';
        first = false;
        out_ += label.name;
        out_ += "=\"";
        out_ += escape_label_value(label.value);
        out_ += '"';
    }
    out_ += '}';
}

void PrometheusText::begin_sample(Labels labels, std::string_view suffix)
{
    if (current_.empty()) throw std::logic_error("a sample outside any metric family");
    const bool histogram_part = suffix == "_bucket" || suffix == "_sum" || suffix == "_count";
    if (current_type_ == MetricType::histogram ? !histogram_part : !suffix.empty())
        throw std::logic_error("sample " + current_ + std::string(suffix) + " does not fit its family's type");
    out_ += current_;
    out_ += suffix;
    append_labels(labels);
    out_ += ' ';
}

void PrometheusText::sample(Labels labels, uint64_t value, std::string_view suffix)
{
    begin_sample(labels, suffix);
    char buf[24];
    const auto result = std::to_chars(buf, buf + sizeof buf, value);
    out_.append(buf, result.ptr);
    out_ += '\n';
}

void PrometheusText::sample(Labels labels, double value, std::string_view suffix)
{
    begin_sample(labels, suffix);
    out_ += format_value(value);
    out_ += '\n';
}

void PrometheusText::histogram(Labels labels, std::span<const double> upper_bounds,
                               std::span<const uint64_t> per_bucket, double sum)
{
    if (per_bucket.size() != upper_bounds.size() + 1) throw std::logic_error("histogram: one count per bucket");
    std::vector<Label> with_le(labels.begin(), labels.end());
    with_le.push_back({"le", ""});
    uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= upper_bounds.size(); ++i) {
        cumulative += per_bucket[i];
        const std::string le = i < upper_bounds.size() ? format_value(upper_bounds[i]) : "+Inf";
        with_le.back().value = le;
        sample(with_le, cumulative, "_bucket");
    }
    sample(labels, sum, "_sum");
    sample(labels, cumulative, "_count");
}

} // namespace ringd::observability
