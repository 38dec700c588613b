// The per-source keys of `limits:` (max_connections_per_source, connection_rate_per_source, source_prefix_v4,
// source_prefix_v6, max_tracked_sources) and the warnings about how they combine with a listener. The engine
// enforces them with daemon/limits/SourceTable; docs/configuration.md, "Limits", says what happens at each.
#include "config/listener.hpp"
#include "config/units.hpp"

#include <array>
#include <string_view>

namespace ringd::config::detail {
namespace {

constexpr std::array<std::string_view, 2> connection_rate_keys{"rate", "burst"};

constexpr uint64_t max_per_source = 1'000'000;
constexpr uint64_t max_burst = 1'000'000;
constexpr uint64_t max_tracked_sources = 10'000'000;

bool is_off(const Field& field)
{
    return field.value.IsScalar() && field.value.Scalar() == "off";
}

void read_per_source(Reporter& reporter, const Field& field, Limits& limits, LimitsWhere& where)
{
    where.max_connections_per_source = reporter.at(field.value_mark());
    if (is_off(field)) {
        limits.max_connections_per_source.reset();
        return;
    }
    const std::optional<uint64_t> value = field.value.IsScalar() ? parse_decimal(field.value.Scalar()) : std::nullopt;
    if (value && *value >= 1 && *value <= max_per_source) {
        limits.max_connections_per_source = static_cast<uint32_t>(*value);
        return;
    }
    reporter.error(field.value_mark(),
                   "expected off or a number from 1 to 1000000 for '" + field.key + "', got " + describe(field.value));
}

// `{ rate: 50/s, burst: 100 }`, or `off`. The listener's mapping replaces an inherited one as a whole.
void read_rate(Reporter& reporter, const Field& field, Limits& limits, LimitsWhere& where)
{
    where.connection_rate_per_source = reporter.at(field.value_mark());
    if (is_off(field)) {
        limits.connection_rate_per_source.reset();
        return;
    }
    if (!field.value.IsMap()) {
        reporter.error(field.value_mark(), "expected a mapping like { rate: 50/s, burst: 100 }, or off, for '" +
                                               field.key + "', got " + describe(field.value));
        return;
    }
    const std::optional<Fields> fields =
        read_mapping(reporter, field.value, field.value_mark(), "connection_rate_per_source", connection_rate_keys);
    if (!fields) return;
    const Field* rate_field = fields->find("rate");
    if (rate_field == nullptr) {
        reporter.error(field.value_mark(),
                       "missing required key 'rate' (like rate: 50/s) in connection_rate_per_source");
        return;
    }
    const std::optional<Rate> rate = read_parsed(reporter, *rate_field, "a rate like 50/s", parse_rate);
    std::optional<uint64_t> burst;
    if (const Field* f = fields->find("burst"); f != nullptr) {
        burst = read_integer(reporter, *f, 1, max_burst);
        if (!burst) return;
    }
    if (!rate) return;
    limits.connection_rate_per_source = ConnectionRate{
        .count = rate->count, .per = rate->per, .burst = static_cast<uint32_t>(burst.value_or(rate->count))};
}

template <typename Value>
void read_bounded(Reporter& reporter, const Field* field, uint64_t min, uint64_t max, Value& out)
{
    if (field == nullptr) return;
    if (auto value = read_integer(reporter, *field, min, max)) out = static_cast<Value>(*value);
}

Diagnostic warning(const ListenerDraft& listener, const Location& where, std::string message)
{
    return Diagnostic{where, listener.config.name, std::move(message), Severity::warning};
}

} // namespace

void read_source_limits(Reporter& reporter, const Fields& fields, Limits& limits, LimitsWhere& where)
{
    if (const Field* f = fields.find("max_connections_per_source"); f != nullptr)
        read_per_source(reporter, *f, limits, where);
    if (const Field* f = fields.find("connection_rate_per_source"); f != nullptr)
        read_rate(reporter, *f, limits, where);
    read_bounded(reporter, fields.find("source_prefix_v4"), 0, 32, limits.source_prefix_v4);
    read_bounded(reporter, fields.find("source_prefix_v6"), 0, 128, limits.source_prefix_v6);
    if (const Field* f = fields.find("max_tracked_sources"); f != nullptr) {
        read_bounded(reporter, f, 1, max_tracked_sources, limits.max_tracked_sources);
        where.max_tracked_sources = reporter.at(f->value_mark());
    }
}

void check_source_limits(const ListenerDraft& listener, std::vector<Diagnostic>& warnings)
{
    const ListenerConfig& config = listener.config;
    const Limits& limits = config.limits;
    if (!listener.listen_where || !config.endpoint.is_stream() || !limits.limits_per_source()) return;
    const LimitsWhere& where = listener.limits_where;
    if (config.endpoint.is_unix() && config.proxy_protocol == ProxyProtocol::off) {
        // Said only where the listener sets a limit itself: an inherited top-level one is no mistake here.
        if (listener.own_per_source_limit)
            warnings.push_back(warning(listener, *listener.own_per_source_limit,
                                       "per-source limits have no effect on a unix listener (" + config.endpoint.text +
                                           ") without proxy_protocol: its peers have no address"));
        return;
    }
    const std::string max_connections = std::to_string(limits.max_connections);
    if (limits.max_connections_per_source && *limits.max_connections_per_source >= limits.max_connections &&
        where.max_connections_per_source) {
        warnings.push_back(warning(listener, *where.max_connections_per_source,
                                   "max_connections_per_source " + std::to_string(*limits.max_connections_per_source) +
                                       " is not below the listener's max_connections " + max_connections +
                                       ": it never refuses a connection"));
    }
    if (limits.max_tracked_sources < limits.max_connections) {
        const std::optional<Location>& at = where.max_tracked_sources          ? where.max_tracked_sources
                                            : where.max_connections_per_source ? where.max_connections_per_source
                                                                               : where.connection_rate_per_source;
        warnings.push_back(warning(listener, at.value_or(config.where),
                                   "max_tracked_sources " + std::to_string(limits.max_tracked_sources) +
                                       " is below max_connections " + max_connections +
                                       ": a source with an open connection is never forgotten, so that many clients "
                                       "from different addresses fill the table and every new source is refused "
                                       "(source_table_full); make max_tracked_sources at least max_connections"));
    }
}

} // namespace ringd::config::detail
