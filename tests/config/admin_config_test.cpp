// The top-level `admin:` and `drain_grace`: defaults, every key, and what is refused (with file:line:col).
#include "config/config.hpp"
#include "test_support.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>

using namespace ringd::config;
using namespace ringd::config::test;
using namespace std::chrono_literals;

namespace {

const std::string listeners = "listeners:\n"
                              "  - name: echo\n"
                              "    listen: tcp://127.0.0.1:8080\n"
                              "    plugin: echo\n";

struct Fixture {
    TempDir dir;
    LoadOptions options;
    Fixture() { options.plugin_dir_override = dir.plugins("plugins", {"echo"}); }
    Config load(const std::string& head) const
    {
        return parse_config(head + listeners, "test.yaml", dir.path(), options);
    }
    std::string errors(const std::string& head) const { return dump(errors_of(head + listeners, dir.path(), options)); }
};

bool admits(const std::vector<Cidr>& allow, const char* address)
{
    sockaddr_storage ss{};
    if (std::string(address).find(':') != std::string::npos) {
        auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
        in6.sin6_family = AF_INET6;
        REQUIRE(inet_pton(AF_INET6, address, &in6.sin6_addr) == 1);
    } else {
        auto& in = reinterpret_cast<sockaddr_in&>(ss);
        in.sin_family = AF_INET;
        REQUIRE(inet_pton(AF_INET, address, &in.sin_addr) == 1);
    }
    for (const Cidr& c : allow) {
        if (c.contains(reinterpret_cast<const sockaddr*>(&ss))) return true;
    }
    return false;
}

} // namespace

TEST_CASE("no admin: section, no admin listener; drain_grace defaults to 5s", "[config][admin]")
{
    const Fixture f;
    const Config config = f.load("");
    CHECK_FALSE(config.admin.has_value());
    CHECK(config.drain_grace == 5s);
    CHECK(f.load("drain_grace: 250ms\n").drain_grace == 250ms);
}

TEST_CASE("a tcp admin listener admits loopback peers only unless allow says otherwise", "[config][admin]")
{
    const Fixture f;
    const Config config = f.load("admin: {listen: tcp://0.0.0.0:9180}\n");
    REQUIRE(config.admin);
    CHECK(config.admin->endpoint.text == "tcp://0.0.0.0:9180");
    CHECK(config.admin->request_timeout == 5s);
    CHECK(admits(config.admin->allow, "127.0.0.1"));
    CHECK(admits(config.admin->allow, "127.9.9.9"));
    CHECK(admits(config.admin->allow, "::1"));
    CHECK_FALSE(admits(config.admin->allow, "10.0.0.1"));
    REQUIRE(config.warnings.size() == 1);
    CHECK(config.warnings[0].str().starts_with("test.yaml:1:17: warning: listener 'admin': the admin listener binds "
                                               "tcp://0.0.0.0:9180, not a loopback address"));

    const Config open = f.load("admin:\n  listen: tcp://127.0.0.1:9180\n  allow: [10.0.0.0/8]\n"
                               "  deny: [10.1.0.0/16]\n  request_timeout: 250ms\n");
    CHECK(admits(open.admin->allow, "10.2.3.4"));
    CHECK_FALSE(admits(open.admin->allow, "127.0.0.1"));
    CHECK(open.admin->deny.size() == 1);
    CHECK(open.admin->request_timeout == 250ms);
    CHECK(open.warnings.empty());
}

TEST_CASE("a unix admin listener has mode 0660 unless set", "[config][admin]")
{
    const Fixture f;
    const Config config = f.load("admin: {listen: unix:///run/ringd/admin.sock}\n");
    CHECK(config.admin->unix_mode == 0660);
    CHECK(config.admin->allow.empty());
    CHECK(f.load("admin: {listen: unix:///run/ringd/admin.sock, mode: \"0600\"}\n").admin->unix_mode == 0600);
    CHECK(f.load("admin: {listen: unix:@ringd-admin}\n").warnings.empty());
}

TEST_CASE("admin: mistakes are reported at their place", "[config][admin]")
{
    const Fixture f;
    CHECK(f.errors("admin: {listen: udp://127.0.0.1:9180}\n") ==
          "test.yaml:1:17: listener 'admin': the admin listener speaks HTTP over a stream: expected tcp:// or "
          "unix://, got \"udp://127.0.0.1:9180\"\n");
    CHECK(f.errors("admin: {}\n") == "test.yaml:1:8: listener 'admin': missing required key 'listen' in admin\n");
    CHECK(f.errors("admin: tcp://127.0.0.1:9180\n").find("test.yaml:1:8: listener 'admin': expected") == 0);
    CHECK(f.errors("admin: {listen: tcp://127.0.0.1:9180, request_timeout: 11m}\n") ==
          "test.yaml:1:56: listener 'admin': expected a request_timeout from 10ms to 10m, got \"11m\"\n");
    CHECK(f.errors("admin: {listen: tcp://127.0.0.1:8080}\n") ==
          "test.yaml:1:17: listener 'admin': listen address \"tcp://127.0.0.1:8080\" is already used by listener "
          "'echo' at test.yaml:4:13\n");
    CHECK(f.errors("admin: {listen: \"unix:///run/a.sock\", allow: [127.0.0.1]}\n")
              .find("'allow' cannot be used on a unix socket admin listener") != std::string::npos);
    CHECK(f.errors("drain_grace: soon\n").find("test.yaml:1:14:") == 0);
}

TEST_CASE("no listener may be called admin", "[config][admin]")
{
    const Fixture f;
    const auto errors = dump(
        errors_of("listeners:\n  - {name: admin, listen: tcp://127.0.0.1:1, plugin: echo}\n", f.dir.path(), f.options));
    CHECK(errors == "test.yaml:2:12: listener 'admin': the name 'admin' is reserved for the admin listener "
                    "(top-level 'admin:'); choose another name\n");
}
