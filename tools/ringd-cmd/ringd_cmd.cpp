// ringd-cmd: runs one command on a ringd remote-cmd listener and behaves like the command did: its stdout on
// stdout, its stderr on stderr, its exit status as ours. See `ringd-cmd --help` (or ringd-cmd(1)).
#include "cmd_client.hpp"
#include "common/config_units.hpp"
#include "settings.hpp"

#include <CLI/CLI.hpp>
#include <iostream>
#include <stdexcept>
#include <unistd.h>

namespace {

constexpr int kOwnFailure = 125; // like timeout(1) and env(1): the tool itself failed
constexpr auto kConnectTimeout = std::chrono::seconds(10);

constexpr const char* kManual = R"(NAME
    ringd-cmd - run a command on a ringd remote-cmd listener

SYNOPSIS
    ringd-cmd [-c URL] [-p framed|json-header] [-t FILE] [--timeout DURATION] [--line] [--json]
              [--] COMMAND [ARG...]

DESCRIPTION
    ringd-cmd sends COMMAND and its ARGs to a ringd listener served by the remote-cmd plugin, which runs it
    (if its allow list permits) and sends back what it printed. ringd-cmd writes the command's standard
    output to its standard output and the command's standard error to its standard error, and exits with
    the command's exit status, so it can stand in for the command in scripts.

    Arguments are sent exactly as given: with --protocol framed as a JSON array, with json-header as one
    command line in which every argument is single-quoted as needed. Nothing is expanded on either side;
    characters such as ; | & $ * > are passed to the command as ordinary bytes.

    Use -- before COMMAND when COMMAND or its first arguments start with a dash.

OPTIONS
    -c, --connect URL
        Where the listener is: tcp://HOST:PORT, tcp://[IPv6]:PORT, unix:///PATH or unix:@NAME (abstract).
        Default: tcp://127.0.0.1:8000, the listener in the shipped ringd.yaml.

    -p, --protocol framed|json-header
        The listener's wire format (its `protocol:`). Default: json-header, the format of the shipped
        listener. Prefer framed for new listeners: it carries argv exactly, tokens, per-request timeouts and
        structured errors, and has no 4096-byte request limit.

    -t, --token-file FILE
        Send the token stored in FILE (surrounding blanks removed). framed only.

    --timeout DURATION
        Ask for a shorter timeout than the listener's (e.g. 500ms, 5s, 2m); the listener's `timeout:` is
        the upper bound. framed only.

    -l, --line
        Send the arguments joined with spaces as one command line instead of as an argv, for the server to
        split with shell quoting, or to run with /bin/sh -c on a `shell: true` listener:
            ringd-cmd --protocol framed --line -- 'ls /etc | wc -l'

    --json
        First print the reply's header (one line of JSON) on standard output, then the output as usual.

    -h, --help
        Print this manual.

    -V, --version
        Print the version.

ENVIRONMENT
    RINGD_CMD_CONNECT, RINGD_CMD_PROTOCOL, RINGD_CMD_TOKEN_FILE
        Defaults for --connect, --protocol and --token-file.

EXIT STATUS
    The command's exit status, or:
    124  the command timed out on the server (and was killed)
    125  ringd-cmd or the server failed: cannot connect, bad usage, malformed reply, server busy, request
         rejected as malformed
    126  the command is not allowed (allow list, token, peer credentials) or cannot be executed
    127  the command was not found on the server
    128+N  the command was killed by signal N

EXAMPLES
    ringd-cmd -- uptime
    ringd-cmd -- ls -l /var/log
    ringd-cmd -c unix:///run/ringd/cmd.sock -p framed -t /etc/ringd/cmd.token -- df -h
    ringd-cmd --json -- date | head -n 1

SEE ALSO
    ringd(8), the remote-cmd section of the ringd documentation.
)";

int run(int argc, char** argv)
{
    CLI::App app{"ringd-cmd: run a command on a ringd remote-cmd listener"};
    app.set_help_flag();
    bool help = false;
    bool version = false;
    bool json = false;
    bool line = false;
    std::string connect = "tcp://127.0.0.1:8000";
    std::string protocol_name = "json-header";
    std::string token_file;
    std::string timeout;
    app.add_flag("-h,--help", help);
    app.add_flag("-V,--version", version);
    app.add_flag("--json", json);
    app.add_flag("-l,--line", line);
    app.add_option("-c,--connect", connect)->envname("RINGD_CMD_CONNECT");
    app.add_option("-p,--protocol", protocol_name)->envname("RINGD_CMD_PROTOCOL");
    app.add_option("-t,--token-file", token_file)->envname("RINGD_CMD_TOKEN_FILE");
    app.add_option("--timeout", timeout);
    app.prefix_command(); // everything from COMMAND on belongs to the command
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::cerr << "ringd-cmd: " << e.what() << " (see ringd-cmd --help)\n";
        return kOwnFailure;
    }
    if (help) {
        std::cout << kManual;
        return 0;
    }
    if (version) {
        std::cout << "ringd-cmd " << RINGD_VERSION << "\n";
        return 0;
    }

    std::vector<std::string> command = app.remaining();
    if (!command.empty() && command.front() == "--") {
        command.erase(command.begin());
    } else if (!command.empty() && command.front().starts_with("-")) {
        std::cerr << "ringd-cmd: unknown option " << command.front() << " (put -- before the command)\n";
        return kOwnFailure;
    }
    if (command.empty()) {
        std::cerr << "ringd-cmd: no command given (see ringd-cmd --help)\n";
        return kOwnFailure;
    }
    const auto protocol = ringd::cmd_client::parse_protocol(protocol_name);
    if (!protocol) {
        std::cerr << "ringd-cmd: --protocol must be framed or json-header, not " << protocol_name << "\n";
        return kOwnFailure;
    }

    ringd::cmd_client::Request request;
    request.argv = std::move(command);
    request.as_line = line;
    if (!token_file.empty()) request.token = ringd::cmd_client::read_token_file(token_file);
    if (!timeout.empty()) {
        const auto ms = ringd::plugin_common::parse_duration(timeout).count();
        if (ms <= 0) throw std::invalid_argument("--timeout must be greater than 0");
        request.timeout_ms = static_cast<uint64_t>(ms);
    }
    const std::string bytes = ringd::cmd_client::encode_request(*protocol, request);

    const int fd = ringd::cmd_client::connect_target(ringd::cmd_client::parse_target(connect), kConnectTimeout);
    ringd::cmd_client::send_all(fd, bytes);
    const auto print_header = [](const nlohmann::json& header) { std::cout << header.dump() << std::endl; };
    const auto reply = ringd::cmd_client::read_reply(fd, *protocol, STDOUT_FILENO, STDERR_FILENO,
                                                     json ? ringd::cmd_client::HeaderCallback(print_header)
                                                          : ringd::cmd_client::HeaderCallback());
    ::close(fd);
    if (!reply.error.empty()) std::cerr << "ringd-cmd: " << reply.error << "\n";
    return reply.exit_status;
}

} // namespace

int main(int argc, char** argv)
{
    try {
        return run(argc, argv);
    } catch (const std::exception& e) {
        std::cerr << "ringd-cmd: " << e.what() << "\n";
        return kOwnFailure;
    }
}
