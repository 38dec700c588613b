// Plugin metrics (plugin_host/metrics.hpp, ringd_host.metric_*): names, kinds and limits checked at
// registration, registration only during create(), per-worker cells and the shared cell summed on read.
#include "plugin_host/metrics.hpp"
#include "plugin_host/plugin.hpp"

#include <catch2/catch.hpp>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

using ringd::plugin_host::InstanceMetrics;

TEST_CASE("metric names, kinds and help lines are checked, and at most 64 metrics exist", "[sdk][metrics]")
{
    InstanceMetrics m(2);
    CHECK(m.add_metric("requests_total", RINGD_METRIC_COUNTER, "requests served") == 0);
    CHECK(m.add_metric("_open", RINGD_METRIC_GAUGE, nullptr) == 1);
    CHECK(m.add_metric("requests_total", RINGD_METRIC_GAUGE, "") == -EEXIST);
    for (const char* bad : {"", "9lives", "Upper", "with-dash", "dot.ted", "sp ace"})
        CHECK(m.add_metric(bad, RINGD_METRIC_COUNTER, "") == -EINVAL);
    CHECK(m.add_metric(std::string(64, 'a').c_str(), RINGD_METRIC_COUNTER, "") == 2);
    CHECK(m.add_metric(std::string(65, 'b').c_str(), RINGD_METRIC_COUNTER, "") == -EINVAL);
    CHECK(m.add_metric(nullptr, RINGD_METRIC_COUNTER, "") == -EINVAL);
    CHECK(m.add_metric("kind", 2, "") == -EINVAL);
    CHECK(m.add_metric("two_lines", RINGD_METRIC_GAUGE, "a\nb") == -EINVAL);
    for (unsigned i = 3; i < InstanceMetrics::max_metrics; ++i)
        REQUIRE(m.add_metric(("m" + std::to_string(i)).c_str(), RINGD_METRIC_GAUGE, "") == int(i));
    CHECK(m.add_metric("one_too_many", RINGD_METRIC_GAUGE, "") == -ENOSPC);
}

TEST_CASE("workers add to their own cells, other threads to a shared one; a read sums them", "[sdk][metrics]")
{
    InstanceMetrics m(2);
    const int counter = m.add_metric("hits", RINGD_METRIC_COUNTER, "");
    const int gauge = m.add_metric("open", RINGD_METRIC_GAUGE, "");
    m.add(counter, 5, 0u);
    m.add(counter, 7, 1u);
    m.add(counter, -3, 1u); // a counter never goes down: ignored
    m.add(gauge, 4, 0u);
    m.add(gauge, -1, 1u);
    std::vector<std::thread> others;
    for (int t = 0; t < 4; ++t)
        others.emplace_back([&] {
            for (int i = 0; i < 1000; ++i)
                m.add(counter, 1, std::nullopt);
        });
    for (auto& t : others)
        t.join();
    m.add(99, 1, 0u); // unknown: ignored
    int64_t v = 0;
    REQUIRE(m.read(counter, &v) == 0);
    CHECK(v == 5 + 7 + 4000);
    REQUIRE(m.read(gauge, &v) == 0);
    CHECK(v == 3);
    CHECK(m.read(99, &v) == -EINVAL);
    const auto values = m.values();
    REQUIRE(values.size() == 2);
    CHECK(values[0].name == "hits");
    CHECK(values[0].kind == RINGD_METRIC_COUNTER);
    CHECK(values[0].value == 4012);
    CHECK(values[1].name == "open");
    CHECK(values[1].value == 3);
}

namespace {

int registered_in_create = -100;
ringd_listener* self_handle = nullptr;
const ringd_host* host_seen = nullptr;

int metric_register_in_create(ringd_listener* self, const char* name, uint32_t kind, const char* help)
{
    return self->instance->register_metric(name, kind, help);
}

int create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    self_handle = args->listener;
    host_seen = args->host;
    registered_in_create = args->host->metric_register(args->listener, "in_create", RINGD_METRIC_COUNTER, "");
    *instance = nullptr;
    return 0;
}
void destroy(void*) {}

} // namespace

TEST_CASE("metrics register during create() only, and the instance lists them", "[sdk][metrics]")
{
    ringd_host host{};
    host.abi_version = RINGD_PLUGIN_ABI_VERSION;
    host.struct_size = sizeof host;
    host.metric_register = &metric_register_in_create;
    ringd_plugin_descriptor d{};
    d.abi_version = RINGD_PLUGIN_ABI_VERSION;
    d.struct_size = sizeof d;
    d.name = "metered";
    d.socket_kinds = RINGD_KIND_STREAM;
    d.create = &create;
    d.destroy = &destroy;
    auto instance = ringd::plugin_host::PluginInstance::create(
        ringd::plugin_host::PluginLibrary::builtin("metered", &d),
        ringd::plugin_host::InstanceSpec{"m", "{}", RINGD_KIND_STREAM, 1, &host});
    CHECK(registered_in_create == 0);
    CHECK(self_handle->instance == instance.get());
    CHECK(instance->register_metric("after_create", RINGD_METRIC_COUNTER, "") == -EPERM);
    int from_thread = 0;
    std::thread([&] { from_thread = instance->register_metric("elsewhere", RINGD_METRIC_COUNTER, ""); }).join();
    CHECK(from_thread == -EPERM);
    const auto listed = instance->metrics();
    REQUIRE(listed.size() == 1);
    CHECK(listed[0].name == "in_create");
}
