// Choosing the admin listener's address; see admin_address.hpp.
#include "admin_address.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <yaml-cpp/yaml.h>

namespace ringd::ctl {
namespace {

// ringd binds a wildcard address on every interface; a client has to pick one, and loopback is always there.
// Returns the URL the endpoint now stands for.
std::string reach_wildcard_through_loopback(config::Endpoint& endpoint, const std::string& url)
{
    if (endpoint.family() == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&endpoint.address);
        if (in->sin_addr.s_addr != htonl(INADDR_ANY)) return url;
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return "tcp://127.0.0.1:" + std::to_string(ntohs(in->sin_port));
    }
    if (endpoint.family() == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&endpoint.address);
        if (std::memcmp(&in6->sin6_addr, &in6addr_any, sizeof in6addr_any) != 0) return url;
        in6->sin6_addr = in6addr_loopback;
        return "tcp://[::1]:" + std::to_string(ntohs(in6->sin6_port));
    }
    return url;
}

AdminAddress from_config_text(const ConfigFile& config)
{
    const std::optional<std::string> listen = admin_listen_in(*config.text);
    if (!listen) {
        return {parse_admin_url(default_admin_url, "the default"),
                "the default (" + config.path + " has no admin: section, so ringd serves no admin listener)"};
    }
    const std::string where = "admin.listen in " + config.path;
    config::Endpoint endpoint = parse_admin_url(*listen, where);
    const std::string url = reach_wildcard_through_loopback(endpoint, *listen);
    endpoint.text = url;
    return {endpoint, url == *listen ? where : where + ", which binds every address"};
}

} // namespace

config::Endpoint parse_admin_url(std::string_view url, std::string_view what)
{
    config::Endpoint endpoint;
    try {
        endpoint = config::parse_endpoint(url);
    } catch (const config::ParseError& e) {
        throw UsageError(std::string(what) + ": " + e.what());
    }
    if (endpoint.transport == config::Transport::udp)
        throw UsageError(std::string(what) + ": the admin listener is tcp:// or unix://, not \"" + std::string(url) +
                         "\"");
    return endpoint;
}

std::optional<std::string> admin_listen_in(const std::string& yaml_text)
{
    YAML::Node root;
    try {
        root = YAML::Load(yaml_text);
    } catch (const YAML::Exception& e) {
        throw std::runtime_error("not valid YAML: " + e.msg);
    }
    if (root.IsNull()) return std::nullopt;
    if (!root.IsMap()) throw std::runtime_error("not a YAML mapping");
    const YAML::Node admin = root["admin"];
    if (!admin.IsDefined() || admin.IsNull()) return std::nullopt;
    if (!admin.IsMap()) throw std::runtime_error("admin: is not a mapping");
    const YAML::Node listen = admin["listen"];
    if (!listen.IsDefined() || !listen.IsScalar()) throw std::runtime_error("admin: has no listen: address");
    return listen.Scalar();
}

AdminAddress discover_admin(std::optional<std::string_view> flag, std::optional<std::string_view> env,
                            const ConfigFile& config)
{
    if (flag && !flag->empty()) return {parse_admin_url(*flag, "--admin"), "--admin"};
    if (env && !env->empty()) return {parse_admin_url(*env, "RINGD_ADMIN"), "RINGD_ADMIN"};
    if (!config.text) {
        if (config.named_by_user) throw UsageError("cannot read " + config.path + ": " + config.read_error);
        return {parse_admin_url(default_admin_url, "the default"),
                "the default (" + config.path + " is not readable: " + config.read_error + ")"};
    }
    try {
        return from_config_text(config);
    } catch (const UsageError&) {
        throw;
    } catch (const std::exception& e) {
        // A config file ringdctl cannot make sense of is the daemon's business to report; only one the user
        // named on purpose stops ringdctl.
        if (config.named_by_user) throw UsageError(config.path + ": " + e.what());
        return {parse_admin_url(default_admin_url, "the default"),
                "the default (" + config.path + ": " + e.what() + ")"};
    }
}

} // namespace ringd::ctl
