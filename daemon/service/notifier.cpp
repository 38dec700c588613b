// ServiceNotifier: thin wrapper over sd_notify(3) / sd_watchdog_enabled(3). See notifier.hpp.
#include "service/notifier.hpp"

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

namespace ringd::service {

namespace {

std::chrono::microseconds monotonic_now()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::microseconds(ts.tv_nsec / 1000);
}

} // namespace

std::string notify_assignment(std::string_view key, std::string_view value)
{
    std::string out;
    out.reserve(key.size() + 1 + value.size());
    out.append(key);
    out.push_back('=');
    for (char c : value)
        out.push_back(c == '\n' || c == '\r' ? ' ' : c);
    return out;
}

ServiceNotifier::ServiceNotifier()
{
    const char* socket = std::getenv("NOTIFY_SOCKET");
    enabled_ = socket != nullptr && socket[0] != '\0';
    uint64_t usec = 0;
    // sd_watchdog_enabled also checks WATCHDOG_PID against getpid(), so a forked child never pings for us.
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
}

bool ServiceNotifier::send(const std::string& message)
{
    if (!enabled_) return true;
    const int r = sd_notify(0, message.c_str());
    if (r > 0) return true;
    // r == 0 would mean NOTIFY_SOCKET vanished since construction; r < 0 is a send error. Either way say it
    // once: repeating it every watchdog tick would flood the log.
    if (!reported_failure_) {
        reported_failure_ = true;
        spdlog::warn("sd_notify failed ({}); service manager notifications are being lost",
                     r < 0 ? std::strerror(-r) : "NOTIFY_SOCKET is no longer set");
    }
    return false;
}

void ServiceNotifier::ready(std::string_view status)
{
    std::string msg = "READY=1";
    // Appended piecewise: GCC 12 at -O3 reports a false -Wrestrict overlap for `"\n" + std::string&&`
    // (operator+ inserting at the front of the temporary), which -Werror builds would reject.
    if (!status.empty()) {
        msg.push_back('\n');
        msg.append(notify_assignment("STATUS", status));
    }
    send(msg);
}

void ServiceNotifier::reloading()
{
    send("RELOADING=1\n" + notify_assignment("MONOTONIC_USEC", std::to_string(monotonic_now().count())));
}

void ServiceNotifier::stopping()
{
    send("STOPPING=1");
}

void ServiceNotifier::status(std::string_view text)
{
    send(notify_assignment("STATUS", text));
}

void ServiceNotifier::extend_timeout(std::chrono::microseconds extra)
{
    send(notify_assignment("EXTEND_TIMEOUT_USEC", std::to_string(extra.count())));
}

void ServiceNotifier::watchdog_ping()
{
    if (watchdog_) send("WATCHDOG=1");
}

} // namespace ringd::service
