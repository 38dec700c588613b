// whoami: an echo on the bare C ABI that first says who it thinks the client is. on_open sends one line,
// "peer=<address> local=<address>\n" (what the host's peer_address and local_address return: behind a PROXY
// header, the addresses the header names), then every byte received is sent back unchanged. Addresses are
// "1.2.3.4:5", "[::1]:5", "unix" (any AF_UNIX address) or "error:<errno>". When the connection's PROXY v2 header
// carried an AUTHORITY TLV (0x02), " authority=<its value>" comes before the newline (ABI 1.1 proxy_tlv).
// On a udp:// listener each datagram is answered (to the sender: send_datagram without a destination) with
// "peer=<the peer on_datagram was given> " followed by the datagram.
#include <algorithm>
#include <arpa/inet.h>
#include <cstring>
#include <netinet/in.h>
#include <ringd/plugin.h>
#include <string>
#include <sys/socket.h>

namespace {

const ringd_host* host_of(void* instance)
{
    return static_cast<const ringd_host*>(instance);
}

std::string text_of(int rc, const sockaddr_storage& address)
{
    if (rc != 0) return "error:" + std::to_string(-rc);
    char host[INET6_ADDRSTRLEN] = "";
    if (address.ss_family == AF_INET) {
        const auto& in = reinterpret_cast<const sockaddr_in&>(address);
        inet_ntop(AF_INET, &in.sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(in.sin_port));
    }
    if (address.ss_family == AF_INET6) {
        const auto& in6 = reinterpret_cast<const sockaddr_in6&>(address);
        inet_ntop(AF_INET6, &in6.sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(in6.sin6_port));
    }
    return address.ss_family == AF_UNIX ? "unix" : "family:" + std::to_string(address.ss_family);
}

int create(const ringd_instance_args* args, void** instance, ringd_error*)
{
    *instance = const_cast<ringd_host*>(args->host);
    return 0;
}

void destroy(void*) {}

int on_open(void* instance, ringd_conn* conn)
{
    const ringd_host* host = host_of(instance);
    sockaddr_storage peer{};
    sockaddr_storage local{};
    socklen_t peer_len = sizeof peer;
    socklen_t local_len = sizeof local;
    const int peer_rc = host->peer_address(conn, reinterpret_cast<sockaddr*>(&peer), &peer_len);
    const int local_rc = host->local_address(conn, reinterpret_cast<sockaddr*>(&local), &local_len);
    std::string line = "peer=" + text_of(peer_rc, peer) + " local=" + text_of(local_rc, local);
    const void* authority = nullptr;
    size_t authority_len = 0;
    if (RINGD_HOST_HAS(host, proxy_tlv) && host->proxy_tlv(conn, 0x02, &authority, &authority_len) == 0) {
        line += " authority=" + std::string(static_cast<const char*>(authority), authority_len);
    }
    line += "\n";
    host->send(conn, line.data(), line.size());
    return 0;
}

void on_data(void* instance, ringd_conn* conn, const uint8_t* data, size_t len)
{
    host_of(instance)->send(conn, data, len);
}

void on_datagram(void* instance, ringd_datagram* dgram, const uint8_t* data, size_t len, const sockaddr* peer,
                 socklen_t peer_len)
{
    sockaddr_storage address{};
    std::memcpy(&address, peer, std::min<size_t>(peer_len, sizeof address));
    std::string reply = "peer=" + text_of(0, address) + " ";
    reply.append(reinterpret_cast<const char*>(data), len);
    host_of(instance)->send_datagram(dgram, reply.data(), reply.size(), nullptr, 0);
}

const ringd_plugin_descriptor descriptor = {
    .abi_version = RINGD_PLUGIN_ABI_VERSION,
    .struct_size = sizeof(ringd_plugin_descriptor),
    .name = "whoami",
    .version = "1.0.0",
    .socket_kinds = RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM,
    .create = &create,
    .destroy = &destroy,
    .on_open = &on_open,
    .on_data = &on_data,
    .on_peer_shutdown = nullptr,
    .on_close = nullptr,
    .on_datagram = &on_datagram,
    .on_timer = nullptr,
    .abi_minor = RINGD_PLUGIN_ABI_MINOR,
    .on_connect = nullptr,
    .on_output_drained = nullptr,
    .on_worker_start = nullptr,
    .on_worker_stop = nullptr,
    .on_worker_timer = nullptr,
    .on_handover = nullptr,
};

} // namespace

extern "C" RINGD_PLUGIN_EXPORT const ringd_plugin_descriptor* ringd_plugin_entry_v1(void)
{
    return &descriptor;
}
