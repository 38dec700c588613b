// remote-cmd's config parsing and validation (plugins/remote-cmd/settings.hpp).
#include "settings.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <ringd/plugin.hpp>
#include <sys/stat.h>
#include <unistd.h>

using namespace ringd::remote_cmd;
using namespace std::chrono_literals;

namespace {

// The key and message of the ConfigError that parsing `yaml` throws.
std::pair<std::string, std::string> config_error(const std::string& yaml)
{
    try {
        (void)parse_settings(yaml);
    } catch (const ringd::ConfigError& e) {
        return {e.key(), e.what()};
    }
    FAIL("no ConfigError for: " << yaml);
    return {};
}

// A temporary file with `content` and `mode`, removed at scope exit.
struct TempFile {
    std::string path;
    TempFile(const std::string& content, mode_t mode)
    {
        char name[] = "/tmp/remote-cmd-test-XXXXXX";
        const int fd = ::mkstemp(name);
        REQUIRE(fd >= 0);
        REQUIRE(::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()));
        ::fchmod(fd, mode);
        ::close(fd);
        path = name;
    }
    ~TempFile() { ::unlink(path.c_str()); }
};

} // namespace

TEST_CASE("defaults", "[settings]")
{
    const Settings s = parse_settings("{protocol: framed}");
    CHECK(s.protocol == Protocol::framed);
    CHECK(s.allow.empty());
    CHECK_FALSE(s.shell);
    CHECK(s.timeout == 10s);
    CHECK(s.max_output == 1024 * 1024);
    CHECK(s.max_request == 64 * 1024);
    CHECK(s.max_concurrent == 16);
    CHECK(s.max_queued == 64);
    CHECK(s.queue_timeout == 10s);
    CHECK_FALSE(s.token);
    CHECK_FALSE(s.checks_peer());
    CHECK(s.run_as_uid == -1);
    CHECK(s.run_as_gid == -1);
    // An empty allow list is legal but refuses everything: say so at start.
    CHECK_THAT(s.warnings.front(), Catch::Contains("allow list is empty"));
}

TEST_CASE("the shipped listener's config", "[settings]")
{
    const Settings s =
        parse_settings("protocol: json-header\nallow: [ls, pwd, date, uptime, whoami, echo, uname, df]\n");
    CHECK(s.protocol == Protocol::json_header);
    CHECK(s.allow.size() == 8);
}

TEST_CASE("every key", "[settings]")
{
    const Settings s = parse_settings(R"(
protocol: size-prefixed
allow: [ls, /bin/echo]
timeout: 1500ms
max_output: 10MiB
max_request: 4KiB
max_concurrent: 4
max_queued: 0
queue_timeout: 2m
allow_uids: [0, root]
allow_gids: [0]
)");
    CHECK(s.protocol == Protocol::size_prefixed);
    REQUIRE(s.allow.size() == 2);
    CHECK(s.allow[0].command == "ls");
    CHECK(s.allow[0].any_arguments());
    CHECK(s.allow[1].command == "/bin/echo");
    CHECK(s.request_assembly == 5ms);
    CHECK(s.timeout == 1500ms);
    CHECK(s.max_output == 10 * 1024 * 1024);
    CHECK(s.max_request == 4096);
    CHECK(s.max_concurrent == 4);
    CHECK(s.max_queued == 0);
    CHECK(s.queue_timeout == 120s);
    CHECK(*s.allow_uids == std::vector<uint32_t>{0, 0});
    CHECK(*s.allow_gids == std::vector<uint32_t>{0});
    CHECK(s.checks_peer());
}

TEST_CASE("bad values name their key", "[settings]")
{
    CHECK(config_error("{}").first == "protocol");
    CHECK(config_error("{protocol: http}").first == "protocol");
    CHECK(config_error("{protocol: framed, allow: ls}").first == "allow");
    CHECK(config_error("{protocol: framed, allow: [ls -l]}").first == "allow.0");
    CHECK(config_error("{protocol: framed, allow: [bin/ls]}").first == "allow.0");
    CHECK(config_error("{protocol: framed, allow: [[ls]]}").first == "allow.0");
    CHECK(config_error("{protocol: framed, timeout: 10}").first == "timeout");
    CHECK(config_error("{protocol: framed, timeout: 0}").first == "timeout");
    CHECK(config_error("{protocol: framed, timeout: -1s}").first == "timeout");
    CHECK(config_error("{protocol: framed, timeout: 50d}").first == "timeout");
    CHECK(config_error("{protocol: framed, max_output: 2GiB}").first == "max_output");
    CHECK(config_error("{protocol: framed, max_output: lots}").first == "max_output");
    CHECK(config_error("{protocol: framed, max_request: 0}").first == "max_request");
    CHECK(config_error("{protocol: framed, max_concurrent: 0}").first == "max_concurrent");
    CHECK(config_error("{protocol: framed, max_concurrent: 1.5}").first == "max_concurrent");
    CHECK(config_error("{protocol: framed, max_queued: -1}").first == "max_queued");
    CHECK(config_error("{protocol: framed, shell: maybe}").first == "shell");
    CHECK(config_error("{protocol: framed, allow_uids: [no-such-user-xyz]}").first == "allow_uids");
    CHECK(config_error("{protocol: framed, allow_gids: [no-such-group-xyz]}").first == "allow_gids");
    CHECK(config_error("{protocol: framed, run_as: no-such-user-xyz}").first == "run_as");
    const auto unknown = config_error("{protocol: framed, alow: [ls]}");
    CHECK(unknown.first == "alow");
    CHECK_THAT(unknown.second, Catch::Contains("unknown key"));
    CHECK(config_error("[1, 2]").first == "");
    CHECK(config_error("{protocol: framed").first == "");
}

TEST_CASE("allow entries with argument policies", "[settings]")
{
    const Settings s = parse_settings(R"(
protocol: json-header
allow:
  - ls
  - {command: date, args: []}
  - {command: date, args: ["+%s"]}
  - command: df
    args_pattern: '-h|/[a-z/]*'
)");
    REQUIRE(s.allow.size() == 4);
    CHECK(s.allow[0].any_arguments());
    CHECK(s.allow[1].command == "date");
    CHECK(s.allow[1].args == std::vector<std::string>{});
    CHECK(s.allow[2].args == std::vector<std::string>{"+%s"});
    CHECK(s.allow[3].command == "df");
    CHECK(s.allow[3].args_pattern == "-h|/[a-z/]*");
    CHECK_FALSE(s.allow[3].any_arguments());
}

TEST_CASE("bad allow entries name the entry or its field", "[settings]")
{
    const auto error = [](const std::string& entry) {
        return config_error("{protocol: framed, allow: [ls, " + entry + "]}");
    };
    CHECK(error("{args: []}").first == "allow.1");
    CHECK_THAT(error("{args: []}").second, Catch::Contains("needs command"));
    CHECK(error("{command: 'ls -l'}").first == "allow.1.command");
    CHECK(error("{command: date, args: '+%s'}").first == "allow.1.args");
    CHECK(error("{command: date, args: [[x]]}").first == "allow.1.args.0");
    const auto bad_regex = error("{command: df, args_pattern: '(['}");
    CHECK(bad_regex.first == "allow.1.args_pattern");
    CHECK_THAT(bad_regex.second, Catch::Contains("not a valid regular expression"));
    CHECK(error("{command: date, args: [], args_pattern: x}").first == "allow.1");
    const auto unknown = error("{command: date, arguments: []}");
    CHECK(unknown.first == "allow.1.arguments");
    CHECK_THAT(unknown.second, Catch::Contains("unknown allow-entry field"));
    CHECK(config_error("{protocol: json-header, shell: true, allow: [{command: '*', args: []}]}").first == "allow.0");
}

TEST_CASE("request_assembly", "[settings]")
{
    CHECK(parse_settings("{protocol: size-prefixed, request_assembly: 20ms}").request_assembly == 20ms);
    CHECK(config_error("{protocol: json-header, request_assembly: 0}").first == "request_assembly");
    CHECK(config_error("{protocol: json-header, request_assembly: 2s}").first == "request_assembly");
    const auto framed = config_error("{protocol: framed, request_assembly: 5ms}");
    CHECK(framed.first == "request_assembly");
    CHECK_THAT(framed.second, Catch::Contains("json-header and size-prefixed only"));
}

TEST_CASE("the config as a whole: not YAML, not a mapping, or an option name that is not a string", "[settings]")
{
    CHECK_THAT(config_error("{protocol: framed").second, Catch::StartsWith("config is not valid YAML: "));
    CHECK(config_error("[1, 2]").second == "remote-cmd's config must be a mapping");
    // A list or a mapping as a key used to escape as yaml-cpp's "bad conversion", not as a ConfigError.
    CHECK(config_error("{protocol: framed, [allow]: [ls]}") ==
          std::pair<std::string, std::string>{"", "expected option names to be strings"});
    CHECK(config_error("{protocol: framed, ? {a: 1} : x}").second == "expected option names to be strings");
}

TEST_CASE("shell mode needs \"*\" and \"*\" needs shell mode", "[settings]")
{
    CHECK(config_error("{protocol: framed, shell: true, allow: [ls]}").first == "shell");
    CHECK(config_error("{protocol: framed, shell: true}").first == "shell");
    CHECK(config_error("{protocol: framed, allow: ['*']}").first == "allow");
    const Settings s = parse_settings("{protocol: json-header, shell: true, allow: ['*']}");
    CHECK(s.shell);
    bool warned = false;
    for (const auto& w : s.warnings)
        warned = warned || w.find("ARBITRARY shell") != std::string::npos;
    CHECK(warned);
}

TEST_CASE("token_file", "[settings]")
{
    TempFile good("  s3cret-token\n", 0600);
    const Settings s = parse_settings("{protocol: framed, token_file: " + good.path + "}");
    CHECK(*s.token == "s3cret-token");

    TempFile readable("s3cret", 0644);
    CHECK_THAT(config_error("{protocol: framed, token_file: " + readable.path + "}").second,
               Catch::Contains("accessible by other users"));
    TempFile empty(" \n", 0600);
    CHECK_THAT(config_error("{protocol: framed, token_file: " + empty.path + "}").second, Catch::Contains("empty"));
    CHECK(config_error("{protocol: framed, token_file: /nonexistent/token}").first == "token_file");
    CHECK(config_error("{protocol: framed, token_file: relative/token}").first == "token_file");
    CHECK(config_error("{protocol: json-header, token_file: " + good.path + "}").first == "token_file");
}

TEST_CASE("run_as resolves the user", "[settings]")
{
    if (::geteuid() != 0) {
        CHECK(config_error("{protocol: framed, run_as: nobody}").first == "run_as");
        return;
    }
    const Settings s = parse_settings("{protocol: framed, run_as: nobody}");
    CHECK(s.run_as == "nobody");
    CHECK(s.run_as_uid == 65534);
    CHECK(s.run_as_gid == 65534);
}
