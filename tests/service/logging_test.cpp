// setup_logging / log_for_listener in stderr mode (stderr captured into a temp file), journal detection
// through JOURNAL_STREAM, and level parsing. Journal output itself is checked under real systemd
// (tests/systemd), where journald exists.
#include "service/logging.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <spdlog/spdlog.h>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/syslog.h>
#include <unistd.h>

using namespace ringd::service;

namespace {

// Points fd 2 at a temp file for the scope's lifetime; text() reads what was written.
class CapturedStderr {
public:
    CapturedStderr()
    {
        char tmpl[] = "/tmp/ringd-log-XXXXXX";
        fd_ = mkstemp(tmpl);
        path_ = tmpl;
        saved_ = dup(STDERR_FILENO);
        dup2(fd_, STDERR_FILENO);
    }
    ~CapturedStderr()
    {
        dup2(saved_, STDERR_FILENO);
        close(saved_);
        close(fd_);
        std::remove(path_.c_str());
    }
    CapturedStderr(const CapturedStderr&) = delete;
    CapturedStderr& operator=(const CapturedStderr&) = delete;

    std::string text() const
    {
        std::ifstream in(path_);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::string journal_stream() const
    {
        struct stat st {};
        fstat(fd_, &st);
        return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
    }

private:
    std::string path_;
    int fd_ = -1;
    int saved_ = -1;
};

} // namespace

TEST_CASE("log levels parse strictly")
{
    CHECK(parse_log_level("trace") == spdlog::level::trace);
    CHECK(parse_log_level("debug") == spdlog::level::debug);
    CHECK(parse_log_level("info") == spdlog::level::info);
    CHECK(parse_log_level("warn") == spdlog::level::warn);
    CHECK(parse_log_level("warning") == spdlog::level::warn);
    CHECK(parse_log_level("error") == spdlog::level::err);
    CHECK_FALSE(parse_log_level("verbose").has_value());
    CHECK_FALSE(parse_log_level("INFO").has_value());
    CHECK_FALSE(parse_log_level("").has_value());
    CHECK_THROWS_WITH(setup_logging("loud"), Catch::Contains("unknown log level 'loud'"));
    CHECK_THROWS_AS(set_level("off"), std::invalid_argument);
}

TEST_CASE("journal priorities follow syslog's order")
{
    CHECK(journal_priority(spdlog::level::trace) == LOG_DEBUG);
    CHECK(journal_priority(spdlog::level::debug) == LOG_DEBUG);
    CHECK(journal_priority(spdlog::level::info) == LOG_INFO);
    CHECK(journal_priority(spdlog::level::warn) == LOG_WARNING);
    CHECK(journal_priority(spdlog::level::err) == LOG_ERR);
    CHECK(journal_priority(spdlog::level::critical) == LOG_CRIT);
}

TEST_CASE("JOURNAL_STREAM counts only if it names stderr")
{
    CapturedStderr err;
    unsetenv("JOURNAL_STREAM");
    CHECK_FALSE(stderr_is_journal());
    setenv("JOURNAL_STREAM", err.journal_stream().c_str(), 1);
    CHECK(stderr_is_journal());
    setenv("JOURNAL_STREAM", "1:2", 1); // inherited from a parent whose stderr was the journal
    CHECK_FALSE(stderr_is_journal());
    setenv("JOURNAL_STREAM", "garbage", 1);
    CHECK_FALSE(stderr_is_journal());
    unsetenv("JOURNAL_STREAM");
}

TEST_CASE("stderr mode writes timestamped lines, filtered by level, with listener prefixes")
{
    unsetenv("JOURNAL_STREAM");
    CapturedStderr err;
    setup_logging("info");
    spdlog::info("ringd {} starting", "0.1.0");
    spdlog::debug("not shown at info");
    log_for_listener("echo", spdlog::level::warn, "client 127.0.0.1:5000 refused");
    log_for_listener("echo", spdlog::level::debug, "not shown either");
    set_level("debug");
    spdlog::debug("shown after set_level");
    log_for_listener("dns", spdlog::level::err, "bad packet");

    const std::string text = err.text();
    const std::regex line(R"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \[(\w+)\] (.*))");
    std::istringstream lines(text);
    std::vector<std::pair<std::string, std::string>> got;
    for (std::string l; std::getline(lines, l);) {
        std::smatch m;
        REQUIRE(std::regex_match(l, m, line));
        got.emplace_back(m[1], m[2]);
    }
    REQUIRE(got.size() == 4);
    CHECK(got[0] == std::make_pair(std::string("info"), std::string("ringd 0.1.0 starting")));
    CHECK(got[1] == std::make_pair(std::string("warning"), std::string("[echo] client 127.0.0.1:5000 refused")));
    CHECK(got[2] == std::make_pair(std::string("debug"), std::string("shown after set_level")));
    CHECK(got[3] == std::make_pair(std::string("error"), std::string("[dns] bad packet")));
}
