// Ramped, bounded connection establishment (see connector.hpp).
#include "connector.hpp"

#include "clock.hpp"
#include "epoll.hpp"

#include <cerrno>
#include <cstring>

namespace ringd_bench {

ConnectOutcome connect_all(const Endpoint& ep, unsigned count, unsigned max_pending, uint64_t deadline_ns)
{
    ConnectOutcome out;
    out.connections.reserve(count);
    const uint64_t start = now_ns();
    Epoll epoll;
    std::vector<Fd> pending; // slot -> handshake in progress
    std::vector<size_t> free_slots;
    unsigned started = 0, in_flight = 0, retries = 0;
    std::vector<epoll_event> events(256);

    auto fail = [&](const std::string& what) {
        out.error =
            what + " (" + std::to_string(out.connections.size()) + " of " + std::to_string(count) + " connected)";
    };

    while (out.connections.size() < count) {
        while (started < count && in_flight < max_pending) {
            bool in_progress = false;
            Fd fd = start_connect(ep, true, false, in_progress);
            if (!fd) {
                // A unix socket whose backlog is full refuses with EAGAIN instead of queueing the handshake.
                if (errno == EAGAIN && retries < count * 4u) {
                    ++retries;
                    break;
                }
                fail(std::string("connect to ") + ep.text + ": " + std::strerror(errno));
                return out;
            }
            ++started;
            if (!in_progress) {
                out.connections.push_back(std::move(fd));
                continue;
            }
            size_t slot = pending.size();
            if (!free_slots.empty()) {
                slot = free_slots.back();
                free_slots.pop_back();
            } else {
                pending.emplace_back();
            }
            epoll.add(fd.get(), EPOLLOUT, slot);
            pending[slot] = std::move(fd);
            ++in_flight;
        }
        if (out.connections.size() == count) break;
        uint64_t now = now_ns();
        if (now >= deadline_ns) {
            fail("connections not established in time");
            return out;
        }
        int n = epoll.wait(events, in_flight ? wait_ms_until(now, deadline_ns) : 1);
        for (int i = 0; i < n; ++i) {
            size_t slot = events[static_cast<size_t>(i)].data.u64;
            Fd fd = std::move(pending[slot]);
            free_slots.push_back(slot);
            --in_flight;
            epoll.remove(fd.get());
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                fail(std::string("connect to ") + ep.text + ": " + std::strerror(err));
                return out;
            }
            out.connections.push_back(std::move(fd));
        }
    }
    out.seconds = static_cast<double>(now_ns() - start) / 1e9;
    return out;
}

} // namespace ringd_bench
