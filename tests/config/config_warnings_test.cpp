// Warnings: configs that are valid but almost certainly not what was meant. Each rule must fire at the exact
// file:line:col with its message, must stay silent on the nearby configs that are fine, and must never make a
// config fail to load.
#include "config/config.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>

using namespace ringd::config;
using namespace ringd::config::test;

namespace {

LoadOptions no_plugin_files()
{
    LoadOptions options;
    options.check_plugin_files = false;
    return options;
}

std::vector<Diagnostic> warnings_of(const std::string& yaml)
{
    const TempDir dir;
    return parse_config(yaml, "test.yaml", dir.path(), no_plugin_files()).warnings;
}

// Listener 'a' on lines 1-4 at `listen`, with `extra` lines (indented 4) from line 5 on.
std::string listener(const std::string& listen, const std::string& extra = "", const std::string& plugin = "echo")
{
    return "listeners:\n  - name: a\n    listen: " + listen + "\n    plugin: " + plugin + "\n" + extra;
}

const std::string tcp4 = "tcp://127.0.0.1:8080";

struct Warned {
    std::string yaml;
    std::string where;   // line:col in test.yaml
    std::string message; // a substring of the message
};

std::vector<Warned> warned_configs()
{
    return {
        // CIDR with host bits set
        {listener(tcp4, "    allow: [10.1.2.3/8]\n"), "5:13", "10.1.2.3/8 has host bits set; it matches 10.0.0.0/8"},
        {listener(tcp4, "    deny: [\"fd00::1/8\"]\n"), "5:12", "fd00::1/8 has host bits set; it matches fd00::/8"},
        {listener(tcp4, "    deny: [192.168.1.1/24]\n"), "5:12", "it matches 192.168.1.0/24"},
        // The same range twice in one list
        {listener(tcp4, "    allow: [10.0.0.0/8, 127.0.0.1, 10.0.0.0/8]\n"), "5:36",
         "'allow' lists 10.0.0.0/8 twice (also at line 5); was another range meant?"},
        {listener(tcp4, "    deny:\n      - 10.0.0.0/8\n      - 10.0.0.0/8\n"), "7:9", "'deny' lists 10.0.0.0/8 twice"},
        // An allow entry a deny covers
        {listener(tcp4, "    allow: [127.0.0.0/8, 10.1.0.0/16]\n    deny: [10.0.0.0/8]\n"), "5:26",
         "allow entry 10.1.0.0/16 admits nobody: deny entry 10.0.0.0/8 (line 6) covers it, and 'deny' wins"},
        {listener(tcp4, "    allow: [127.0.0.0/8, 10.0.0.0/8]\n    deny: [10.0.0.0/9, 10.128.0.0/9]\n"), "5:26",
         "allow entry 10.0.0.0/8 admits nobody: the 'deny' entries together cover it, and 'deny' wins"},
        {listener(tcp4, "    allow: [127.0.0.1]\n    deny: [127.0.0.1/32]\n"), "5:13", "admits nobody"},
        {listener(tcp4, "    allow: [127.0.0.1]\n    deny: [\"::ffff:127.0.0.0/104\"]\n"), "5:13",
         "deny entry ::ffff:127.0.0.0/104 (line 6) covers it"},
        // A deny that refuses everyone
        {listener(tcp4, "    deny: [10.0.0.0/8, 0.0.0.0/0]\n"), "5:24",
         "deny entry 0.0.0.0/0 refuses every peer (an IPv4 socket: only IPv4 peers): nobody can reach " + tcp4},
        {listener(tcp4, "    deny: [\"::/0\"]\n"), "5:12", "deny entry ::/0 refuses every peer"},
        {listener(tcp4, "    deny: [0.0.0.0/1, 128.0.0.0/1]\n"), "5:5",
         "the 'deny' entries together refuse every peer"},
        {listener("tcp://[::]:8080", "    deny: [\"::/0\"]\n"), "5:12",
         "deny entry ::/0 refuses every peer: nobody can reach tcp://[::]:8080"},
        {listener("udp://127.0.0.1:5353", "    deny: [0.0.0.0/0]\n"), "5:12", "refuses every peer"},
        // No allow entry can match a peer of this listener
        {listener(tcp4, "    allow: [\"::1\", \"fd00::/8\"]\n"), "5:5",
         "no 'allow' entry can match a peer of " + tcp4 + " (an IPv4 socket: only IPv4 peers): nobody is admitted"},
        // limits on a datagram listener
        {listener("udp://127.0.0.1:5353", "    limits: { idle_timeout: 5s }\n"), "5:5",
         "'limits' has no effect on a udp listener (udp://127.0.0.1:5353)"},
        // access_log on a datagram listener (only when written there, not inherited from the top level)
        {listener("udp://127.0.0.1:5353", "    access_log: on\n"), "5:5",
         "'access_log' has no effect on a udp listener (udp://127.0.0.1:5353): it records connections"},
        // shutdown_timeout 0
        {"shutdown_timeout: 0\n" + listener(tcp4), "1:19", "shutdown_timeout 0 resets every closing connection"},
        // remote-cmd: idle_timeout not longer than queue_timeout
        {listener(tcp4, "    limits: { idle_timeout: 5s }\n", "remote-cmd"), "5:29",
         "idle_timeout 5s is not longer than remote-cmd's queue_timeout 10s (its default): a request waiting for a "
         "free command slot is not activity"},
        {"limits: { idle_timeout: 2s }\n" + listener(tcp4, "", "remote-cmd"), "1:25",
         "idle_timeout 2s is not longer than remote-cmd's queue_timeout 10s"},
        {listener(tcp4, "    limits: { idle_timeout: 30s }\n    config: { protocol: framed, queue_timeout: 30s }\n",
                  "remote-cmd"),
         "6:33",
         "idle_timeout 30s is not longer than remote-cmd's queue_timeout 30s: a request waiting for a free command "
         "slot "
         "is not activity, so its connection is closed as idle before the request runs or is answered \"busy\"; make "
         "idle_timeout longer (idle_timeout is set at test.yaml:5:29)"},
        {listener(tcp4, "    config:\n      queue_timeout: 90000ms\n", "/opt/ringd/remote-cmd.so"), "6:7",
         "idle_timeout 60s is not longer than remote-cmd's queue_timeout 90s"},
        // tcp-proxy: buffer above max_output_buffer
        {listener(tcp4, "    config: { upstreams: [tcp://127.0.0.1:9], buffer: 2MiB }\n", "tcp-proxy"), "5:47",
         "max_output_buffer 1MiB is below tcp-proxy's buffer 2MiB: ringd stops reading a connection whose own output "
         "is above max_output_buffer, which for a proxy is the wrong side"},
        {listener(tcp4, "    limits: { max_output_buffer: 64KiB }\n    config: { upstreams: [tcp://127.0.0.1:9] }\n",
                  "tcp-proxy"),
         "5:34", "max_output_buffer 64KiB is below tcp-proxy's buffer 256KiB (its default)"},
        {listener(tcp4,
                  "    limits: { max_output_buffer: 100KiB }\n    config: { upstreams: [tcp://127.0.0.1:9], buffer: "
                  "200KiB }\n",
                  "tcp-proxy"),
         "6:47", "make buffer at most max_output_buffer (max_output_buffer is set at test.yaml:5:34)"},
    };
}

// Configs next to the ones above that are fine.
std::vector<std::string> quiet_configs()
{
    return {
        listener(tcp4, "    allow: [10.0.0.0/8, 127.0.0.1, \"::1\", \"fd00::/8\"]\n"),
        listener(tcp4, "    allow: [127.0.0.0/8, \"::1/128\"]\n    deny: [127.0.0.2/32]\n"), // docs' example
        listener(tcp4, "    allow: [10.0.0.0/8]\n    deny: [10.0.0.0/9]\n"),                 // partly denied
        listener(tcp4, "    allow: [10.0.0.0/8]\n    deny: [10.0.0.0/9, 10.128.0.0/10]\n"),
        listener(tcp4, "    deny: [\"fd00::/8\", 0.0.0.0/1]\n"), // half of IPv4 is still admitted
        listener(tcp4, "    allow: [\"::/0\"]\n"),               // matches IPv4 peers in their mapped form
        // An IPv6 socket passed by systemd may be dual-stack: IPv4 entries count there.
        listener("tcp://[::]:8080", "    allow: [10.0.0.0/8]\n"),
        listener("tcp://[::]:8080", "    deny: [0.0.0.0/0]\n"), listener("udp://127.0.0.1:5353"),
        "limits: { idle_timeout: 5s }\n" + listener("udp://127.0.0.1:5353"), // top-level defaults are for all
        "shutdown_timeout: 1s\n" + listener(tcp4),
        // remote-cmd: a running command counts as activity, so its `timeout` may be longer than idle_timeout.
        listener(tcp4, "    limits: { idle_timeout: 5s }\n    config: { timeout: 60s, queue_timeout: 4s }\n",
                 "remote-cmd"),
        listener(tcp4, "    limits: { idle_timeout: 5s }\n    config: { max_queued: 0 }\n", "remote-cmd"),
        listener(tcp4, "    limits: { idle_timeout: 0 }\n", "remote-cmd"), listener(tcp4, "", "remote-cmd"),
        listener(tcp4, "    limits: { idle_timeout: 5s }\n    config: { queue_timeout: soon }\n", "remote-cmd"),
        listener(tcp4, "    limits: { idle_timeout: 5s }\n    config: { queue_timeout: 30s }\n"), // not remote-cmd
        // tcp-proxy: buffer at most max_output_buffer, or a value the plugin itself rejects
        listener(tcp4, "    config: { upstreams: [tcp://127.0.0.1:9] }\n", "tcp-proxy"),
        listener(tcp4, "    config: { upstreams: [tcp://127.0.0.1:9], buffer: 1MiB }\n", "tcp-proxy"),
        listener(tcp4, "    limits: { max_output_buffer: 4MiB }\n    config: { upstreams: [], buffer: 4MiB }\n",
                 "tcp-proxy"),
        listener(tcp4, "    config: { buffer: lots }\n", "tcp-proxy"),
        listener(tcp4, "    config: { buffer: 2MiB }\n"), // not tcp-proxy
    };
}

} // namespace

TEST_CASE("each warning is reported at file:line:col with what it means", "[config][warnings]")
{
    for (const Warned& c : warned_configs()) {
        INFO("config:\n" << c.yaml);
        const std::vector<Diagnostic> warnings = warnings_of(c.yaml);
        INFO("warnings:\n" << dump(warnings));
        CHECK(warnings.size() == 1); // every row is checked, even after one fails
        if (warnings.size() != 1) continue;
        const Diagnostic& w = warnings.front();
        CHECK(w.severity == Severity::warning);
        CHECK(w.where.str() == "test.yaml:" + c.where);
        CHECK_THAT(w.message, Catch::Contains(c.message));
        CHECK(w.str().starts_with("test.yaml:" + c.where + ": warning: "));
    }
}

TEST_CASE("configs near each warning's rule get none", "[config][warnings]")
{
    for (const std::string& yaml : quiet_configs()) {
        INFO("config:\n" << yaml);
        const std::vector<Diagnostic> warnings = warnings_of(yaml);
        CHECK(dump(warnings).empty());
    }
}

TEST_CASE("warnings name their listener and come in file order", "[config][warnings]")
{
    const std::string yaml = "shutdown_timeout: 0\n"
                             "listeners:\n"
                             "  - name: first\n"
                             "    listen: tcp://127.0.0.1:8080\n"
                             "    plugin: echo\n"
                             "    deny: [10.1.2.3/8, 0.0.0.0/0]\n";
    const std::vector<Diagnostic> warnings = warnings_of(yaml);
    INFO(dump(warnings));
    REQUIRE(warnings.size() == 3);
    CHECK(warnings[0].str().starts_with("test.yaml:1:19: warning: shutdown_timeout 0"));
    CHECK(warnings[1].str() == "test.yaml:6:12: warning: listener 'first': 10.1.2.3/8 has host bits set; it matches "
                               "10.0.0.0/8 (write the network address, or a bare address for one host)");
    CHECK(warnings[2].str().starts_with("test.yaml:6:24: warning: listener 'first': deny entry 0.0.0.0/0 refuses"));
}

TEST_CASE("warnings in an included file name that file", "[config][warnings][include]")
{
    const TempDir dir;
    dir.write("conf.d/b.yaml", "listeners:\n  - name: b\n    listen: tcp://127.0.0.1:8081\n    plugin: echo\n"
                               "    allow: [127.1.2.3/8]\n");
    const Config config =
        parse_config("include: conf.d/*.yaml\n" + listener(tcp4), "ringd.yaml", dir.path(), no_plugin_files());
    REQUIRE(config.warnings.size() == 1);
    CHECK(config.warnings[0].where.str() == (dir.path() / "conf.d/b.yaml").string() + ":5:13");
    CHECK(config.warnings[0].listener == "b");
}

TEST_CASE("a config with errors carries its warnings alongside, apart from the errors", "[config][warnings]")
{
    const TempDir dir;
    try {
        (void)parse_config(listener(tcp4, "    allow: [10.1.2.3/8]\n    limits: { max_connections: 0 }\n"), "test.yaml",
                           dir.path(), no_plugin_files());
        FAIL("expected ConfigErrors");
    } catch (const ConfigErrors& e) {
        REQUIRE(e.diagnostics().size() == 1);
        CHECK(e.diagnostics()[0].severity == Severity::error);
        CHECK_THAT(e.what(), !Catch::Contains("host bits"));
        REQUIRE(e.warnings().size() == 1);
        CHECK(e.warnings()[0].str().starts_with("test.yaml:5:13: warning: listener 'a': 10.1.2.3/8 has host bits"));
    }
}
