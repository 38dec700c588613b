// Binding listener sockets, and the Listener's admission checks.
#include "engine/listener.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/un.h>

namespace ringd::engine {

namespace {

[[noreturn]] void fail(const config::Endpoint& ep, const char* what, int err)
{
    std::string msg = "cannot " + std::string(what) + " " + ep.text + ": " + std::strerror(err);
    if (err == EADDRINUSE) msg += " (another process is listening there)";
    if (err == EACCES && !ep.is_unix()) msg += " (ports below 1024 need CAP_NET_BIND_SERVICE)";
    throw BindError(err, msg);
}

int socket_type(const config::Endpoint& ep)
{
    return ep.transport == config::Transport::udp ? SOCK_DGRAM : SOCK_STREAM;
}

void set_int_option(int fd, int level, int name, int value, const config::Endpoint& ep, const char* what)
{
    if (setsockopt(fd, level, name, &value, sizeof value) != 0) fail(ep, what, errno);
}

UniqueFd open_socket(const config::Endpoint& ep)
{
    UniqueFd fd(::socket(ep.family(), socket_type(ep) | SOCK_CLOEXEC, 0));
    if (!fd) fail(ep, "create a socket for", errno);
    if (ep.family() == AF_INET6) set_int_option(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, ep, "set IPV6_V6ONLY on");
    return fd;
}

// TCP_NODELAY on a listening socket is inherited by every socket accepted from it, so accepted connections get it
// without a system call each. Why ringd sends without Nagle's algorithm: the output queue already gathers what is
// queued into one send, and Nagle would hold back the second of two sends that split a message (a 8 KiB reply
// read in 4 KiB receive buffers, a proxied stream) until the peer's delayed ACK, 40 ms later, when the peer waits
// for the whole message before it answers. Closes keep their single data+FIN segment: MSG_MORE (worker_stream.cpp)
// holds the last bytes for the FIN with or without Nagle.
void disable_nagle(int fd, const config::Endpoint& ep)
{
    if (ep.transport == config::Transport::tcp)
        set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1, ep, "set TCP_NODELAY on");
}

void bind_and_listen(int fd, const config::Endpoint& ep)
{
    disable_nagle(fd, ep);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&ep.address), ep.address_len) != 0) fail(ep, "bind", errno);
    if (ep.is_stream() && ::listen(fd, SOMAXCONN) != 0) fail(ep, "listen on", errno);
}

// SO_REUSEPORT lets every socket with the option and the same owner join a port, so a second ringd (or any
// other root process) could silently share our port instead of failing. Bind once without it first: that
// fails with EADDRINUSE if anyone holds the port, and succeeds over mere TIME_WAIT leftovers (SO_REUSEADDR).
void probe_port_is_free(const config::Endpoint& ep)
{
    UniqueFd probe = open_socket(ep);
    if (ep.is_stream()) set_int_option(probe.get(), SOL_SOCKET, SO_REUSEADDR, 1, ep, "set SO_REUSEADDR on");
    if (::bind(probe.get(), reinterpret_cast<const sockaddr*>(&ep.address), ep.address_len) != 0) {
        fail(ep, "bind", errno);
    }
}

// A socket file left behind by a crashed ringd would make bind fail; remove it only if nobody answers there.
void remove_stale_unix_socket(const config::Endpoint& ep)
{
    const std::string path = ep.unix_path();
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return;
    if (!S_ISSOCK(st.st_mode)) {
        throw std::runtime_error("cannot bind " + ep.text + ": " + path + " exists and is not a socket");
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&ep.address), ep.address_len) == 0) {
        fail(ep, "bind", EADDRINUSE);
    }
    ::unlink(path.c_str());
}

} // namespace

ListenerSockets::ListenerSockets(config::Endpoint endpoint, std::vector<UniqueFd> fds, bool owns_path)
    : endpoint_(std::move(endpoint)), fds_(std::move(fds)), owns_unix_path_(owns_path)
{
    struct stat st {};
    if (owns_unix_path_ && ::lstat(endpoint_.unix_path().c_str(), &st) == 0) {
        unix_file_dev_ = st.st_dev;
        unix_file_ino_ = st.st_ino;
    }
}

ListenerSockets::~ListenerSockets()
{
    if (!owns_unix_path_) return;
    const std::string path = endpoint_.unix_path();
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && st.st_dev == unix_file_dev_ && st.st_ino == unix_file_ino_) {
        ::unlink(path.c_str());
    }
}

std::shared_ptr<ListenerSockets> ListenerSockets::bind(const config::Endpoint& ep, unsigned workers)
{
    std::vector<UniqueFd> fds;
    if (ep.is_unix()) {
        if (!ep.is_abstract_unix()) remove_stale_unix_socket(ep);
        UniqueFd fd = open_socket(ep);
        bind_and_listen(fd.get(), ep);
        fds.push_back(std::move(fd));
        return std::shared_ptr<ListenerSockets>(new ListenerSockets(ep, std::move(fds), !ep.is_abstract_unix()));
    }
    probe_port_is_free(ep);
    for (unsigned w = 0; w < workers; ++w) {
        UniqueFd fd = open_socket(ep);
        // SO_REUSEADDR: restart right after a stop despite TIME_WAIT. SO_REUSEPORT: one socket per worker.
        set_int_option(fd.get(), SOL_SOCKET, SO_REUSEADDR, 1, ep, "set SO_REUSEADDR on");
        set_int_option(fd.get(), SOL_SOCKET, SO_REUSEPORT, 1, ep, "set SO_REUSEPORT on");
        bind_and_listen(fd.get(), ep);
        fds.push_back(std::move(fd));
    }
    return std::shared_ptr<ListenerSockets>(new ListenerSockets(ep, std::move(fds), false));
}

void ListenerSockets::apply_unix_mode(uint32_t mode) const
{
    if (!owns_unix_path_) return;
    const std::string path = endpoint_.unix_path();
    if (::chmod(path.c_str(), mode_t(mode)) != 0) {
        const int error = errno;
        char octal[8];
        std::snprintf(octal, sizeof octal, "%04o", mode & 07777);
        throw std::runtime_error(std::string("cannot set mode ") + octal + " on " + path + ": " + std::strerror(error));
    }
}

std::shared_ptr<ListenerSockets> ListenerSockets::adopt(const config::Endpoint& ep, UniqueFd fd)
{
    disable_nagle(fd.get(), ep); // systemd's socket, like one ringd binds
    std::vector<UniqueFd> fds;
    fds.push_back(std::move(fd));
    return std::shared_ptr<ListenerSockets>(new ListenerSockets(ep, std::move(fds), false));
}

namespace {

limits::SourcePolicy source_policy_of(const config::Limits& limits)
{
    limits::SourcePolicy policy;
    policy.max_connections_per_source = limits.max_connections_per_source;
    if (const auto& rate = limits.connection_rate_per_source) {
        policy.rate.emplace(limits::ConnectionRate{rate->count, rate->per, rate->burst});
    }
    return policy;
}

bool contained_in(const std::vector<config::Cidr>& ranges, const sockaddr* address)
{
    for (const config::Cidr& c : ranges) {
        if (c.contains(address)) return true;
    }
    return false;
}

} // namespace

Listener::Listener(config::ListenerConfig config, std::shared_ptr<ListenerSockets> sockets,
                   std::shared_ptr<plugin_host::PluginInstance> plugin, std::shared_ptr<ListenerStats> stats,
                   std::shared_ptr<limits::SourceTable> sources)
    : config_(std::move(config)), sockets_(std::move(sockets)), plugin_(std::move(plugin)), stats_(std::move(stats)),
      sources_(std::move(sources)), source_policy_(source_policy_of(config_.limits))
{
    stats_->attach(plugin_.get());
}

std::optional<limits::SourceKey> Listener::source_of(const sockaddr* client) const
{
    if (!sources_) return std::nullopt;
    return limits::source_key_of(client, {config_.limits.source_prefix_v4, config_.limits.source_prefix_v6});
}

limits::Admission Listener::admit_source(const limits::SourceKey& source) const
{
    return sources_->admit(source, limits::SourceTable::Clock::now(), source_policy_);
}

bool Listener::trusts_proxy(const sockaddr* peer) const
{
    return config_.endpoint.is_unix() || contained_in(config_.proxy_trusted, peer);
}

std::shared_ptr<limits::SourceTable> SourceTableRegistry::for_listener(const config::ListenerConfig& listener)
{
    std::erase_if(by_name_, [](const auto& entry) { return entry.second.table.expired(); });
    const config::Limits& l = listener.limits;
    if (!l.limits_per_source()) return nullptr;
    Entry& entry = by_name_[listener.name];
    if (auto table = entry.table.lock(); table && entry.max_tracked_sources == l.max_tracked_sources &&
                                         entry.prefix_v4 == l.source_prefix_v4 &&
                                         entry.prefix_v6 == l.source_prefix_v6) {
        return table;
    }
    limits::SourceTable::Settings settings;
    settings.max_tracked_sources = l.max_tracked_sources;
    auto table = std::make_shared<limits::SourceTable>(settings); // its limits come with each admit()
    entry = {table, l.max_tracked_sources, l.source_prefix_v4, l.source_prefix_v6};
    return table;
}

Listener::~Listener()
{
    stats_->detach(plugin_.get());
}

bool Listener::admits(const sockaddr* peer) const
{
    if (contained_in(config_.deny, peer)) return false;
    return config_.allow.empty() || contained_in(config_.allow, peer);
}

bool Listener::try_add_connection()
{
    const uint32_t now = sockets_->open_connections.fetch_add(1, std::memory_order_relaxed);
    if (now < config_.limits.max_connections) return true;
    sockets_->open_connections.fetch_sub(1, std::memory_order_relaxed);
    return false;
}

bool Listener::try_add_outbound()
{
    const uint32_t now = sockets_->open_outbound.fetch_add(1, std::memory_order_relaxed);
    if (now < config_.limits.outbound_limit()) return true;
    sockets_->open_outbound.fetch_sub(1, std::memory_order_relaxed);
    return false;
}

void ListenerSockets::stop_listening()
{
    // On a listening socket, shutdown() makes Linux stop listening: queued connections are reset, new ones
    // refused, and a pending accept completes. The fds themselves close when the last slot lets go.
    if (!endpoint_.is_stream()) return;
    for (auto& fd : fds_)
        ::shutdown(fd.get(), SHUT_RDWR);
}

} // namespace ringd::engine
