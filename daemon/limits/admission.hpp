// Admission: what the per-source limits answer about one new connection.
#pragma once

#include <string_view>

namespace ringd::limits {

enum class Admission {
    admitted,                 // counted: the caller must release() it when the connection closes
    refused_per_source_limit, // the source has max_connections_per_source open already
    refused_rate,             // the source's token bucket (connection_rate_per_source) is empty
    refused_table_full,       // a new source, and its shard of the table is full of sources in use
};

// The reason as metrics and logs name it, like the existing refusal reasons after the key that bit:
// "max_connections_per_source", "connection_rate_per_source", "source_table_full" ("admitted" for admitted).
[[nodiscard]] constexpr std::string_view describe(Admission admission)
{
    switch (admission) {
    case Admission::admitted:
        return "admitted";
    case Admission::refused_per_source_limit:
        return "max_connections_per_source";
    case Admission::refused_rate:
        return "connection_rate_per_source";
    case Admission::refused_table_full:
        return "source_table_full";
    }
    return "unknown";
}

} // namespace ringd::limits
