// ringdctl's choice of admin address: --admin, RINGD_ADMIN, admin.listen of the config file, the default.
#include "admin_address.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <cstring>

using namespace ringd::ctl;
using ringd::config::Endpoint;

namespace {

std::string ip_of(const Endpoint& endpoint)
{
    char text[INET6_ADDRSTRLEN] = {};
    const void* address =
        endpoint.family() == AF_INET
            ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(&endpoint.address)->sin_addr)
            : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(&endpoint.address)->sin6_addr);
    inet_ntop(endpoint.family(), address, text, sizeof text);
    return text;
}

ConfigFile config_with(std::string text, bool named = false)
{
    return ConfigFile{"/etc/ringd/ringd.yaml", named, std::move(text), {}};
}

ConfigFile unreadable(bool named)
{
    return ConfigFile{"/etc/ringd/ringd.yaml", named, std::nullopt, "No such file or directory"};
}

constexpr const char* listeners = "listeners:\n  - {name: e, listen: tcp://127.0.0.1:8080, plugin: echo-upper}\n";

} // namespace

TEST_CASE("admin URLs take the listen: grammar, tcp and unix only")
{
    CHECK(parse_admin_url("tcp://127.0.0.1:9180", "--admin").family() == AF_INET);
    CHECK(parse_admin_url("tcp://[::1]:9180", "--admin").family() == AF_INET6);
    CHECK(parse_admin_url("unix:///run/ringd/admin.sock", "--admin").unix_path() == "/run/ringd/admin.sock");
    CHECK(parse_admin_url("unix:@ringd-admin", "--admin").is_abstract_unix());
    CHECK_THROWS_MATCHES(
        parse_admin_url("udp://127.0.0.1:9180", "--admin"), UsageError,
        Catch::Message("--admin: the admin listener is tcp:// or unix://, not \"udp://127.0.0.1:9180\""));
    CHECK_THROWS_WITH(parse_admin_url("http://127.0.0.1:9180/", "RINGD_ADMIN"), Catch::StartsWith("RINGD_ADMIN: "));
    CHECK_THROWS_WITH(parse_admin_url("tcp://localhost:9180", "--admin"),
                      Catch::Contains("host names are not resolved"));
    CHECK_THROWS_AS(parse_admin_url("tcp://127.0.0.1:0", "--admin"), UsageError);
}

TEST_CASE("admin.listen is read from the config text")
{
    CHECK(admin_listen_in(std::string(listeners)) == std::nullopt);
    CHECK(admin_listen_in("") == std::nullopt);
    CHECK(admin_listen_in("admin: { listen: tcp://127.0.0.1:9999 }\n" + std::string(listeners)) ==
          "tcp://127.0.0.1:9999");
    CHECK(admin_listen_in("admin:\n  listen: unix:///run/a.sock\n  allow: [10.0.0.0/8]\n") == "unix:///run/a.sock");
    CHECK(admin_listen_in("admin:\n") == std::nullopt); // `admin:` with nothing: ringd reports it, not ringdctl
    CHECK_THROWS_WITH(admin_listen_in("admin: { allow: [127.0.0.1] }"), "admin: has no listen: address");
    CHECK_THROWS_WITH(admin_listen_in("admin: tcp://127.0.0.1:9180"), "admin: is not a mapping");
    CHECK_THROWS_WITH(admin_listen_in("- a\n- b\n"), "not a YAML mapping");
    CHECK_THROWS_WITH(admin_listen_in("admin: {listen: [\n"), Catch::StartsWith("not valid YAML"));
}

TEST_CASE("--admin beats RINGD_ADMIN beats the config file beats the default")
{
    const ConfigFile config = config_with("admin: {listen: tcp://127.0.0.1:7003}\n");
    const AdminAddress by_flag = discover_admin("tcp://127.0.0.1:7001", "tcp://127.0.0.1:7002", config);
    CHECK(by_flag.endpoint.text == "tcp://127.0.0.1:7001");
    CHECK(by_flag.source == "--admin");
    const AdminAddress by_env = discover_admin(std::nullopt, "tcp://127.0.0.1:7002", config);
    CHECK(by_env.endpoint.text == "tcp://127.0.0.1:7002");
    CHECK(by_env.source == "RINGD_ADMIN");
    // Empty values count as not given, as an empty variable usually is meant.
    const AdminAddress by_config = discover_admin("", "", config);
    CHECK(by_config.endpoint.text == "tcp://127.0.0.1:7003");
    CHECK(by_config.source == "admin.listen in /etc/ringd/ringd.yaml");
    const AdminAddress by_default = discover_admin(std::nullopt, std::nullopt, config_with(listeners));
    CHECK(by_default.endpoint.text == "tcp://127.0.0.1:9180");
    CHECK(by_default.source == "the default (/etc/ringd/ringd.yaml has no admin: section, so ringd serves no "
                               "admin listener)");
}

TEST_CASE("a wildcard admin.listen is reached through loopback")
{
    const AdminAddress v4 =
        discover_admin(std::nullopt, std::nullopt, config_with("admin: {listen: tcp://0.0.0.0:9180}"));
    CHECK(ip_of(v4.endpoint) == "127.0.0.1");
    CHECK(v4.endpoint.text == "tcp://127.0.0.1:9180");
    CHECK(v4.source == "admin.listen in /etc/ringd/ringd.yaml, which binds every address");
    const AdminAddress v6 =
        discover_admin(std::nullopt, std::nullopt, config_with("admin: {listen: 'tcp://[::]:9180'}"));
    CHECK(ip_of(v6.endpoint) == "::1");
    CHECK(v6.endpoint.text == "tcp://[::1]:9180");
    // An address given on purpose is used as it is.
    CHECK(ip_of(discover_admin("tcp://0.0.0.0:9180", std::nullopt, config_with("")).endpoint) == "0.0.0.0");
}

TEST_CASE("the default config file may be missing or broken; a file named with -c may not")
{
    const AdminAddress missing = discover_admin(std::nullopt, std::nullopt, unreadable(false));
    CHECK(missing.endpoint.text == "tcp://127.0.0.1:9180");
    CHECK(missing.source == "the default (/etc/ringd/ringd.yaml is not readable: No such file or directory)");
    CHECK_THROWS_MATCHES(discover_admin(std::nullopt, std::nullopt, unreadable(true)), UsageError,
                         Catch::Message("cannot read /etc/ringd/ringd.yaml: No such file or directory"));

    const AdminAddress broken = discover_admin(std::nullopt, std::nullopt, config_with("admin: [1, 2]"));
    CHECK(broken.endpoint.text == "tcp://127.0.0.1:9180");
    CHECK(broken.source == "the default (/etc/ringd/ringd.yaml: admin: is not a mapping)");
    CHECK_THROWS_MATCHES(discover_admin(std::nullopt, std::nullopt, config_with("admin: [1, 2]", true)), UsageError,
                         Catch::Message("/etc/ringd/ringd.yaml: admin: is not a mapping"));
    // Given RINGD_ADMIN, the file is not consulted at all.
    CHECK(discover_admin(std::nullopt, "unix:@x", unreadable(true)).endpoint.is_abstract_unix());
}

TEST_CASE("a malformed address is a usage error wherever it comes from")
{
    CHECK_THROWS_WITH(discover_admin(std::nullopt, "tcp://127.0.0.1", config_with("")),
                      Catch::StartsWith("RINGD_ADMIN: missing :PORT"));
    CHECK_THROWS_WITH(discover_admin(std::nullopt, std::nullopt, config_with("admin: {listen: 'udp://127.0.0.1:1'}")),
                      Catch::StartsWith("admin.listen in /etc/ringd/ringd.yaml: the admin listener is tcp://"));
}
