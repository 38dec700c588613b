// Logging setup: spdlog's default logger, writing either straight to the systemd journal (with the right
// priority per message, and structured fields) or plain timestamped lines to stderr.
//
// The journal is used exactly when stderr *is* the journal: systemd sets JOURNAL_STREAM=dev:inode for a
// service whose stderr is connected to journald, and we compare it with fstat(2). Started by hand or by the
// test harness (stderr redirected to a file), ringd writes "2026-11-21 18:44:15.123 [info] message" lines.
//
// spdlog's default-logger registry is the only global involved: log_for_listener finds the journal sink
// there, so nothing else has to be passed around for it.
#pragma once

#include <optional>
#include <spdlog/common.h>
#include <string>
#include <string_view>

namespace ringd::service {

// Parses "trace", "debug", "info", "warn" (or "warning"), "error" (config `log.level` and --log-level).
[[nodiscard]] std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name);

// Replaces spdlog's default logger with ringd's (journal or stderr, see above) at `level`.
// Throws std::invalid_argument naming the accepted values if `level` is not one of them.
void setup_logging(const std::string& level);

// Changes the default logger's level (on reload). Throws std::invalid_argument like setup_logging.
void set_level(const std::string& level);

// Logs `msg` on behalf of a listener (or a plugin instance serving it): the text is prefixed with
// "[listener] " and, in journal mode, the entry also carries RINGD_LISTENER=listener so that
// `journalctl -u ringd RINGD_LISTENER=echo` shows one listener's messages.
void log_for_listener(const std::string& listener, spdlog::level::level_enum level, std::string_view msg);

// True if JOURNAL_STREAM names the file stderr is connected to (what setup_logging decides on).
[[nodiscard]] bool stderr_is_journal();

// syslog priority (LOG_DEBUG ... LOG_CRIT) that a spdlog level is logged with in journal mode.
[[nodiscard]] int journal_priority(spdlog::level::level_enum level);

} // namespace ringd::service
