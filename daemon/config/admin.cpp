// Reading the top-level `admin:` (the admin listener: /metrics, /healthz, /status), and the listener name it
// keeps for itself.
#include "config/listener.hpp"
#include "config/units.hpp"

#include <arpa/inet.h>
#include <array>
#include <netinet/in.h>
#include <string_view>

namespace ringd::config::detail {
namespace {

constexpr std::array<std::string_view, 5> admin_keys{"listen", "allow", "deny", "mode", "request_timeout"};
constexpr auto min_request_timeout = std::chrono::milliseconds(10);
constexpr auto max_request_timeout = std::chrono::minutes(10);

bool is_loopback(const Endpoint& endpoint)
{
    if (endpoint.family() == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(endpoint.address);
        return (ntohl(in.sin_addr.s_addr) >> 24) == 127;
    }
    if (endpoint.family() == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(endpoint.address);
        return IN6_IS_ADDR_LOOPBACK(&in6.sin6_addr);
    }
    return true; // a unix socket never leaves the host
}

// Without `allow`, a tcp admin listener admits loopback peers only, whatever address it binds.
std::vector<Cidr> loopback_ranges()
{
    return {parse_cidr("127.0.0.0/8"), parse_cidr("::1/128")};
}

void read_listen(Reporter& reporter, const Field& field, AdminConfig& admin, ListenerDraft& draft)
{
    auto endpoint = read_parsed(reporter, field, "a listen address like tcp://127.0.0.1:9180", parse_endpoint);
    if (!endpoint) return;
    if (!endpoint->is_stream()) {
        reporter.error(field.value_mark(), "the admin listener speaks HTTP over a stream: expected tcp:// or unix://, "
                                           "got " +
                                               describe(field.value));
        return;
    }
    admin.endpoint = *endpoint;
    draft.config.endpoint = *endpoint;
    draft.listen_where = reporter.at(field.value_mark());
    if (!is_loopback(*endpoint))
        reporter.warn(field.value_mark(), "the admin listener binds " + endpoint->text +
                                              ", not a loopback address: /metrics and /status are then reachable "
                                              "from the network for every peer 'allow' admits (without 'allow': "
                                              "loopback peers only)");
}

void read_access(Reporter& reporter, const Fields& fields, AdminConfig& admin, ListenerDraft& draft)
{
    for (const char* key : {"allow", "deny"}) {
        const Field* f = fields.find(key);
        if (f == nullptr) continue;
        if (draft.listen_where && admin.endpoint.is_unix())
            reporter.error(f->key_node.Mark(), "'" + f->key +
                                                   "' cannot be used on a unix socket admin listener; restrict "
                                                   "access with the socket file's 'mode' instead");
        const bool allow = f->key == "allow";
        std::vector<RangeEntry>& entries = allow ? draft.allow_entries : draft.deny_entries;
        entries = read_ranges(reporter, *f);
        (allow ? draft.allow_where : draft.deny_where) = reporter.at(f->key_node.Mark());
        for (const RangeEntry& entry : entries)
            (allow ? admin.allow : admin.deny).push_back(entry.cidr);
    }
    if (fields.find("allow") == nullptr && draft.listen_where && !admin.endpoint.is_unix())
        admin.allow = loopback_ranges();
}

void read_settings(Reporter& reporter, const Fields& fields, AdminConfig& admin, const ListenerDraft& draft)
{
    if (const Field* f = fields.find("mode"); f != nullptr) {
        if (draft.listen_where && (!admin.endpoint.is_unix() || admin.endpoint.is_abstract_unix()))
            reporter.error(f->key_node.Mark(), "'mode' applies only to a unix:///path admin listener (" +
                                                   admin.endpoint.text + " has no socket file)");
        if (auto mode = read_parsed(reporter, *f, "permission bits like 0660", parse_file_mode))
            admin.unix_mode = *mode;
    }
    if (const Field* f = fields.find("request_timeout"); f != nullptr) {
        const auto value = read_parsed(reporter, *f, "a duration like 5s", parse_duration);
        if (value && (*value < min_request_timeout || *value > max_request_timeout))
            reporter.error(f->value_mark(), "expected a request_timeout from 10ms to 10m, got " + describe(f->value));
        else if (value)
            admin.request_timeout = *value;
    }
}

} // namespace

std::optional<AdminConfig> read_admin(Reporter& reporter, const Field& field, ListenerDraft& draft)
{
    reporter.set_listener(std::string(admin_listener_name));
    const std::optional<Fields> fields = read_mapping(reporter, field.value, field.value_mark(), "admin", admin_keys);
    std::optional<AdminConfig> admin;
    if (fields) {
        admin.emplace();
        admin->where = reporter.at(field.value_mark());
        draft.config.name = admin_listener_name;
        draft.config.where = admin->where;
        if (const Field* listen = fields->find("listen"); listen != nullptr) {
            read_listen(reporter, *listen, *admin, draft);
        } else {
            reporter.error(field.value_mark(), "missing required key 'listen' in admin");
        }
        read_access(reporter, *fields, *admin, draft);
        read_settings(reporter, *fields, *admin, draft);
    }
    reporter.set_listener({});
    return admin;
}

void check_reserved_names(const std::vector<ListenerDraft>& listeners, std::vector<Diagnostic>& sink)
{
    for (const ListenerDraft& l : listeners) {
        if (l.name_where && l.config.name == admin_listener_name)
            sink.push_back(Diagnostic{*l.name_where, l.config.name,
                                      "the name 'admin' is reserved for the admin listener (top-level 'admin:'); "
                                      "choose another name"});
    }
}

} // namespace ringd::config::detail
