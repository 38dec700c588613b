// time-of-day: tells the time, as the classic tutorial time server does.
//
//   TCP (and unix stream): on accept, one line "Current time is 2026-11-21 18:44:15.123456\n" (or the RFC 868
//                          4-byte binary time), then close once it is flushed. Anything the client sends is
//                          ignored.
//   UDP:                   every datagram gets one datagram back with the same text.
//
// Config keys (format, timezone, protocol) and their defaults: README.md. The instance is read-only after
// create(), apart from one formatting cache per worker, so callbacks on any number of workers share it without
// locks; nothing here touches TZ/tzset.
#include "tod_config.hpp"

#include <memory>
#include <netinet/in.h>
#include <ringd/plugin.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {

using ringd::tod::Config;

// Loop protection for UDP: a reply to a well-known service port (echo 7, daytime 13, chargen 19, time 37, ...)
// could start an endless exchange between two servers, and port 0 cannot be replied to at all.
bool may_reply_to(const sockaddr* peer, socklen_t peer_len)
{
    uint16_t port = 0;
    if (peer == nullptr || peer_len < static_cast<socklen_t>(sizeof(sockaddr_in))) return false;
    if (peer->sa_family == AF_INET) {
        port = ntohs(reinterpret_cast<const sockaddr_in*>(peer)->sin_port);
    } else if (peer->sa_family == AF_INET6 && peer_len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
        port = ntohs(reinterpret_cast<const sockaddr_in6*>(peer)->sin6_port);
    } else {
        return false;
    }
    return port >= 1024;
}

class TimeOfDay final : public ringd::Handler {
public:
    TimeOfDay(const ringd::InstanceArgs& args, Config config)
        : Handler(args), config_(std::move(config)), caches_(args.worker_count)
    {
    }

    static std::unique_ptr<TimeOfDay> create(const ringd::InstanceArgs& args)
    {
        auto handler = std::make_unique<TimeOfDay>(args, ringd::tod::parse_config(args.config_yaml));
        if (handler->config_.protocol == Config::Protocol::rfc868) {
            handler->log().debug("time-of-day: RFC 868 binary time");
        } else {
            handler->log().debug("time-of-day: time zone " + handler->config_.zone.name());
        }
        return handler;
    }

    bool on_open(ringd::Connection conn) override
    {
        // send() can only fail if the connection is already going away; the close below is right either way.
        (void)conn.send(config_.reply(ringd::tod::now(), cache()));
        conn.close(); // RINGD_CLOSE_AFTER_FLUSH: the line goes out first, then FIN
        return true;
    }

    void on_datagram(const ringd::Datagram& dgram) override
    {
        if (!may_reply_to(dgram.peer(), dgram.peer_len())) return;
        // -ENOBUFS (worker's send queue full) is counted by the host; a time client simply asks again.
        (void)dgram.reply(config_.reply(ringd::tod::now(), cache()));
    }

private:
    // This worker's text of the current second (see TimeFormat::SecondCache).
    ringd::tod::TimeFormat::SecondCache& cache() { return caches_[host()->worker_index()]; }

    Config config_;
    std::vector<ringd::tod::TimeFormat::SecondCache> caches_; // one per worker: indexed, never shared
};

} // namespace

RINGD_EXPORT_HANDLER(TimeOfDay, "time-of-day", "1.0.0", RINGD_KIND_STREAM | RINGD_KIND_DATAGRAM)
