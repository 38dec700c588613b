// The admin listener's connections: read one request head, answer it, close.
#include "observability/admin_handler.hpp"

#include <string>

namespace ringd::observability {

AdminHandler::AdminHandler(const InstanceArgs& args, std::shared_ptr<const AdminContext> context,
                           AdminSettings settings)
    : Handler(args), context_(std::move(context)), settings_(settings)
{
}

std::unique_ptr<AdminHandler> AdminHandler::create(const InstanceArgs&)
{
    throw ConfigError("", "the admin handler is built into ringd and configured by its top-level 'admin:'");
}

bool AdminHandler::on_open(Connection conn)
{
    conn.set_user(std::make_unique<Exchange>().release()); // owned by the connection until on_close
    // Whatever the client does, the request head has this long: a client that trickles bytes (or none) is cut.
    if (conn.start_timer(uint64_t(settings_.request_timeout.count())) < 0) return false;
    return true;
}

void AdminHandler::on_data(Connection conn, std::span<const std::byte> data)
{
    Exchange& exchange = *conn.user<Exchange>();
    if (exchange.answered) return;
    const std::string_view bytes(reinterpret_cast<const char*>(data.data()), data.size());
    switch (exchange.parser.feed(bytes)) {
    case HttpRequestParser::State::incomplete:
        return;
    case HttpRequestParser::State::failed:
        return respond(conn, exchange, error_response(exchange.parser.error_status(), exchange.parser.error_reason()));
    case HttpRequestParser::State::complete:
        return respond(conn, exchange, answer(exchange.parser.request(), *context_));
    }
}

void AdminHandler::on_peer_shutdown(Connection conn)
{
    Exchange& exchange = *conn.user<Exchange>();
    if (!exchange.answered && exchange.parser.started()) {
        return respond(conn, exchange, error_response(400, "the connection ended before the request head did"));
    }
    conn.close();
}

void AdminHandler::on_timer(Connection conn, int64_t, void*)
{
    Exchange& exchange = *conn.user<Exchange>();
    if (exchange.answered) return;
    respond(
        conn, exchange,
        error_response(408, "no complete request within " + std::to_string(settings_.request_timeout.count()) + " ms"));
}

void AdminHandler::on_close(Connection conn, ringd_close_reason)
{
    const std::unique_ptr<Exchange> exchange(conn.user<Exchange>());
    conn.set_user(nullptr);
}

void AdminHandler::respond(Connection conn, Exchange& exchange, const HttpResponse& response) const
{
    exchange.answered = true;
    (void)conn.send(serialize(response));
    (void)conn.close(); // after the response is flushed; input that follows is read and dropped
}

const ringd_plugin_descriptor* admin_descriptor()
{
    return ringd::detail::Trampolines<AdminHandler>::descriptor("admin", ringd_version(), RINGD_KIND_STREAM);
}

std::shared_ptr<plugin_host::PluginInstance> create_admin_instance(const plugin_host::InstanceSpec& spec,
                                                                   std::shared_ptr<const AdminContext> context,
                                                                   AdminSettings settings)
{
    // One library object per process is enough, but one per instance costs nothing (nothing is loaded).
    auto library = plugin_host::PluginLibrary::builtin("admin", admin_descriptor());
    return plugin_host::PluginInstance::create_builtin(std::move(library), spec, [&](const ringd_instance_args& raw) {
        const InstanceArgs args{&raw, raw.listener_name, std::string_view(raw.config_yaml, raw.config_len),
                                raw.socket_kind, raw.worker_count};
        return static_cast<void*>(static_cast<Handler*>(new AdminHandler(args, context, settings)));
    });
}

} // namespace ringd::observability
