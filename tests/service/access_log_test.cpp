// The access log: record formatting (addresses, logfmt quoting, the journal's fields), the per-worker bounded
// queue (order, drops when full, a real producer thread), and the writer (everything submitted is written or
// counted as dropped; stop() flushes). The journal itself is checked under real systemd (tests/systemd).
#include "service/access_log.hpp"
#include "service/logging.hpp"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <mutex>
#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sstream>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace ringd::service;
using namespace std::chrono_literals;

namespace {

SocketAddress inet4(const char* ip, uint16_t port)
{
    SocketAddress a;
    auto& in = reinterpret_cast<sockaddr_in&>(a.storage);
    in.sin_family = AF_INET;
    in.sin_port = htons(port);
    REQUIRE(inet_pton(AF_INET, ip, &in.sin_addr) == 1);
    a.len = sizeof in;
    return a;
}

SocketAddress inet6(const char* ip, uint16_t port)
{
    SocketAddress a;
    auto& in6 = reinterpret_cast<sockaddr_in6&>(a.storage);
    in6.sin6_family = AF_INET6;
    in6.sin6_port = htons(port);
    REQUIRE(inet_pton(AF_INET6, ip, &in6.sin6_addr) == 1);
    a.len = sizeof in6;
    return a;
}

// `name` as the kernel reports it: a path (NUL-terminated, length may cover the NUL) or, starting with '\0', an
// abstract name (exactly `name.size()` bytes).
SocketAddress unix_address(std::string_view name)
{
    SocketAddress a;
    auto& un = reinterpret_cast<sockaddr_un&>(a.storage);
    un.sun_family = AF_UNIX;
    std::memcpy(un.sun_path, name.data(), name.size());
    a.len = socklen_t(offsetof(sockaddr_un, sun_path) + name.size() + (name.starts_with('\0') ? 0 : 1));
    return a;
}

AccessRecord echo_record()
{
    AccessRecord r;
    r.listener = "echo";
    r.plugin = "echo-upper";
    r.peer = inet4("127.0.0.1", 5555);
    r.local = inet4("127.0.0.1", 8080);
    r.started = std::chrono::steady_clock::time_point(10s);
    r.ended = r.started + 412us + 999ns; // sub-microsecond parts are cut, not rounded
    r.bytes_in = 12;
    r.bytes_out = 13;
    r.reason = AccessReason::peer;
    return r;
}

std::unique_ptr<AccessLogEntry> entry_for(uint64_t n)
{
    auto entry = std::make_unique<AccessLogEntry>();
    entry->record.listener = "l";
    entry->record.bytes_in = n;
    return entry;
}

// Collects records; optionally holds the writer inside write() until released, to fill the queues.
class CapturingSink final : public AccessLogSink {
public:
    bool write(const AccessRecord& record) override
    {
        std::unique_lock lock(mutex_);
        entered_ = true;
        changed_.notify_all();
        changed_.wait(lock, [&] { return !held_; });
        if (record.bytes_in == refuse_) return false; // as the journal may
        records_.push_back(record.bytes_in);
        return true;
    }
    void refuse(uint64_t which) { refuse_ = which; }
    void hold()
    {
        std::lock_guard lock(mutex_);
        held_ = true;
    }
    void release()
    {
        std::lock_guard lock(mutex_);
        held_ = false;
        changed_.notify_all();
    }
    // True once the writer is inside write() (held there if hold() was called).
    bool wait_entered(std::chrono::milliseconds timeout)
    {
        std::unique_lock lock(mutex_);
        return changed_.wait_for(lock, timeout, [&] { return entered_; });
    }
    std::vector<uint64_t> records()
    {
        std::lock_guard lock(mutex_);
        return records_;
    }

private:
    std::mutex mutex_;
    std::condition_variable changed_;
    bool held_ = false;
    bool entered_ = false;
    uint64_t refuse_ = 0;
    std::vector<uint64_t> records_;
};

} // namespace

TEST_CASE("addresses are written as the listen: syntax writes them, always printable", "[access_log]")
{
    CHECK(format_address(inet4("10.1.2.3", 443)) == "10.1.2.3:443");
    CHECK(format_address(inet6("::1", 8080)) == "[::1]:8080");
    CHECK(format_address(inet6("::ffff:127.0.0.1", 1)) == "[::ffff:127.0.0.1]:1");
    CHECK(format_address(unix_address("/run/ringd/echo.sock")) == "unix:///run/ringd/echo.sock");
    CHECK(format_address(unix_address(std::string_view("\0name", 5))) == "unix:@name");
    CHECK(format_address(unix_address(std::string_view("\0a\0b\n\\", 6))) == "unix:@a\\x00b\\x0a\\x5c");
    CHECK(format_address(unix_address("/tmp/a b\x01")) == "unix:///tmp/a b\\x01");
    SocketAddress unnamed;
    unnamed.storage.ss_family = AF_UNIX;
    unnamed.len = sizeof(sa_family_t);
    CHECK(format_address(unnamed) == "unix:");
    CHECK(format_address(SocketAddress{}) == "-");
}

TEST_CASE("logfmt values are bare when safe, else quoted with escapes", "[access_log]")
{
    CHECK(logfmt_value("echo-upper") == "echo-upper");
    CHECK(logfmt_value("127.0.0.1:80") == "127.0.0.1:80");
    CHECK(logfmt_value("") == "\"\"");
    CHECK(logfmt_value("a b") == "\"a b\"");
    CHECK(logfmt_value("k=v") == "\"k=v\"");
    CHECK(logfmt_value("say \"hi\"") == "\"say \\\"hi\\\"\"");
    CHECK(logfmt_value("back\\slash") == "\"back\\\\slash\"");
    CHECK(logfmt_value("two\nlines\r\tx") == "\"two\\nlines\\r\\tx\"");
    CHECK(logfmt_value(std::string_view("nul\0\x7f\xc3\xa9", 7)) == "\"nul\\x00\\x7f\\xc3\\xa9\"");
}

TEST_CASE("a record is one logfmt line with every field", "[access_log]")
{
    AccessRecord r = echo_record();
    CHECK(format_logfmt(r) == "access listener=echo plugin=echo-upper direction=accepted peer=127.0.0.1:5555 "
                              "local=127.0.0.1:8080 duration_ms=0.412 bytes_in=12 bytes_out=13 reason=peer");
    r.plugin = "my plugin";
    r.peer = unix_address("/tmp/x y.sock");
    r.local = SocketAddress{};
    r.ended = r.started + 1500ms;
    r.reason = AccessReason::idle;
    CHECK(format_logfmt(r) == "access listener=echo plugin=\"my plugin\" direction=accepted "
                              "peer=\"unix:///tmp/x y.sock\" local=- duration_ms=1500.000 bytes_in=12 bytes_out=13 "
                              "reason=idle");
    r.ended = r.started - 1ms; // never negative
    CHECK(format_duration_ms(r) == "0.000");
}

TEST_CASE("each close and refusal reason has its name", "[access_log]")
{
    const std::vector<std::pair<AccessReason, const char*>> names{
        {AccessReason::peer, "peer"},
        {AccessReason::local, "local"},
        {AccessReason::idle, "idle"},
        {AccessReason::error, "error"},
        {AccessReason::shutdown, "shutdown"},
        {AccessReason::acl, "acl"},
        {AccessReason::max_connections, "max_connections"},
        {AccessReason::connection_slots, "connection_slots"},
        {AccessReason::max_connections_per_source, "max_connections_per_source"},
        {AccessReason::connection_rate_per_source, "connection_rate_per_source"},
        {AccessReason::source_table_full, "source_table_full"},
        {AccessReason::proxy_untrusted, "proxy_untrusted"},
        {AccessReason::proxy_timeout, "proxy_timeout"},
        {AccessReason::proxy_malformed, "proxy_malformed"},
        {AccessReason::proxy_incomplete, "proxy_incomplete"},
    };
    for (const auto& [reason, name] : names) {
        AccessRecord r;
        r.reason = reason;
        CHECK(std::string(to_string(reason)) == name);
        CHECK(r.refused() == (reason >= AccessReason::acl));
    }
    CHECK(std::string(to_string(AccessDirection::accepted)) == "accepted");
    CHECK(std::string(to_string(AccessDirection::outbound)) == "outbound");
}

TEST_CASE("a journal entry carries the documented fields, in order", "[access_log]")
{
    const AccessRecord r = echo_record();
    CHECK(journal_fields(r) == std::vector<std::string>{
                                   "MESSAGE=[echo] access: 127.0.0.1:5555 -> 127.0.0.1:8080 closed (peer) after "
                                   "0.412 ms, 12 bytes in, 13 bytes out",
                                   "PRIORITY=6",
                                   "SYSLOG_IDENTIFIER=ringd",
                                   "RINGD_ACCESS=1",
                                   "RINGD_LISTENER=echo",
                                   "RINGD_PLUGIN=echo-upper",
                                   "RINGD_DIRECTION=accepted",
                                   "RINGD_PEER=127.0.0.1:5555",
                                   "RINGD_LOCAL=127.0.0.1:8080",
                                   "RINGD_DURATION_MS=0.412",
                                   "RINGD_BYTES_IN=12",
                                   "RINGD_BYTES_OUT=13",
                                   "RINGD_CLOSE_REASON=peer",
                               });
    SECTION("a refusal, and a plugin name that would break the entry's lines")
    {
        AccessRecord refused = r;
        refused.reason = AccessReason::acl;
        refused.plugin = "bad\nname";
        const auto fields = journal_fields(refused);
        CHECK(fields[0] == "MESSAGE=[echo] access: 127.0.0.1:5555 -> 127.0.0.1:8080 refused (acl)");
        CHECK(fields[5] == "RINGD_PLUGIN=bad\\x0aname");
        CHECK(fields[12] == "RINGD_CLOSE_REASON=acl");
    }
    SECTION("outbound: our socket first in the message, the connect address is the peer")
    {
        AccessRecord out = r;
        out.direction = AccessDirection::outbound;
        out.peer = inet6("::1", 9000);
        out.local = inet6("::1", 40000);
        out.reason = AccessReason::local;
        const auto fields = journal_fields(out);
        CHECK(fields[0] == "MESSAGE=[echo] access: outbound [::1]:40000 -> [::1]:9000 closed (local) after 0.412 ms, "
                           "12 bytes in, 13 bytes out");
        CHECK(fields[6] == "RINGD_DIRECTION=outbound");
        CHECK(fields[7] == "RINGD_PEER=[::1]:9000");
    }
}

TEST_CASE("the queue is first in, first out, and drops (counting them) when full", "[access_log]")
{
    AccessLogQueue queue(3);
    CHECK(queue.empty());
    CHECK(queue.push(entry_for(1)));
    CHECK(queue.push(entry_for(2)));
    CHECK(queue.push(entry_for(3)));
    CHECK_FALSE(queue.push(entry_for(4)));
    CHECK_FALSE(queue.push(entry_for(5)));
    CHECK(queue.dropped() == 2);
    REQUIRE_FALSE(queue.empty());
    CHECK(queue.pop()->bytes_in == 1);
    CHECK(queue.push(entry_for(6))); // room again
    CHECK(queue.pop()->bytes_in == 2);
    CHECK(queue.pop()->bytes_in == 3);
    CHECK(queue.pop()->bytes_in == 6);
    CHECK_FALSE(queue.pop());
    CHECK(queue.empty());
    CHECK(queue.dropped() == 2);
    CHECK(queue.push(entry_for(7))); // left in the queue: freed by its destructor (ASan checks)
}

TEST_CASE("a producer thread and a consumer thread: every record arrives once, in order, or is counted dropped",
          "[access_log]")
{
    constexpr uint64_t total = 200'000;
    AccessLogQueue queue(64);
    uint64_t accepted = 0;
    std::thread producer([&] {
        for (uint64_t i = 1; i <= total; ++i)
            accepted += queue.push(entry_for(i)) ? 1 : 0;
    });
    std::vector<uint64_t> got;
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    bool producer_done = false;
    while (std::chrono::steady_clock::now() < give_up) {
        if (auto r = queue.pop()) {
            got.push_back(r->bytes_in);
            continue;
        }
        if (producer_done) break;
        if (got.size() + queue.dropped() == total) producer_done = true; // one more look, then stop
        std::this_thread::yield();
    }
    producer.join();
    while (auto r = queue.pop())
        got.push_back(r->bytes_in);
    CHECK(got.size() == accepted);
    CHECK(got.size() + queue.dropped() == total);
    CHECK(std::is_sorted(got.begin(), got.end()));
    CHECK(std::adjacent_find(got.begin(), got.end()) == got.end());
}

TEST_CASE("the writer writes what is submitted; when it cannot keep up, records are dropped and counted",
          "[access_log]")
{
    auto sink = std::make_shared<CapturingSink>();
    SECTION("everything submitted is written, across producers, and stop() flushes")
    {
        AccessLog log(2, 1000, sink);
        log.start();
        for (uint64_t i = 1; i <= 100; ++i)
            CHECK(log.submit(unsigned(i % 2), entry_for(i)));
        log.stop();
        const auto written = sink->records();
        CHECK(written.size() == 100);
        CHECK(log.written() == 100);
        CHECK(log.dropped() == 0);
    }
    SECTION("a record the sink refuses counts as dropped")
    {
        sink->refuse(7);
        AccessLog log(1, 1000, sink);
        log.start();
        for (uint64_t i = 1; i <= 10; ++i)
            CHECK(log.submit(0, entry_for(i)));
        log.stop();
        CHECK(sink->records() == std::vector<uint64_t>{1, 2, 3, 4, 5, 6, 8, 9, 10});
        CHECK(log.written() == 9);
        CHECK(log.dropped() == 1);
    }
    SECTION("a stuck writer: each producer's share fills, the rest is dropped, and nothing blocks")
    {
        AccessLog log(2, 8, sink); // 4 per producer
        log.start();
        sink->hold();
        REQUIRE(log.submit(0, entry_for(1)));
        REQUIRE(sink->wait_entered(5s)); // the writer took record 1 and is stuck writing it
        uint64_t accepted = 1;
        for (uint64_t i = 2; i <= 50; ++i)
            accepted += log.submit(unsigned(i % 2), entry_for(i)) ? 1 : 0;
        CHECK(accepted == 1 + 4 + 4);
        CHECK(log.dropped() == 50 - accepted);
        sink->release();
        log.stop();
        CHECK(sink->records().size() == accepted);
        CHECK(log.written() + log.dropped() == 50);
    }
}

TEST_CASE("in stderr mode a record is one line through the default logger's sink, whatever the level", "[access_log]")
{
    char tmpl[] = "/tmp/ringd-access-XXXXXX";
    const int fd = mkstemp(tmpl);
    REQUIRE(fd >= 0);
    const int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    unsetenv("JOURNAL_STREAM");
    setup_logging("error"); // info lines are not logged; access records still are
    {
        AccessLog log(1, 16, make_access_log_sink());
        log.start();
        spdlog::info("not shown");
        auto entry = std::make_unique<AccessLogEntry>();
        entry->record = echo_record();
        REQUIRE(log.submit(0, std::move(entry)));
        log.stop();
    }
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    std::ifstream in(tmpl);
    std::stringstream text;
    text << in.rdbuf();
    std::remove(tmpl);
    CHECK_THAT(text.str(), Catch::Matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} \\[info\\] access "
                                          "listener=echo plugin=echo-upper direction=accepted peer=127.0.0.1:5555 "
                                          "local=127.0.0.1:8080 duration_ms=0.412 bytes_in=12 bytes_out=13 "
                                          "reason=peer\n"));
}
