// relay: outbound connections (host->connect through the C++ SDK), driven by a client's first line.
//
//   CONNECT <addr> [t=<timeout_ms>] [d=<delay_ms>] [detach]
//       Opens an outbound connection to <addr> (127.0.0.1:P, [::1]:P, unix:/path or unix:@name) and relays
//       bytes both ways: whatever follows the line (also before the connection is up) goes upstream. The
//       client gets "OK\n" at on_connect(0), or "FAIL <error>\n" at on_connect(error); "CLOSED <reason>\n"
//       when the outbound connection closes (its on_close reason), then the client is closed. If connect()
//       itself fails: "ERR <error>\n" and close. d=: connect from a timer instead of from on_data. detach: no
//       relaying; the client's input is discarded (it keeps the client busy, the outbound connection idle).
//   BURST <n> <addr> [hold]
//       Opens n outbound connections at once. Without hold each one closes as soon as it is established; the
//       client gets "DONE ok=<k> fail=<j>\n" when all n are closed. With hold, "OPEN ok=<k> fail=<j>\n" once
//       every outcome is in; the line "RELEASE" then closes them, and "DONE ..." follows.
//
// Errors are negative errno values, as the host reports them (-111 = ECONNREFUSED).
#include <arpa/inet.h>
#include <charconv>
#include <cstring>
#include <optional>
#include <ringd/plugin.hpp>
#include <string>
#include <sys/un.h>
#include <vector>

namespace {

struct Session;
enum class Role { client, upstream, burst };

// The user pointer of every connection: which session it belongs to, and as what.
struct Side {
    Session* session;
    Role role;
};

struct Session {
    ringd_conn* client = nullptr;
    std::string line; // the client's input until its first '\n'
    bool commanded = false;
    ringd_conn* upstream = nullptr;
    bool detached = false;
    std::vector<ringd_conn*> burst; // open burst connections
    unsigned burst_total = 0, burst_outcomes = 0, burst_ok = 0, burst_closed = 0;
    bool hold = false;
    unsigned refs = 1; // the client, and each outbound connection not yet closed
    sockaddr_storage address{};
    socklen_t address_len = 0;
    uint32_t timeout_ms = 0;
    std::string early; // what followed the CONNECT line, for a connect from the timer (d=)
};

std::optional<std::pair<sockaddr_storage, socklen_t>> parse_address(const std::string& text)
{
    sockaddr_storage ss{};
    if (text.starts_with("unix:")) {
        auto& un = reinterpret_cast<sockaddr_un&>(ss);
        un.sun_family = AF_UNIX;
        const std::string path = text.substr(5);
        if (path.empty() || path.size() >= sizeof un.sun_path) return std::nullopt;
        std::memcpy(un.sun_path, path.data(), path.size());
        if (path[0] == '@') un.sun_path[0] = '\0'; // abstract
        return std::pair{ss, socklen_t(offsetof(sockaddr_un, sun_path) + path.size() + (path[0] == '@' ? 0 : 1))};
    }
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return std::nullopt;
    unsigned port = 0;
    const std::string port_text = text.substr(colon + 1);
    if (std::from_chars(port_text.data(), port_text.data() + port_text.size(), port).ec != std::errc{}) {
        return std::nullopt;
    }
    std::string host = text.substr(0, colon);
    if (host.starts_with('[') && host.ends_with(']')) {
        auto& in6 = reinterpret_cast<sockaddr_in6&>(ss);
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons(uint16_t(port));
        if (::inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &in6.sin6_addr) != 1) return std::nullopt;
        return std::pair{ss, socklen_t(sizeof in6)};
    }
    auto& in = reinterpret_cast<sockaddr_in&>(ss);
    in.sin_family = AF_INET;
    in.sin_port = htons(uint16_t(port));
    if (::inet_pton(AF_INET, host.c_str(), &in.sin_addr) != 1) return std::nullopt;
    return std::pair{ss, socklen_t(sizeof in)};
}

std::vector<std::string> words(const std::string& line)
{
    std::vector<std::string> out;
    std::size_t at = 0;
    while (at < line.size()) {
        const std::size_t end = std::min(line.find(' ', at), line.size());
        if (end > at) out.push_back(line.substr(at, end - at));
        at = end + 1;
    }
    return out;
}

class Relay final : public ringd::Handler {
public:
    using Handler::Handler;
    static std::unique_ptr<Relay> create(const ringd::InstanceArgs& args) { return std::make_unique<Relay>(args); }

    bool on_open(ringd::Connection conn) override
    {
        auto* session = new Session;
        session->client = conn.raw();
        conn.set_user(new Side{session, Role::client});
        return true;
    }

    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        Side& side = *conn.user<Side>();
        Session& s = *side.session;
        const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
        if (side.role == Role::upstream) {
            if (s.client != nullptr && !s.detached) client(s).send(text);
        } else if (side.role == Role::client) {
            if (!s.commanded) return take_line(s, text);
            if (s.burst_total != 0 && text.starts_with("RELEASE")) {
                for (ringd_conn* c : std::vector<ringd_conn*>(s.burst))
                    connection(c).close();
            } else if (s.upstream != nullptr && !s.detached) {
                connection(s.upstream).send(text);
            }
        }
    }

    void on_peer_shutdown(ringd::Connection conn) override
    {
        Side& side = *conn.user<Side>();
        if (side.role == Role::client && side.session->upstream != nullptr && !side.session->detached) {
            connection(side.session->upstream).shutdown_write();
        } else {
            conn.close();
        }
    }

    void on_connect(ringd::Connection conn, int error) override
    {
        Side& side = *conn.user<Side>();
        Session& s = *side.session;
        if (side.role == Role::upstream) {
            if (s.client != nullptr)
                client(s).send(error == 0 ? std::string("OK\n") : "FAIL " + std::to_string(error) + "\n");
            return;
        }
        ++s.burst_outcomes;
        if (error == 0) ++s.burst_ok;
        if (error == 0 && !s.hold) conn.close();
        if (s.hold && s.burst_outcomes == s.burst_total && s.client != nullptr)
            client(s).send("OPEN ok=" + std::to_string(s.burst_ok) +
                           " fail=" + std::to_string(s.burst_total - s.burst_ok) + "\n");
    }

    void on_close(ringd::Connection conn, ringd_close_reason reason) override
    {
        auto* side = conn.user<Side>();
        Session& s = *side->session;
        if (side->role == Role::client) {
            s.client = nullptr;
            if (s.upstream != nullptr) connection(s.upstream).close();
            for (ringd_conn* c : s.burst)
                connection(c).close();
        } else if (side->role == Role::upstream) {
            s.upstream = nullptr;
            if (s.client != nullptr) {
                client(s).send("CLOSED " + std::to_string(int(reason)) + "\n");
                client(s).close();
            }
        } else {
            std::erase(s.burst, conn.raw());
            if (++s.burst_closed == s.burst_total && s.client != nullptr) {
                client(s).send("DONE ok=" + std::to_string(s.burst_ok) +
                               " fail=" + std::to_string(s.burst_total - s.burst_ok) + "\n");
                client(s).close();
            }
        }
        delete side;
        if (--s.refs == 0) delete &s;
    }

    void on_timer(ringd::Connection conn, int64_t, void*) override
    {
        Session& s = *conn.user<Side>()->session;
        open_upstream(s, s.early);
    }

private:
    ringd::Connection connection(ringd_conn* c) const { return ringd::Connection(host(), c); }
    ringd::Connection client(const Session& s) const { return connection(s.client); }

    void take_line(Session& s, std::string_view text)
    {
        s.line.append(text);
        const auto nl = s.line.find('\n');
        if (nl == std::string::npos) return;
        s.commanded = true;
        const std::string rest = s.line.substr(nl + 1);
        const std::vector<std::string> w = words(s.line.substr(0, nl));
        s.line.clear();
        if (w.size() >= 2 && w[0] == "CONNECT") return command_connect(s, w, rest);
        if (w.size() >= 3 && w[0] == "BURST") return command_burst(s, w);
        client(s).send(std::string_view("ERR bad command\n"));
        client(s).close();
    }

    bool set_address(Session& s, const std::string& text)
    {
        auto address = parse_address(text);
        if (!address) {
            client(s).send(std::string_view("ERR bad address\n"));
            client(s).close();
            return false;
        }
        s.address = address->first;
        s.address_len = address->second;
        return true;
    }

    void command_connect(Session& s, const std::vector<std::string>& w, const std::string& rest)
    {
        if (!set_address(s, w[1])) return;
        uint64_t delay_ms = 0;
        for (std::size_t i = 2; i < w.size(); ++i) {
            if (w[i].starts_with("t=")) s.timeout_ms = uint32_t(std::stoul(w[i].substr(2)));
            if (w[i].starts_with("d=")) delay_ms = std::stoull(w[i].substr(2));
            if (w[i] == "detach") s.detached = true;
        }
        if (delay_ms != 0) {
            s.early = rest;
            client(s).start_timer(delay_ms);
            return;
        }
        open_upstream(s, rest);
    }

    void open_upstream(Session& s, const std::string& first_bytes)
    {
        auto* side = new Side{&s, Role::upstream};
        const ringd::ConnectResult r =
            connect(reinterpret_cast<const sockaddr*>(&s.address), s.address_len, s.timeout_ms, side);
        if (!r) {
            delete side;
            client(s).send("ERR " + std::to_string(r.error) + "\n");
            client(s).close();
            return;
        }
        ++s.refs;
        s.upstream = r.connection.raw();
        if (!first_bytes.empty() && !s.detached) r.connection.send(first_bytes); // queued until connected
    }

    void command_burst(Session& s, const std::vector<std::string>& w)
    {
        if (!set_address(s, w[2])) return;
        const unsigned n = unsigned(std::stoul(w[1]));
        s.hold = w.size() > 3 && w[3] == "hold";
        for (unsigned i = 0; i < n; ++i) {
            auto* side = new Side{&s, Role::burst};
            const ringd::ConnectResult r =
                connect(reinterpret_cast<const sockaddr*>(&s.address), s.address_len, 0, side);
            if (!r) {
                delete side;
                break;
            }
            ++s.refs;
            ++s.burst_total;
            s.burst.push_back(r.connection.raw());
        }
        if (s.burst_total < n) client(s).send("SHORT " + std::to_string(s.burst_total) + "\n");
        if (s.burst_total == 0) client(s).close();
    }
};

} // namespace

RINGD_EXPORT_HANDLER(Relay, "relay", "1.0.0", RINGD_KIND_STREAM)
