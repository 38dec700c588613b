// Invalid configurations: each must be reported at the exact file:line:col, naming the listener and saying
// what was expected; and all problems across the main file and its includes must be reported together.
#include "config/config.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace ringd::config;
using namespace ringd::config::test;

namespace {

// A valid listener 'a' on lines 1-4: name value at 2:11, listen value at 3:13, plugin value at 4:13.
const std::string listener_a = "listeners:\n"
                               "  - name: a\n"
                               "    listen: tcp://127.0.0.1:8080\n"
                               "    plugin: echo\n";

// A second listener 'b' for lines 5-7 (name value at 5:11, listen value at 6:13).
std::string listener_b(const std::string& listen, const std::string& name = "b")
{
    return "  - name: " + name + "\n    listen: " + listen + "\n    plugin: echo\n";
}

struct BadConfig {
    std::string yaml;
    std::string where;    // line:col in test.yaml
    std::string listener; // expected Diagnostic::listener
    std::string message;  // a substring of the message
};

// One problem per config, so each row pins down exactly one diagnostic.
std::vector<BadConfig> bad_configs()
{
    const std::string a = listener_a;
    return {
        // Top level
        {"workerz: 2\n" + a, "1:1", "", "unknown key 'workerz' in the config file; did you mean 'workers'?"},
        {"workers: 0\n" + a, "1:10", "", "expected \"auto\" or a number from 1 to 256 for 'workers', got \"0\""},
        {"workers: 257\n" + a, "1:10", "", "got \"257\""},
        {"workers: [1]\n" + a, "1:10", "", "got a sequence"},
        {"workers:\n" + a, "1:1", "", "got nothing (null)"},
        {"workers: 2\nworkers: 3\n" + a, "2:1", "", "duplicate key 'workers' in the config file (first at line 1)"},
        {"log: { level: verbose }\n" + a, "1:15", "",
         "expected one of trace, debug, info, warn, error for 'level', got \"verbose\""},
        {"log: { level: info, format: json }\n" + a, "1:21", "", "unknown key 'format' in log"},
        {"log: info\n" + a, "1:6", "", "expected log to be a mapping, got \"info\""},
        {"shutdown_timeout: 5\n" + a, "1:19", "", "a unit is required unless the value is 0"},
        {"plugin_dir: [a]\n" + a, "1:13", "", "expected a directory path for 'plugin_dir', got a sequence"},
        {"include: { a: 1 }\n" + a, "1:10", "", "expected a glob like conf.d/*.yaml or a list of globs"},
        {"- workers\n", "1:1", "", "expected the config file to be a mapping, got a sequence"},
        // Top-level limits
        {"limits:\n  idle_timeout: 60 seconds\n" + a, "2:17", "",
         "expected a duration like 60s, 500ms or 0, got \"60 seconds\""},
        {"limits:\n  idle_timeout: -5s\n" + a, "2:17", "", "got \"-5s\""},
        {"limits:\n  max_connections: 0\n" + a, "2:20", "",
         "expected a number from 1 to 1000000 for 'max_connections', got \"0\""},
        {"limits:\n  max_connections: 1000001\n" + a, "2:20", "", "got \"1000001\""},
        {"limits:\n  max_output_buffer: 512\n" + a, "2:22", "", "expected max_output_buffer of at least 1KiB"},
        {"limits:\n  max_output_buffer: 1 MiB\n" + a, "2:22", "", "expected a size like 1MiB, 64KiB or 4096"},
        {"limits:\n  max_output_buffer: 99999999999GiB\n" + a, "2:22", "", "is too large"},
        {"limits:\n  max_conections: 5\n" + a, "2:3", "", "did you mean 'max_connections'?"},
        {"limits:\n  max_outbound_connections: -1\n" + a, "2:29", "",
         "expected a number from 0 to 1000000 for 'max_outbound_connections', got \"-1\""},
        {"limits:\n  max_outbound_connections: 1000001\n" + a, "2:29", "", "got \"1000001\""},
        {"limits:\n  max_outbound_conections: 5\n" + a, "2:3", "", "did you mean 'max_outbound_connections'?"},
        {"limits: 5\n" + a, "1:9", "", "expected limits to be a mapping"},
        // Listener keys
        {a + "    plugn_config: {}\n", "5:5", "a", "unknown key 'plugn_config' in listener"},
        {"listeners:\n  - listen: tcp://127.0.0.1:8080\n    plugin: echo\n", "2:5", "",
         "missing required key 'name' in listener"},
        {"listeners:\n  - name: a\n    plugin: echo\n", "2:5", "a", "missing required key 'listen' in listener"},
        {"listeners:\n  - name: a\n    listen: tcp://127.0.0.1:8080\n", "2:5", "a", "missing required key 'plugin'"},
        {"listeners:\n  - name: a b\n    listen: tcp://127.0.0.1:8080\n    plugin: echo\n", "2:11", "a b",
         "expected a listener name made of letters, digits, '_', '.' and '-', got \"a b\""},
        {"listeners:\n  - name: [a]\n    listen: tcp://127.0.0.1:8080\n    plugin: echo\n", "2:11", "",
         "expected a listener name for 'name', got a sequence"},
        {"listeners:\n  name: a\n", "2:3", "", "expected a list of listeners for 'listeners', got a mapping"},
        {"listeners:\n  - echo\n", "2:5", "", "expected a listener (a mapping with name, listen and plugin)"},
        {"listeners: []\n", "1:1", "", "no listeners configured"},
        {"workers: 2\n", "1:1", "", "no listeners configured"},
        {"", "1:1", "", "no listeners configured"},
        // Endpoints
        {"listeners:\n  - name: a\n    listen: tcp://127.0.0.1:0\n    plugin: echo\n", "3:13", "a",
         "expected a port from 1 to 65535, got \"0\""},
        {"listeners:\n  - name: a\n    listen: udp://127.0.0.1:65536\n    plugin: echo\n", "3:13", "a",
         "got \"65536\""},
        {"listeners:\n  - name: a\n    listen: tcp://localhost:80\n    plugin: echo\n", "3:13", "a",
         "host names are not resolved"},
        {"listeners:\n  - name: a\n    listen: tcp://::1:80\n    plugin: echo\n", "3:13", "a",
         "IPv6 addresses must be in brackets"},
        {"listeners:\n  - name: a\n    listen: unix://run/a.sock\n    plugin: echo\n", "3:13", "a",
         "expected an absolute unix socket path"},
        {"listeners:\n  - name: a\n    listen: [tcp://127.0.0.1:80]\n    plugin: echo\n", "3:13", "a",
         "for 'listen', got a sequence"},
        // Plugins
        {"listeners:\n  - name: a\n    listen: tcp://127.0.0.1:8080\n    plugin: nope\n", "4:13", "a",
         "plugin file not found: "},
        {"listeners:\n  - name: a\n    listen: tcp://127.0.0.1:8080\n    plugin: echo.so\n", "4:13", "a",
         "(write the name without .so)"},
        {"listeners:\n  - name: a\n    listen: tcp://127.0.0.1:8080\n    plugin: ./echo.so\n", "4:13", "a",
         "expected a plugin name like echo-upper or an absolute path to a .so file, got \"./echo.so\""},
        {"listeners:\n  - name: a\n    listen: tcp://127.0.0.1:8080\n    plugin: /usr/lib/echo\n", "4:13", "a",
         "got \"/usr/lib/echo\""},
        // The plugin's config
        {a + "    config: upper\n", "5:13", "a",
         "expected 'config' to be a mapping (the plugin's settings), got \"upper\""},
        {a + "    config: [x, y]\n", "5:13", "a", "got a sequence"},
        {a + "    config:\n", "5:5", "a", "got nothing (null)"},
        {a + "    config:\n      transform: none\n      transform: upper\n", "7:7", "a",
         "duplicate key 'transform' in 'config' (first at line 6)"},
        {a + "    config:\n      rate_limit: { burst: 5, rate: 10/s, burst: 6 }\n", "6:43", "a",
         "duplicate key 'burst' in 'config' (first at line 6)"},
        // Listener limits and access lists
        {a + "    limits: { max_connections: 0 }\n", "5:32", "a", "for 'max_connections', got \"0\""},
        {a + "    limits: { max_outbound_connections: many }\n", "5:41", "a",
         "for 'max_outbound_connections', got \"many\""},
        {a + "    limits: { idle: 5s }\n", "5:15", "a", "unknown key 'idle' in listener limits"},
        {a + "    allow: [10.0.0.0/33]\n", "5:13", "a", "expected a prefix length from 0 to 32"},
        {a + "    deny: [10.0.0.0/8, example.com]\n", "5:24", "a", "got \"example.com\""},
        {a + "    allow: 10.0.0.0/8\n", "5:12", "a", "expected a list of address ranges"},
        {a + "    allow: []\n", "5:12", "a", "an empty 'allow' list would admit everyone"},
        {"listeners:\n  - name: u\n    listen: unix:///run/u.sock\n    plugin: echo\n    deny: [10.0.0.0/8]\n", "5:5",
         "u", "'deny' cannot be used on a unix socket listener"},
        {a + "    mode: 0660\n", "5:5", "a", "'mode' applies only to unix:///path listeners (tcp://127.0.0.1:8080 has"},
        {"listeners:\n  - name: u\n    listen: unix:@u\n    plugin: echo\n    mode: \"0600\"\n", "5:5", "u",
         "'mode' applies only to unix:///path listeners"},
        {"listeners:\n  - name: u\n    listen: unix:///run/u.sock\n    plugin: echo\n    mode: 666\n    mode: 0o600\n",
         "6:5", "u", "duplicate key 'mode'"},
        {"listeners:\n  - name: u\n    listen: unix:///run/u.sock\n    plugin: echo\n    mode: 0o600\n", "5:11", "u",
         "expected permission bits in octal like 0660 or 600, got \"0o600\""},
        // access_log
        {a + "    access_log: yes\n", "5:17", "a", "expected on or off for 'access_log', got \"yes\""},
        {a + "    access_log: [on]\n", "5:17", "a", "expected on or off for 'access_log', got a sequence"},
        {"access_log: maybe\n" + a, "1:13", "", "expected on or off for 'access_log', got \"maybe\""},
        {a + "    acess_log: on\n", "5:5", "a", "did you mean 'access_log'?"},
        // Across listeners
        {a + listener_b("tcp://127.0.0.1:8081", "a"), "5:11", "a",
         "duplicate listener name 'a' (first defined at test.yaml:2:11)"},
        {a + listener_b("tcp://127.0.0.1:8080"), "6:13", "b",
         "listen address \"tcp://127.0.0.1:8080\" is already used by listener 'a' at test.yaml:3:13"},
        {a + listener_b("tcp://0.0.0.0:8080"), "6:13", "b",
         "listen address \"tcp://0.0.0.0:8080\" conflicts with \"tcp://127.0.0.1:8080\" of listener 'a'"},
        {a + listener_b("unix:@x") + listener_b("unix:@x", "c"), "9:13", "c", "is already used by listener 'b'"},
        // YAML itself
        {"workers: 2: 3\n" + a, "1:11", "", "YAML syntax error: illegal map value"},
        {"workers: 2\n\tlisteners: []\n", "2:1", "", "YAML syntax error: illegal tab"},
        {a + "---\nworkers: 2\n", "6:1", "", "a config file must hold a single YAML document"},
    };
}

} // namespace

TEST_CASE("each bad config is reported at file:line:col with what was expected", "[config][errors]")
{
    const TempDir dir;
    const LoadOptions options{dir.plugins("plugins", {"echo"}), true};
    const std::vector<BadConfig> table = bad_configs();
    REQUIRE(table.size() >= 25);
    for (const BadConfig& bad : table) {
        INFO("config:\n" << bad.yaml);
        const std::vector<Diagnostic> diagnostics = errors_of(bad.yaml, dir.path(), options);
        INFO("diagnostics:\n" << dump(diagnostics));
        REQUIRE(diagnostics.size() == 1);
        CHECK(diagnostics[0].where.str() == "test.yaml:" + bad.where);
        CHECK(diagnostics[0].listener == bad.listener);
        CHECK_THAT(diagnostics[0].message, Catch::Contains(bad.message));
    }
}

TEST_CASE("every error across the main file and its includes is reported at once", "[config][errors]")
{
    const TempDir dir;
    const LoadOptions options{dir.plugins("plugins", {"echo"}), true};
    const auto a_yaml = dir.write("conf.d/a.yaml", "listeners:\n"                    // 1
                                                   "  - name: dup\n"                 // 2
                                                   "    listen: tcp://127.0.0.1:0\n" // 3
                                                   "    plugin: missing\n"           // 4
                                                   "workers: 3\n");                  // 5
    const auto b_yaml = dir.write("conf.d/b.yaml", "listeners: [\n");
    const std::string main_yaml = "workers: 0\n"                        // 1
                                  "include: conf.d/*.yaml\n"            // 2
                                  "limits: { idle_timeout: forever }\n" // 3
                                  "listeners:\n"                        // 4
                                  "  - name: dup\n"                     // 5
                                  "    listen: tcp://127.0.0.1:8080\n"  // 6
                                  "    plugin: echo\n"                  // 7
                                  "    colour: blue\n";                 // 8
    const std::vector<Diagnostic> diagnostics = errors_of(main_yaml, dir.path(), options);
    INFO(dump(diagnostics));
    REQUIRE(diagnostics.size() == 8);
    const std::string a = a_yaml.string();
    const std::string b = b_yaml.string();
    // Ordered by file (main, then includes in sorted order), then by position.
    CHECK(diagnostics[0].where.str() == "test.yaml:1:10");
    CHECK(diagnostics[1].where.str() == "test.yaml:3:25");
    CHECK(diagnostics[2].where.str() == "test.yaml:8:5");
    CHECK(diagnostics[2].listener == "dup");
    CHECK(diagnostics[3].str() == a + ":2:11: listener 'dup': duplicate listener name 'dup' (first defined at "
                                      "test.yaml:5:11)");
    CHECK(diagnostics[4].str() == a + ":3:13: listener 'dup': expected a port from 1 to 65535, got \"0\" in "
                                      "\"tcp://127.0.0.1:0\"");
    CHECK(diagnostics[5].str() ==
          a + ":4:13: listener 'dup': plugin file not found: " + (dir.path() / "plugins/missing.so").string());
    CHECK(diagnostics[6].str() == a + ":5:1: unknown key 'workers' in an included file (expected one of: listeners)");
    CHECK(diagnostics[7].where.str() == b + ":2:1");
    CHECK_THAT(diagnostics[7].message, Catch::StartsWith("YAML syntax error: "));
}

TEST_CASE("an unreadable include is reported at its include pattern", "[config][errors]")
{
    const TempDir dir;
    const LoadOptions options{dir.plugins("plugins", {"echo"}), true};
    const auto secret = dir.write("conf.d/secret.yaml", "listeners: []\n");
    std::filesystem::permissions(secret, std::filesystem::perms::none);
    if (std::ifstream(secret).good()) return; // running as root: permissions do not apply
    const std::vector<Diagnostic> diagnostics = errors_of("include: conf.d/*.yaml\n" + listener_a, dir.path(), options);
    REQUIRE(diagnostics.size() == 1);
    CHECK(diagnostics[0].where.str() == "test.yaml:1:10");
    CHECK_THAT(diagnostics[0].message, Catch::Contains("cannot read included file"));
}

TEST_CASE("an include pattern that is not a string is reported at the entry", "[config][errors]")
{
    const TempDir dir;
    const LoadOptions options{dir.plugins("plugins", {"echo"}), true};
    const std::vector<Diagnostic> diagnostics =
        errors_of("include: [conf.d/*.yaml, { x: 1 }, \"\"]\n" + listener_a, dir.path(), options);
    INFO(dump(diagnostics));
    REQUIRE(diagnostics.size() == 2);
    CHECK(diagnostics[0].where.str() == "test.yaml:1:26");
    CHECK(diagnostics[1].where.str() == "test.yaml:1:36");
}
