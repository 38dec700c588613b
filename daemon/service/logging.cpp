// Logging setup for the daemon; see logging.hpp.
#include "service/logging.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <stdexcept>
#include <sys/stat.h>
#include <sys/syslog.h>
#include <unistd.h>

// Without this, sd_journal_send() stamps every entry with CODE_FILE/CODE_LINE of the call below, which says
// nothing; entries get spdlog's source location instead when it has one.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

namespace ringd::service {

namespace {

constexpr const char* kIdentifier = "ringd";

// A sink that sends each message to journald as one structured entry. spdlog ships a systemd_sink, but we
// need our own to add RINGD_LISTENER= (see log_for_listener) under the same priority mapping.
class JournalSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    // Sends one entry directly; used by log_for_listener for the extra field. Thread-safe (journald's socket
    // is a datagram socket and sd_journal_send is reentrant).
    static void send(spdlog::level::level_enum level, std::string_view message, const char* listener,
                     const spdlog::source_loc& where = {})
    {
        const int msg_len = static_cast<int>(std::min<std::size_t>(message.size(), INT32_MAX));
        const int priority = journal_priority(level);
        // sd_journal_send takes printf-style fields and a terminating NULL, so each optional field needs its
        // own call; "%.*s" because spdlog's payload is not NUL-terminated.
        if (listener != nullptr) {
            sd_journal_send("MESSAGE=%.*s", msg_len, message.data(), "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=%s",
                            kIdentifier, "RINGD_LISTENER=%s", listener, nullptr);
        } else if (where.filename != nullptr) {
            sd_journal_send("MESSAGE=%.*s", msg_len, message.data(), "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=%s",
                            kIdentifier, "CODE_FILE=%s", where.filename, "CODE_LINE=%d", where.line, nullptr);
        } else {
            sd_journal_send("MESSAGE=%.*s", msg_len, message.data(), "PRIORITY=%d", priority, "SYSLOG_IDENTIFIER=%s",
                            kIdentifier, nullptr);
        }
    }

protected:
    void sink_it_(const spdlog::details::log_msg& msg) override
    {
        // The journal stores its own timestamp and priority, so the message is the payload alone.
        send(msg.level, std::string_view(msg.payload.data(), msg.payload.size()), nullptr, msg.source);
    }
    void flush_() override {}
};

std::shared_ptr<JournalSink> journal_sink_of(const std::shared_ptr<spdlog::logger>& logger)
{
    if (!logger) return nullptr;
    for (const auto& sink : logger->sinks()) {
        if (auto journal = std::dynamic_pointer_cast<JournalSink>(sink)) return journal;
    }
    return nullptr;
}

spdlog::level::level_enum require_level(const std::string& name)
{
    if (auto level = parse_log_level(name)) return *level;
    throw std::invalid_argument("unknown log level '" + name + "' (expected trace, debug, info, warn or error)");
}

} // namespace

std::optional<spdlog::level::level_enum> parse_log_level(std::string_view name)
{
    // Not spdlog::level::from_str: it maps every unknown name to `off`, which would silently mute the daemon.
    if (name == "trace") return spdlog::level::trace;
    if (name == "debug") return spdlog::level::debug;
    if (name == "info") return spdlog::level::info;
    if (name == "warn" || name == "warning") return spdlog::level::warn;
    if (name == "error") return spdlog::level::err;
    return std::nullopt;
}

int journal_priority(spdlog::level::level_enum level)
{
    switch (level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
        return LOG_DEBUG;
    case spdlog::level::info:
        return LOG_INFO;
    case spdlog::level::warn:
        return LOG_WARNING;
    case spdlog::level::err:
        return LOG_ERR;
    case spdlog::level::critical:
        return LOG_CRIT;
    default:
        return LOG_INFO;
    }
}

bool stderr_is_journal()
{
    const char* env = std::getenv("JOURNAL_STREAM");
    if (env == nullptr) return false;
    uintmax_t dev = 0;
    uintmax_t ino = 0;
    if (std::sscanf(env, "%" SCNuMAX ":%" SCNuMAX, &dev, &ino) != 2) return false;
    struct stat st {};
    if (fstat(STDERR_FILENO, &st) < 0) return false;
    // A child whose stderr was redirected inherits JOURNAL_STREAM too; only an exact match means journald.
    return static_cast<uintmax_t>(st.st_dev) == dev && static_cast<uintmax_t>(st.st_ino) == ino;
}

void setup_logging(const std::string& level)
{
    const auto lvl = require_level(level);
    std::shared_ptr<spdlog::logger> logger;
    if (stderr_is_journal()) {
        logger = std::make_shared<spdlog::logger>(kIdentifier, std::make_shared<JournalSink>());
    } else {
        // The uncoloured sink: stderr is usually a file or a pipe (the harness, systemd without journal).
        logger = std::make_shared<spdlog::logger>(kIdentifier, std::make_shared<spdlog::sinks::stderr_sink_mt>());
        logger->set_formatter(std::make_unique<spdlog::pattern_formatter>("%Y-%m-%d %H:%M:%S.%e [%l] %v"));
    }
    logger->set_level(lvl);
    // stderr is unbuffered, but flushing each line also keeps the order right if a file sink is ever added.
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(std::move(logger));
}

void set_level(const std::string& level)
{
    spdlog::default_logger()->set_level(require_level(level));
}

void log_for_listener(const std::string& listener, spdlog::level::level_enum level, std::string_view msg)
{
    auto logger = spdlog::default_logger();
    if (!logger || !logger->should_log(level)) return;
    // The prefix stays in journal mode too: plain `journalctl -u ringd` shows MESSAGE only.
    const std::string text = "[" + listener + "] " + std::string(msg);
    if (journal_sink_of(logger)) {
        JournalSink::send(level, text, listener.c_str());
    } else {
        logger->log(level, "{}", text);
    }
}

} // namespace ringd::service
