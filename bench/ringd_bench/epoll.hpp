// Epoll: a thin RAII wrapper over one epoll instance. Level-triggered throughout: every mode reads at most
// once per readiness report and relies on epoll to report again, which keeps each loop simple and saves the
// extra recv() that would only return EAGAIN.
#pragma once

#include "fd.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <stdexcept>
#include <string>
#include <sys/epoll.h>

namespace ringd_bench {

class Epoll {
public:
    Epoll() : fd_(::epoll_create1(EPOLL_CLOEXEC))
    {
        if (!fd_) throw std::runtime_error(std::string("epoll_create1: ") + std::strerror(errno));
    }

    void add(int fd, uint32_t events, uint64_t data) { ctl(EPOLL_CTL_ADD, fd, events, data); }
    void modify(int fd, uint32_t events, uint64_t data) { ctl(EPOLL_CTL_MOD, fd, events, data); }
    void remove(int fd) { ::epoll_ctl(fd_.get(), EPOLL_CTL_DEL, fd, nullptr); }

    // Returns the number of ready events (0 on timeout or EINTR).
    [[nodiscard]] int wait(std::span<epoll_event> events, int timeout_ms)
    {
        int n = ::epoll_wait(fd_.get(), events.data(), static_cast<int>(events.size()), timeout_ms);
        if (n < 0) {
            if (errno == EINTR) return 0;
            throw std::runtime_error(std::string("epoll_wait: ") + std::strerror(errno));
        }
        return n;
    }

private:
    void ctl(int op, int fd, uint32_t events, uint64_t data)
    {
        epoll_event ev{};
        ev.events = events;
        ev.data.u64 = data;
        if (::epoll_ctl(fd_.get(), op, fd, &ev) < 0)
            throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }

    Fd fd_;
};

} // namespace ringd_bench
