// Listener construction: plugin instances, sockets, and the equivalence test reload uses.
#include "supervisor/listener_factory.hpp"

#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <thread>

namespace ringd::supervisor {

namespace {

constexpr auto in_use_retry_pause = std::chrono::milliseconds(10);

uint32_t socket_kind(const config::ListenerConfig& l)
{
    return l.endpoint.transport == config::Transport::udp ? RINGD_KIND_DATAGRAM : RINGD_KIND_STREAM;
}

const char* version_of(const plugin_host::PluginLibrary& lib)
{
    return lib.descriptor().version != nullptr ? lib.descriptor().version : "?";
}

bool same_cidrs(const std::vector<config::Cidr>& a, const std::vector<config::Cidr>& b)
{
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (a[i].family != b[i].family || a[i].prefix_len != b[i].prefix_len || a[i].bytes != b[i].bytes) return false;
    }
    return true;
}

} // namespace

std::shared_ptr<plugin_host::PluginLibrary> ListenerFactory::library(const std::filesystem::path& path)
{
    // Opened first and compared by what fstat says of the open file, so the file checked is the file loaded.
    auto file = plugin_host::PluginFile::open(path);
    std::erase_if(libraries_, [](const LoadedBuild& b) { return b.library.expired(); });
    for (LoadedBuild& build : libraries_) {
        auto lib = build.library.lock();
        if (!lib) continue;
        if (lib->overwritten()) {
            if (!build.overwrite_reported) {
                spdlog::warn("plugin file {} was rewritten in place (cp onto it) under the build loaded from it ({}), "
                             "whose code and data changed with it: ringd calls nothing more in that build that it "
                             "can avoid, but connections still open on it may crash ringd. Replace plugin files with "
                             "install(1) or mv, never cp",
                             lib->path().string(), lib->describe_build());
                build.overwrite_reported = true;
            }
            continue;
        }
        if (lib->path() == path && lib->object()->file().identity().same_version(file.identity())) return lib;
    }
    auto lib = plugin_host::PluginLibrary::load(std::move(file), load_options_);
    libraries_.push_back({lib, false});
    return lib;
}

std::vector<std::shared_ptr<plugin_host::PluginInstance>>
ListenerFactory::create_instances(const config::Config& config)
{
    std::vector<std::shared_ptr<plugin_host::PluginInstance>> instances;
    std::vector<config::Diagnostic> errors;
    for (const config::ListenerConfig& l : config.listeners) {
        try {
            auto lib = library(l.plugin_path);
            plugin_host::InstanceSpec spec{l.name, l.plugin_config_yaml, socket_kind(l), workers_, host_};
            instances.push_back(plugin_host::PluginInstance::create(std::move(lib), spec));
        } catch (const plugin_host::PluginConfigError& e) {
            std::string what = "plugin " + l.plugin_path.stem().string() + " rejected its config: ";
            if (!e.key().empty()) what += e.key() + ": ";
            errors.push_back({l.locate_config_key(e.key()), l.name, what + e.what()});
        } catch (const plugin_host::PluginLoadError& e) {
            errors.push_back({l.plugin_where, l.name, e.what()});
        }
    }
    if (!errors.empty()) throw config::ConfigErrors(std::move(errors));
    return instances;
}

std::shared_ptr<engine::ListenerSockets>
ListenerFactory::bind_retrying_while_in_use(const config::Endpoint& endpoint,
                                            std::optional<std::chrono::steady_clock::time_point> until)
{
    using std::chrono::steady_clock;
    const auto started = steady_clock::now();
    for (bool retried = false;; retried = true) {
        try {
            auto sockets = engine::ListenerSockets::bind(endpoint, workers_);
            if (retried) {
                const auto waited =
                    std::chrono::duration_cast<std::chrono::milliseconds>(steady_clock::now() - started);
                spdlog::info("{} was in use for {} ms, then free (a ringd that had just ended?)", endpoint.text,
                             waited.count());
            }
            return sockets;
        } catch (const engine::BindError& e) {
            if (e.error() != EADDRINUSE || !until || steady_clock::now() + in_use_retry_pause > *until) throw;
        }
        std::this_thread::sleep_for(in_use_retry_pause);
    }
}

std::shared_ptr<engine::ListenerSockets>
ListenerFactory::open_sockets(const config::ListenerConfig& l, service::InheritedSockets& inherited,
                              std::optional<std::chrono::steady_clock::time_point> retry_in_use_until)
{
    try {
        if (auto fd = inherited.claim(l.name)) {
            service::SocketExpectation want;
            want.family = l.endpoint.family();
            want.type = l.endpoint.is_stream() ? SOCK_STREAM : SOCK_DGRAM;
            want.address = reinterpret_cast<const sockaddr*>(&l.endpoint.address);
            want.address_len = l.endpoint.address_len;
            if (auto why = service::check_inherited_socket(fd->get(), want)) {
                throw std::runtime_error("socket passed by systemd as '" + l.name + "' does not fit " +
                                         l.endpoint.text + ": " + *why);
            }
            return engine::ListenerSockets::adopt(l.endpoint, std::move(*fd));
        }
        auto sockets = bind_retrying_while_in_use(l.endpoint, retry_in_use_until);
        sockets->apply_unix_mode(l.unix_mode);
        return sockets;
    } catch (const std::runtime_error& e) {
        throw config::ConfigErrors({config::Diagnostic{l.where, l.name, e.what()}});
    }
}

bool same_service(const config::ListenerConfig& a, const config::ListenerConfig& b)
{
    return a.name == b.name && a.endpoint.same_address(b.endpoint) && a.plugin_path == b.plugin_path &&
           a.plugin_config_yaml == b.plugin_config_yaml && same_cidrs(a.allow, b.allow) && same_cidrs(a.deny, b.deny) &&
           a.limits.max_connections == b.limits.max_connections && a.limits.idle_timeout == b.limits.idle_timeout &&
           a.limits.max_output_buffer == b.limits.max_output_buffer &&
           a.limits.outbound_limit() == b.limits.outbound_limit() &&
           a.limits.max_connections_per_source == b.limits.max_connections_per_source &&
           a.limits.connection_rate_per_source == b.limits.connection_rate_per_source &&
           a.limits.source_prefix_v4 == b.limits.source_prefix_v4 &&
           a.limits.source_prefix_v6 == b.limits.source_prefix_v6 &&
           a.limits.max_tracked_sources == b.limits.max_tracked_sources && a.unix_mode == b.unix_mode &&
           a.access_log == b.access_log && a.proxy_protocol == b.proxy_protocol &&
           same_cidrs(a.proxy_trusted, b.proxy_trusted) && a.proxy_timeout == b.proxy_timeout;
}

void log_build_change(const engine::Listener& old, const engine::Listener& fresh)
{
    const plugin_host::PluginLibrary& was = old.plugin()->library();
    const plugin_host::PluginLibrary& now = fresh.plugin()->library();
    if (&was == &now) return;
    // An overwritten build's name and version lie in memory that changed under it: its path says enough.
    const std::string previous =
        was.overwritten() ? was.path().string() : fmt::format("plugin {} {}", was.descriptor().name, version_of(was));
    spdlog::info("reload: {} switches builds: new connections get plugin {} {} ({}), open ones finish on {} ({})",
                 fresh.name(), now.descriptor().name, version_of(now), now.describe_build(), previous,
                 was.describe_build());
}

} // namespace ringd::supervisor
