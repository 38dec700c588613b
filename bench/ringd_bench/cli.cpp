// Command-line parsing and validation (see cli.hpp).
#include "cli.hpp"

#include "endpoint.hpp"

#include <CLI/CLI.hpp>
#include <array>
#include <iostream>
#include <iterator>
#include <stdexcept>

namespace ringd_bench {
namespace {

struct ModeDefaults {
    Mode mode;
    const char* help;
    unsigned clients;
    size_t size;
};

const ModeDefaults kModes[] = {
    {Mode::echo, "closed-loop TCP/unix echo: requests/s and latency, every reply verified", 50, 512},
    {Mode::udp, "closed-loop UDP echo, one socket per client, resend on timeout", 10, 64},
    {Mode::churn, "connection churn: connect, read to EOF, check --contains, close", 20, 0},
    {Mode::cmd, "remote-cmd framed protocol: command executions/s", 8, 0},
    {Mode::idle, "many idle connections: server RSS per connection, then every one must still echo", 1000, 16},
};

void add_common(CLI::App& sub, Options& o, const ModeDefaults& d)
{
    sub.add_option("--connect", o.connect,
                   d.mode == Mode::udp ? "server: udp://HOST:PORT"
                                       : "server: tcp://HOST:PORT, unix:///path or unix:@name")
        ->required();
    sub.add_option("--clients", o.clients,
                   d.mode == Mode::idle ? "connections to open" : "concurrent clients (connections)")
        ->default_val(d.clients);
    sub.add_option("--duration", o.duration_s,
                   d.mode == Mode::idle ? "seconds allowed for the echo check of all connections"
                                        : "seconds of load (at most 300)")
        ->default_val(5.0);
    sub.add_option("--server-pid", o.server_pid, "server process: report its CPU per request (and RSS in idle mode)");
    sub.add_flag("--json", o.json, "report a JSON object instead of the key=value line");
    sub.add_option("--seed", o.seed, "payload seed")->default_val(1);
    sub.add_option("--ramp-timeout", o.ramp_timeout_s, "seconds allowed to open the connections")->default_val(60.0);
    sub.add_option("--max-pending-connects", o.max_pending_connects, "handshakes in flight while ramping up")
        ->default_val(256)
        ->check(CLI::Range(1u, 4096u));
}

void add_payload(CLI::App& sub, Options& o, std::string& expect, const ModeDefaults& d)
{
    sub.add_option("--size", o.size, "message size in bytes")->default_val(d.size);
    sub.add_option("--expect", expect, "what the server returns: upper (ASCII upper-case) or same")
        ->default_val("upper")
        ->check(CLI::IsMember({"upper", "same"}));
}

void validate(Options& o)
{
    if (o.duration_s <= 0 || o.duration_s > kMaxDurationS)
        throw std::invalid_argument("--duration must be in (0, 300] seconds");
    if (o.ramp_timeout_s <= 0 || o.ramp_timeout_s > kMaxDurationS)
        throw std::invalid_argument("--ramp-timeout must be in (0, 300] seconds");
    if (o.clients == 0) throw std::invalid_argument("--clients must be at least 1");
    if (o.clients > kMaxConnections)
        throw std::invalid_argument("refusing " + std::to_string(o.clients) + " connections: at most " +
                                    std::to_string(kMaxConnections) +
                                    " (the per-process open-file limit here is 20,000)");
    Endpoint ep = parse_endpoint(o.connect);
    if (o.mode == Mode::udp && ep.transport != Transport::udp)
        throw std::invalid_argument("udp mode needs --connect udp://HOST:PORT");
    if (o.mode != Mode::udp && ep.transport == Transport::udp)
        throw std::invalid_argument(std::string(mode_name(o.mode)) +
                                    " mode needs a stream endpoint (tcp:// or unix://)");
    if (o.mode == Mode::echo || o.mode == Mode::idle || o.mode == Mode::udp) {
        size_t max = o.mode == Mode::udp ? kMaxDatagram : kMaxStreamMessage;
        if (o.size == 0 || o.size > max)
            throw std::invalid_argument("--size must be in [1, " + std::to_string(max) + "]");
    }
    if (o.mode == Mode::udp && (o.udp_timeout_ms < 1 || o.udp_timeout_ms > 10'000))
        throw std::invalid_argument("--timeout-ms must be in [1, 10000]");
    if (o.mode == Mode::cmd && o.argv.empty()) throw std::invalid_argument("--argv needs at least the program");
    if (o.server_pid < 0) throw std::invalid_argument("--server-pid must be a process id");
}

} // namespace

const char* mode_name(Mode mode)
{
    switch (mode) {
    case Mode::echo:
        return "echo";
    case Mode::udp:
        return "udp";
    case Mode::churn:
        return "churn";
    case Mode::cmd:
        return "cmd";
    case Mode::idle:
        return "idle";
    }
    return "?";
}

std::optional<Options> parse_command_line(int argc, char** argv, int& exit_code)
{
    CLI::App app{"ringd-bench: ringd's load generator. Every mode stops by itself and prints its result on the last "
                 "line;\nexit status 1 if any reply failed verification (or any other error was counted)."};
    app.require_subcommand(1);
    // One Options per subcommand: CLI11 writes each option's default into its variable when it is declared.
    constexpr size_t kCount = std::size(kModes);
    std::array<Options, kCount> per_mode;
    std::array<std::string, kCount> expect;
    std::array<CLI::App*, kCount> subs{};
    for (size_t m = 0; m < kCount; ++m) {
        const ModeDefaults& d = kModes[m];
        Options& o = per_mode[m];
        o.mode = d.mode;
        CLI::App* sub = subs[m] = app.add_subcommand(mode_name(d.mode), d.help);
        add_common(*sub, o, d);
        switch (d.mode) {
        case Mode::echo:
        case Mode::idle:
            add_payload(*sub, o, expect[m], d);
            break;
        case Mode::udp:
            add_payload(*sub, o, expect[m], d);
            sub->add_option("--timeout-ms", o.udp_timeout_ms, "resend a request unanswered this long")
                ->default_val(200.0);
            break;
        case Mode::churn:
            sub->add_option("--contains", o.contains, "every reply must contain this text");
            break;
        case Mode::cmd:
            sub->add_option("--argv", o.argv, "the command to run (program then arguments)")->default_str("true");
            sub->add_option("--expect-exit", o.expect_exit, "exit code that counts as ok")->default_val(0);
            sub->add_option("--contains", o.contains, "stdout must contain this text");
            sub->add_flag("--reconnect", o.reconnect, "a new connection for every request");
            break;
        }
    }
    Options o;
    try {
        app.parse(argc, argv);
        for (size_t m = 0; m < kCount; ++m) {
            if (!subs[m]->parsed()) continue;
            o = per_mode[m];
            o.expect = expect[m] == "same" ? Expect::same : Expect::upper;
        }
        validate(o);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        exit_code = rc == 0 ? 0 : 2;
        return std::nullopt;
    } catch (const std::invalid_argument& e) {
        std::cerr << "ringd-bench: " << e.what() << "\n";
        exit_code = 2;
        return std::nullopt;
    }
    return o;
}

} // namespace ringd_bench
