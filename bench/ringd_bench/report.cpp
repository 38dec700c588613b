// Formatting a Result as the key=value line or a JSON object (see report.hpp).
#include "report.hpp"

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace ringd_bench {
namespace {

struct Common {
    double requests_per_s;
    double p50, p99, p999;
    std::optional<double> cpu_per_req;
};

Common common_of(const Result& r)
{
    Common c{};
    c.requests_per_s = r.requests_per_s();
    c.p50 = r.latency.quantile_ns(0.50) / 1000.0;
    c.p99 = r.latency.quantile_ns(0.99) / 1000.0;
    c.p999 = r.latency.quantile_ns(0.999) / 1000.0;
    if (r.server_cpu_us && r.requests > 0) c.cpu_per_req = *r.server_cpu_us / static_cast<double>(r.requests);
    return c;
}

std::string fixed(double v, int decimals)
{
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string text_of(const ReportValue& v)
{
    if (auto* i = std::get_if<int64_t>(&v)) return std::to_string(*i);
    if (auto* d = std::get_if<double>(&v)) return fixed(*d, std::fabs(*d) >= 100 ? 1 : 3);
    return std::get<std::string>(v);
}

} // namespace

std::string format_text(const Result& r)
{
    Common c = common_of(r);
    std::string line = std::string("mode=") + mode_name(r.mode) + " requests_per_s=" + fixed(c.requests_per_s, 0) +
                       " errors=" + std::to_string(r.errors) + " p50_us=" + fixed(c.p50, 1) +
                       " p99_us=" + fixed(c.p99, 1) + " p999_us=" + fixed(c.p999, 1);
    if (c.cpu_per_req) line += " server_cpu_us_per_req=" + fixed(*c.cpu_per_req, 2);
    line += " requests=" + std::to_string(r.requests) + " elapsed_s=" + fixed(r.elapsed_s, 3);
    for (const auto& [key, value] : r.extras)
        line += " " + key + "=" + text_of(value);
    return line;
}

std::string format_json(const Result& r)
{
    Common c = common_of(r);
    nlohmann::ordered_json j;
    j["mode"] = mode_name(r.mode);
    j["requests_per_s"] = std::round(c.requests_per_s);
    j["errors"] = r.errors;
    j["p50_us"] = std::round(c.p50 * 10) / 10;
    j["p99_us"] = std::round(c.p99 * 10) / 10;
    j["p999_us"] = std::round(c.p999 * 10) / 10;
    if (c.cpu_per_req) j["server_cpu_us_per_req"] = std::round(*c.cpu_per_req * 100) / 100;
    j["requests"] = r.requests;
    j["elapsed_s"] = std::round(r.elapsed_s * 1000) / 1000;
    for (const auto& extra : r.extras) // no structured binding: clang 14 cannot capture one in a lambda
        std::visit([&](const auto& x) { j[extra.first] = x; }, extra.second);
    return j.dump();
}

} // namespace ringd_bench
