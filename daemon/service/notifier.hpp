// ServiceNotifier: ringd's half of the sd_notify(3) protocol, telling the service manager (or anything else
// listening on $NOTIFY_SOCKET, like the integration-test harness) when ringd is ready, reloading, stopping,
// what it is doing, and that its event loop is still alive (watchdog).
//
// Every call is a no-op when NOTIFY_SOCKET is unset (ringd started by hand), so main.cpp never has to ask.
// Delivery failures are logged once and otherwise ignored: a lost notification must never take ringd down.
// One instance, used from the main thread only (it is not synchronized).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace ringd::service {

class ServiceNotifier {
public:
    // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID once. The variables stay set (sd_notify reads
    // NOTIFY_SOCKET on every call); children are spawned with an explicit environment, so they never see them.
    ServiceNotifier();

    // True when NOTIFY_SOCKET is set, i.e. somebody is listening.
    [[nodiscard]] bool enabled() const noexcept { return enabled_; }

    // READY=1 (plus STATUS=status if not empty): startup or a reload has finished.
    void ready(std::string_view status = {});

    // RELOADING=1 with MONOTONIC_USEC=now: a reload has started. systemd 253+ (Type=notify-reload) needs the
    // timestamp to match the reload to the READY=1 that ends it; systemd 252 ignores the extra field.
    void reloading();

    // STOPPING=1: shutdown has started (systemd stops expecting watchdog pings from here on).
    void stopping();

    // STATUS=text: free-form, shown by `systemctl status ringd`.
    void status(std::string_view text);

    // EXTEND_TIMEOUT_USEC: ask for more time for the current start/stop/reload (e.g. a long connection drain).
    void extend_timeout(std::chrono::microseconds extra);

    // The WatchdogSec= interval if the service manager expects pings from this process, else nullopt.
    // Ping at half this interval (see watchdog_ping).
    [[nodiscard]] std::optional<std::chrono::microseconds> watchdog_interval() const noexcept { return watchdog_; }

    // WATCHDOG=1: call from the event loop itself (not a helper thread) so a stuck loop stops the pings.
    void watchdog_ping();

    // Sends one raw notification message (newline-separated KEY=VALUE assignments). Exposed for tests and for
    // rare messages without a named helper. Returns false if it could not be delivered.
    bool send(const std::string& message);

private:
    bool enabled_ = false;
    bool reported_failure_ = false;
    std::optional<std::chrono::microseconds> watchdog_;
};

// "KEY=VALUE" with newlines in VALUE replaced by spaces: the protocol is line-based, and a stray newline in a
// status text (e.g. a multi-line config error) would otherwise be read as a new assignment.
[[nodiscard]] std::string notify_assignment(std::string_view key, std::string_view value);

} // namespace ringd::service
