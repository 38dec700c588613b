// Valid configurations: defaults, overrides, plugin resolution, includes, and the plugin's own `config:`.
#include "config/config.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <thread>
#include <yaml-cpp/yaml.h>

using namespace ringd::config;
using namespace ringd::config::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* one_listener = "listeners:\n"
                                     "  - name: echo\n"
                                     "    listen: tcp://127.0.0.1:8080\n"
                                     "    plugin: echo\n";

LoadOptions with_plugin_dir(const std::filesystem::path& dir)
{
    LoadOptions options;
    options.plugin_dir_override = dir;
    return options;
}

} // namespace

TEST_CASE("a minimal config gets every default", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("plugins", {"echo"});
    const Config config = parse_config(one_listener, "ringd.yaml", dir.path(), with_plugin_dir(plugins));

    CHECK(config.workers == 1);
    CHECK(config.log_level == "info");
    CHECK(config.shutdown_timeout == 5s);
    CHECK(config.limits.max_connections == 10000);
    CHECK(config.limits.idle_timeout == 60s);
    CHECK(config.limits.max_output_buffer == 1024 * 1024);
    CHECK(config.plugin_dir == plugins);
    REQUIRE(config.files.size() == 1);
    REQUIRE(config.listeners.size() == 1);
    const ListenerConfig& echo = config.listeners[0];
    CHECK(echo.name == "echo");
    CHECK(echo.endpoint.text == "tcp://127.0.0.1:8080");
    CHECK(echo.plugin_path == plugins / "echo.so");
    CHECK(echo.allow.empty());
    CHECK(echo.deny.empty());
    CHECK(echo.limits.max_connections == 10000);
    CHECK(echo.plugin_config_yaml == "{}");
    CHECK(echo.where.str() == "ringd.yaml:2:5");
    CHECK(echo.plugin_where.str() == "ringd.yaml:4:13");
    CHECK(echo.config_key_locations.size() == 1);
    CHECK(echo.locate_config_key("anything.at.all").str() == "ringd.yaml:2:5");
}

TEST_CASE("every setting can be overridden, and listener limits merge with the defaults", "[config]")
{
    const TempDir dir;
    dir.plugins("lib/plugins", {"echo-upper"});
    const std::string yaml = "workers: 4\n"
                             "plugin_dir: lib/plugins\n"
                             "log: { level: debug }\n"
                             "shutdown_timeout: 1500ms\n"
                             "limits:\n"
                             "  max_connections: 500\n"
                             "  idle_timeout: 0\n"
                             "  max_output_buffer: 64KiB\n"
                             "listeners:\n"
                             "  - name: echo-upper\n"
                             "    listen: tcp://[::1]:8080\n"
                             "    plugin: echo-upper\n"
                             "    allow: [127.0.0.0/8, \"::1/128\"]\n"
                             "    deny: [127.0.0.2]\n"
                             "    limits: { max_connections: 2000, idle_timeout: 2m }\n"
                             "    config: { transform: upper }\n";
    const Config config = parse_config(yaml, "ringd.yaml", dir.path());

    CHECK(config.workers == 4);
    CHECK(config.plugin_dir == dir.path() / "lib/plugins");
    CHECK(config.log_level == "debug");
    CHECK(config.shutdown_timeout == 1500ms);
    CHECK(config.limits.max_connections == 500);
    CHECK(config.limits.idle_timeout == 0ms);
    CHECK(config.limits.max_output_buffer == 64 * 1024);
    REQUIRE(config.listeners.size() == 1);
    const ListenerConfig& listener = config.listeners[0];
    CHECK(listener.endpoint.family() == AF_INET6);
    CHECK(listener.plugin_path == dir.path() / "lib/plugins/echo-upper.so");
    REQUIRE(listener.allow.size() == 2);
    CHECK(listener.allow[1].family == AF_INET6);
    REQUIRE(listener.deny.size() == 1);
    CHECK(listener.deny[0].prefix_len == 32);
    CHECK(listener.limits.max_connections == 2000);
    CHECK(listener.limits.idle_timeout == 2min);
    CHECK(listener.limits.max_output_buffer == 64 * 1024); // inherited
    CHECK(YAML::Load(listener.plugin_config_yaml)["transform"].as<std::string>() == "upper");
}

TEST_CASE("max_outbound_connections defaults to the listener's own max_connections", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("p", {"echo"});
    auto listener = [](const std::string& name, int port, const std::string& limits) {
        return "  - name: " + name + "\n    listen: tcp://127.0.0.1:" + std::to_string(port) + "\n    plugin: echo\n" +
               (limits.empty() ? "" : "    limits: " + limits + "\n");
    };
    SECTION("unset anywhere: each listener's max_connections")
    {
        const Config config = parse_config("limits: { max_connections: 300 }\nlisteners:\n" + listener("a", 1, "") +
                                               listener("b", 2, "{ max_connections: 7 }") +
                                               listener("c", 3, "{ max_outbound_connections: 0 }"),
                                           "r.yaml", dir.path(), with_plugin_dir(plugins));
        CHECK_FALSE(config.limits.max_outbound_connections.has_value());
        CHECK(config.limits.outbound_limit() == 300);
        CHECK(config.listeners.at(0).limits.outbound_limit() == 300);
        CHECK(config.listeners.at(1).limits.outbound_limit() == 7);
        CHECK(config.listeners.at(2).limits.outbound_limit() == 0); // 0: the plugin may open none
    }
    SECTION("set at the top: inherited, whatever the listener's max_connections")
    {
        const Config config = parse_config("limits: { max_outbound_connections: 50 }\nlisteners:\n" +
                                               listener("a", 1, "{ max_connections: 7 }") +
                                               listener("b", 2, "{ max_outbound_connections: 1000000 }"),
                                           "r.yaml", dir.path(), with_plugin_dir(plugins));
        CHECK(config.listeners.at(0).limits.outbound_limit() == 50);
        CHECK(config.listeners.at(1).limits.outbound_limit() == 1'000'000);
    }
}

TEST_CASE("workers: auto is the number of CPUs", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("p", {"echo"});
    const Config config =
        parse_config(std::string("workers: auto\n") + one_listener, "r.yaml", dir.path(), with_plugin_dir(plugins));
    CHECK(config.workers == std::clamp(std::thread::hardware_concurrency(), 1u, 256u));
}

TEST_CASE("--plugin-dir replaces plugin_dir for resolving plugins", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("build/plugins", {"echo"});
    const Config config = parse_config(std::string("plugin_dir: /nonexistent\n") + one_listener, "r.yaml", dir.path(),
                                       with_plugin_dir(plugins));
    CHECK(config.plugin_dir == plugins);
    CHECK(config.listeners[0].plugin_path == plugins / "echo.so");
}

TEST_CASE("a relative --plugin-dir is made absolute", "[config]")
{
    LoadOptions options;
    options.plugin_dir_override = "some/dir";
    options.check_plugin_files = false;
    const Config config = parse_config(one_listener, "r.yaml", "/etc/ringd", options);
    CHECK(config.plugin_dir == std::filesystem::current_path() / "some/dir");
}

TEST_CASE("without plugin_dir, plugins come from the built-in default", "[config]")
{
    LoadOptions options;
    options.check_plugin_files = false;
    const Config config = parse_config(one_listener, "r.yaml", "/etc/ringd", options);
    CHECK(config.plugin_dir.is_absolute());
    CHECK(config.plugin_dir != "/etc/ringd");
    CHECK(config.listeners[0].plugin_path == config.plugin_dir / "echo.so");
}

TEST_CASE("an absolute plugin path is used as is", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("elsewhere", {"custom"});
    const std::string yaml = "listeners:\n"
                             "  - name: c\n"
                             "    listen: unix:@ringd-test\n"
                             "    plugin: " +
                             (plugins / "custom.so").string() + "\n";
    const Config config = parse_config(yaml, "r.yaml", dir.path());
    CHECK(config.listeners[0].plugin_path == plugins / "custom.so");
    CHECK(config.listeners[0].endpoint.is_abstract_unix());
}

TEST_CASE("a unix socket file's mode is 0666 unless the listener sets one", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("plugins", {"echo"});
    const Config config = parse_config("listeners:\n"
                                       "  - { name: a, listen: \"unix:///run/a.sock\", plugin: echo }\n"
                                       "  - { name: b, listen: \"unix:///run/b.sock\", plugin: echo, mode: 0600 }\n"
                                       "  - { name: c, listen: \"unix:///run/c.sock\", plugin: echo, mode: \"660\" }\n",
                                       "r.yaml", dir.path(), with_plugin_dir(plugins));
    CHECK(config.listeners[0].unix_mode == 0666);
    CHECK(config.listeners[1].unix_mode == 0600);
    CHECK(config.listeners[2].unix_mode == 0660);
}

TEST_CASE("access_log is off unless the listener or the top-level default turns it on", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("plugins", {"echo"});
    const std::string listeners = "listeners:\n"
                                  "  - { name: a, listen: \"tcp://127.0.0.1:9000\", plugin: echo }\n"
                                  "  - { name: b, listen: \"tcp://127.0.0.1:9001\", plugin: echo, access_log: on }\n"
                                  "  - { name: c, listen: \"tcp://127.0.0.1:9002\", plugin: echo, access_log: off }\n"
                                  "  - { name: d, listen: \"tcp://127.0.0.1:9003\", plugin: echo, access_log: true }\n";
    SECTION("no top-level access_log: off")
    {
        const Config config = parse_config(listeners, "r.yaml", dir.path(), with_plugin_dir(plugins));
        CHECK_FALSE(config.access_log);
        CHECK_FALSE(config.listeners[0].access_log);
        CHECK(config.listeners[1].access_log);
        CHECK_FALSE(config.listeners[2].access_log);
        CHECK(config.listeners[3].access_log);
    }
    SECTION("top-level access_log: on is every listener's default, also in included files; udp ones inherit it quietly")
    {
        dir.write("conf.d/a.yaml", "listeners:\n  - { name: e, listen: \"udp://127.0.0.1:9004\", plugin: echo }\n");
        const Config config = parse_config("access_log: on\ninclude: conf.d/*.yaml\n" + listeners, "r.yaml", dir.path(),
                                           with_plugin_dir(plugins));
        CHECK(config.access_log);
        CHECK(config.listeners[0].access_log);
        CHECK(config.listeners[1].access_log);
        CHECK_FALSE(config.listeners[2].access_log);
        CHECK(config.listeners[4].name == "e");
        CHECK(config.listeners[4].access_log);
        CHECK(config.warnings.empty());
    }
}

TEST_CASE("check_plugin_files = false accepts plugins that are not built yet", "[config]")
{
    LoadOptions options;
    options.plugin_dir_override = "/nonexistent";
    options.check_plugin_files = false;
    CHECK(parse_config(one_listener, "r.yaml", "/tmp", options).listeners[0].plugin_path == "/nonexistent/echo.so");
}

TEST_CASE("addresses that can be bound together are accepted", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("p", {"echo"});
    std::string yaml = "listeners:\n";
    int n = 0;
    // Same port over TCP and UDP; IPv4 and IPv6 wildcards (IPV6_V6ONLY); distinct addresses on one port.
    for (const char* listen : {"tcp://0.0.0.0:80", "udp://0.0.0.0:80", "tcp://[::]:80", "tcp://127.0.0.1:81",
                               "tcp://127.0.0.2:81", "unix:///run/a.sock", "unix:@/run/a.sock", "unix:@a"}) {
        yaml += "  - { name: l" + std::to_string(n++) + ", listen: \"" + listen + "\", plugin: echo }\n";
    }
    const Config config = parse_config(yaml, "r.yaml", dir.path(), with_plugin_dir(plugins));
    CHECK(config.listeners.size() == 8);
}

TEST_CASE("the plugin's config is re-emitted and its keys located", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("p", {"echo"});
    const std::string yaml = "listeners:\n"                               // 1
                             "  - name: echo\n"                           // 2
                             "    listen: tcp://127.0.0.1:8080\n"         // 3
                             "    plugin: echo\n"                         // 4
                             "    config:\n"                              // 5
                             "      transform: upper\n"                   // 6
                             "      rate_limit:\n"                        // 7
                             "        burst: 10\n"                        // 8
                             "        window: 1s\n"                       // 9
                             "      backends:\n"                          // 10
                             "        - host: 10.0.0.1\n"                 // 11
                             "          port: 80\n"                       // 12
                             "      literal: \"a: b # not a comment\"\n"; // 13
    const Config config = parse_config(yaml, "r.yaml", dir.path(), with_plugin_dir(plugins));
    const ListenerConfig& listener = config.listeners.at(0);

    const YAML::Node reparsed = YAML::Load(listener.plugin_config_yaml);
    CHECK(reparsed["rate_limit"]["burst"].as<int>() == 10);
    CHECK(reparsed["backends"][0]["host"].as<std::string>() == "10.0.0.1");
    CHECK(reparsed["literal"].as<std::string>() == "a: b # not a comment");

    CHECK(listener.locate_config_key("").str() == "r.yaml:6:7");
    CHECK(listener.locate_config_key("transform").str() == "r.yaml:6:7");
    CHECK(listener.locate_config_key("rate_limit").str() == "r.yaml:7:7");
    CHECK(listener.locate_config_key("rate_limit.burst").str() == "r.yaml:8:9");
    CHECK(listener.locate_config_key("rate_limit.window").str() == "r.yaml:9:9");
    CHECK(listener.locate_config_key("backends.0").str() == "r.yaml:11:11");
    CHECK(listener.locate_config_key("backends.0.port").str() == "r.yaml:12:11");
    SECTION("an unknown key falls back to its nearest recorded parent, then to the config node")
    {
        CHECK(listener.locate_config_key("rate_limit.burst.extra").str() == "r.yaml:8:9");
        CHECK(listener.locate_config_key("rate_limit.nope").str() == "r.yaml:7:7");
        CHECK(listener.locate_config_key("backends.3.host").str() == "r.yaml:10:7");
        CHECK(listener.locate_config_key("nope").str() == "r.yaml:6:7");
    }
}

TEST_CASE("an empty config mapping is handed over as {}", "[config]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("p", {"echo"});
    const Config config =
        parse_config(std::string(one_listener) + "    config: {}\n", "r.yaml", dir.path(), with_plugin_dir(plugins));
    CHECK(config.listeners[0].plugin_config_yaml == "{}");
    CHECK(config.listeners[0].locate_config_key("x").str() == "r.yaml:5:13");
}

TEST_CASE("includes add listeners from conf.d in sorted order", "[config][include]")
{
    const TempDir dir;
    const auto plugins = dir.plugins("p", {"echo"});
    dir.write("conf.d/20-b.yaml", "listeners:\n  - { name: b, listen: \"udp://127.0.0.1:9000\", plugin: echo }\n");
    dir.write("conf.d/10-a.yaml", "listeners:\n  - { name: a, listen: \"tcp://127.0.0.1:9000\", plugin: echo }\n");
    dir.write("conf.d/30-empty.yaml", "# everything commented out\n");
    dir.write("conf.d/40-no-listeners.yaml", "listeners:\n");
    dir.write("conf.d/README.txt", "not yaml: [");
    dir.write("conf.d/dir.yaml/x.yaml", "not read: [");
    dir.write("extra/c.yaml", "listeners:\n  - { name: c, listen: \"unix:///run/c.sock\", plugin: echo }\n");

    SECTION("one glob; the main file's listeners come first")
    {
        const std::string yaml = std::string("include: conf.d/*.yaml\n") + one_listener;
        const Config config = parse_config(yaml, "ringd.yaml", dir.path(), with_plugin_dir(plugins));
        REQUIRE(config.listeners.size() == 3);
        CHECK(config.listeners[0].name == "echo");
        CHECK(config.listeners[1].name == "a");
        CHECK(config.listeners[2].name == "b");
        CHECK(config.listeners[1].where.str() == (dir.path() / "conf.d/10-a.yaml").string() + ":2:5");
        CHECK(config.files.size() == 5);
        CHECK(config.files[1] == dir.path() / "conf.d/10-a.yaml");
    }
    SECTION("a list of globs, sorted together, each file once; a glob matching nothing is fine")
    {
        const std::string yaml = "include: [extra/*.yaml, conf.d/1*.yaml, conf.d/*-a.yaml, nothing/*.yaml]\n";
        const Config config = parse_config(yaml, "ringd.yaml", dir.path(), with_plugin_dir(plugins));
        REQUIRE(config.listeners.size() == 2);
        CHECK(config.listeners[0].name == "a");
        CHECK(config.listeners[1].name == "c");
        CHECK(config.files.size() == 3);
    }
    SECTION("included listeners use the main file's limits")
    {
        const std::string yaml = "include: conf.d/10-a.yaml\nlimits: { max_connections: 7 }\n";
        const Config config = parse_config(yaml, "ringd.yaml", dir.path(), with_plugin_dir(plugins));
        CHECK(config.listeners.at(0).limits.max_connections == 7);
    }
}

TEST_CASE("load_config reads the file and resolves paths against its directory", "[config][include]")
{
    const TempDir dir;
    dir.plugins("etc/plugins", {"echo"});
    dir.write("etc/conf.d/a.yaml", "listeners:\n  - { name: a, listen: \"tcp://127.0.0.1:9000\", plugin: echo }\n");
    const auto file = dir.write("etc/ringd.yaml", "plugin_dir: plugins\ninclude: [\"*.yaml\", conf.d/*.yaml]\n");

    const Config config = load_config(file);
    CHECK(config.plugin_dir == dir.path() / "etc/plugins");
    REQUIRE(config.listeners.size() == 1); // "*.yaml" matches ringd.yaml itself, which is not read twice
    CHECK(config.listeners[0].plugin_path == dir.path() / "etc/plugins/echo.so");
    CHECK(config.files == std::vector<std::filesystem::path>{file, dir.path() / "etc/conf.d/a.yaml"});
}

TEST_CASE("load_config reports a file it cannot read", "[config]")
{
    try {
        (void)load_config("/nonexistent/ringd.yaml");
        FAIL("expected ConfigErrors");
    } catch (const ConfigErrors& e) {
        REQUIRE(e.diagnostics().size() == 1);
        CHECK(e.diagnostics()[0].str() ==
              "/nonexistent/ringd.yaml: cannot read config file: No such file or directory");
    }
}

TEST_CASE("diagnostics format as file:line:col, listener, message", "[config]")
{
    CHECK(Location{"a.yaml", 3, 7}.str() == "a.yaml:3:7");
    CHECK(Diagnostic{{"a.yaml", 3, 7}, "echo", "bad"}.str() == "a.yaml:3:7: listener 'echo': bad");
    CHECK(Diagnostic{{"a.yaml", 1, 1}, "", "bad"}.str() == "a.yaml:1:1: bad");
    const ConfigErrors errors({Diagnostic{{"a.yaml", 1, 1}, "", "one"}, Diagnostic{{"b.yaml", 2, 2}, "x", "two"}});
    CHECK(std::string(errors.what()) == "a.yaml:1:1: one\nb.yaml:2:2: listener 'x': two");
}
