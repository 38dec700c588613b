// PrometheusText: the exposition format's rules hold whatever the caller writes (families once, HELP and TYPE
// before samples, escaping, histograms cumulative, numbers in a form Prometheus reads back exactly).
#include "observability/prometheus_text.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <vector>

using namespace ringd::observability;

TEST_CASE("a family has HELP and TYPE once, before its samples")
{
    PrometheusText out;
    out.family("ringd_things_total", MetricType::counter, "Things.");
    const Label a[] = {{"listener", "echo"}};
    const Label b[] = {{"listener", "time"}};
    out.sample(a, uint64_t(3));
    out.sample(b, uint64_t(18446744073709551615ull));
    out.family("ringd_level", MetricType::gauge, "A level.");
    out.sample({}, 2.5);
    CHECK(out.text() == "# HELP ringd_things_total Things.\n"
                        "# TYPE ringd_things_total counter\n"
                        "ringd_things_total{listener=\"echo\"} 3\n"
                        "ringd_things_total{listener=\"time\"} 18446744073709551615\n"
                        "# HELP ringd_level A level.\n"
                        "# TYPE ringd_level gauge\n"
                        "ringd_level 2.5\n");
    CHECK_THROWS_AS(out.family("ringd_things_total", MetricType::counter, "again"), std::logic_error);
    CHECK(out.has_family("ringd_level"));
    CHECK_FALSE(out.has_family("ringd_other"));
}

TEST_CASE("label values and help text are escaped")
{
    PrometheusText out;
    out.family("m", MetricType::gauge, "back\\slash and\nnew line");
    const Label l[] = {{"path", "a\\b \"quoted\"\nnext"}};
    out.sample(l, uint64_t(1));
    CHECK(out.text() == "# HELP m back\\\\slash and\\nnew line\n"
                        "# TYPE m gauge\n"
                        "m{path=\"a\\\\b \\\"quoted\\\"\\nnext\"} 1\n");
    CHECK(escape_label_value("plain") == "plain");
}

TEST_CASE("names outside the format's alphabet are refused, not written")
{
    PrometheusText out;
    CHECK_THROWS_AS(out.family("9lives", MetricType::gauge, ""), std::logic_error);
    CHECK_THROWS_AS(out.family("with-dash", MetricType::gauge, ""), std::logic_error);
    CHECK_THROWS_AS(out.family("", MetricType::gauge, ""), std::logic_error);
    CHECK_THROWS_AS(out.sample({}, uint64_t(1)), std::logic_error); // no family open
    out.family("ok:name_1", MetricType::gauge, "");
    const Label bad[] = {{"bad-label", "x"}};
    CHECK_THROWS_AS(out.sample(bad, uint64_t(1)), std::logic_error);
    const Label reserved[] = {{"__name__", "x"}};
    CHECK_THROWS_AS(out.sample(reserved, uint64_t(1)), std::logic_error);
    CHECK_THROWS_AS(out.sample({}, uint64_t(1), "_bucket"), std::logic_error); // not a histogram
    CHECK(valid_metric_name("a:b_c9"));
    CHECK_FALSE(valid_label_name("a:b"));
}

TEST_CASE("a histogram's buckets are cumulative and end with +Inf, then _sum and _count")
{
    PrometheusText out;
    out.family("d_seconds", MetricType::histogram, "Durations.");
    const std::vector<double> bounds{0.001, 0.5, 1, 10};
    const std::vector<uint64_t> per_bucket{2, 0, 3, 1, 4};
    const Label l[] = {{"listener", "x"}};
    out.histogram(l, bounds, per_bucket, 42.25);
    CHECK(out.text() == "# HELP d_seconds Durations.\n"
                        "# TYPE d_seconds histogram\n"
                        "d_seconds_bucket{listener=\"x\",le=\"0.001\"} 2\n"
                        "d_seconds_bucket{listener=\"x\",le=\"0.5\"} 2\n"
                        "d_seconds_bucket{listener=\"x\",le=\"1\"} 5\n"
                        "d_seconds_bucket{listener=\"x\",le=\"10\"} 6\n"
                        "d_seconds_bucket{listener=\"x\",le=\"+Inf\"} 10\n"
                        "d_seconds_sum{listener=\"x\"} 42.25\n"
                        "d_seconds_count{listener=\"x\"} 10\n");
    CHECK_THROWS_AS(out.histogram(l, bounds, std::vector<uint64_t>{1, 2}, 0), std::logic_error);
    CHECK_THROWS_AS(out.sample(l, uint64_t(1)), std::logic_error); // a histogram sample needs its suffix
}

TEST_CASE("values print in the shortest form that reads back to the same double")
{
    CHECK(format_value(0.1) == "0.1");
    CHECK(format_value(1) == "1");
    CHECK(format_value(1.5e9) == "1.5e+09");
    CHECK(format_value(1733616000) == "1733616000");
    CHECK(format_value(1.7e300) == "1.7e+300");
    CHECK(format_value(-2) == "-2");
    CHECK(format_value(std::numeric_limits<double>::infinity()) == "+Inf");
    CHECK(format_value(-std::numeric_limits<double>::infinity()) == "-Inf");
    CHECK(format_value(std::nan("")) == "NaN");
    const double tricky = 1727354153.123456;
    CHECK(std::stod(format_value(tricky)) == tricky);
}
