// AdminHandler: the admin listener's handler, compiled into ringd and served by its own engine like any plugin
// (no thread of its own, no thread per request). One HTTP/1.1 GET per connection: the head is read with
// HttpRequestParser (bounded at 8 KiB), answered from admin_routes, and the connection closed; a head that is not
// complete within `request_timeout` of the connection's start gets 408.
//
// It is not loaded from a library: the supervisor makes its instance with create_admin_instance(), which hands it
// the AdminContext (the snapshot board) through its constructor instead of through YAML.
#pragma once

#include "observability/admin_routes.hpp"
#include "observability/http_request.hpp"
#include "observability/snapshot.hpp"
#include "plugin_host/plugin.hpp"

#include <chrono>
#include <memory>
#include <ringd/plugin.hpp>

namespace ringd::observability {

struct AdminSettings {
    std::chrono::milliseconds request_timeout{5000};
};

class AdminHandler : public ringd::Handler {
public:
    AdminHandler(const InstanceArgs& args, std::shared_ptr<const AdminContext> context, AdminSettings settings);
    // The SDK's factory, which a library's create() would call: ringd makes this handler itself, with its context,
    // so this only refuses.
    static std::unique_ptr<AdminHandler> create(const InstanceArgs& args);

    bool on_open(Connection conn) override;
    void on_data(Connection conn, std::span<const std::byte> data) override;
    void on_peer_shutdown(Connection conn) override;
    void on_timer(Connection conn, int64_t timer_id, void* arg) override;
    void on_close(Connection conn, ringd_close_reason reason) override;

private:
    struct Exchange {
        HttpRequestParser parser;
        bool answered = false;
    };
    void respond(Connection conn, Exchange& exchange, const HttpResponse& response) const;

    std::shared_ptr<const AdminContext> context_;
    AdminSettings settings_;
};

// The admin handler's descriptor ("admin", ringd's version, stream sockets).
[[nodiscard]] const ringd_plugin_descriptor* admin_descriptor();

// The admin listener's instance for `spec`, built around `context`. Throws plugin_host::PluginConfigError.
[[nodiscard]] std::shared_ptr<plugin_host::PluginInstance>
create_admin_instance(const plugin_host::InstanceSpec& spec, std::shared_ptr<const AdminContext> context,
                      AdminSettings settings);

} // namespace ringd::observability
