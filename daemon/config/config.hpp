// The daemon's configuration as loaded from ringd.yaml and its `include:` drop-ins, fully validated.
// Loading either returns a Config that is safe to act on, or throws ConfigErrors listing *every* problem,
// each naming file:line:col, the listener (when there is one) and what was expected.
// Warnings are for settings that are valid but almost certainly not what was meant (10.1.2.3/8, an `allow`
// entry a `deny` covers, ...): they never refuse a config, and travel with it (Config::warnings) to be logged.
#pragma once

#include "config/endpoint.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::config {

struct Location {
    std::string file;
    int line = 0;                          // 1-based
    int column = 0;                        // 1-based
    [[nodiscard]] std::string str() const; // "file:line:col"
};

enum class Severity { error, warning };

struct Diagnostic {
    Location where;
    std::string listener; // empty when not about one listener
    std::string message;
    Severity severity = Severity::error;
    // "file:line:col: listener 'x': message" (listener part optional); a warning has "warning: " after the
    // position, as compilers print it.
    [[nodiscard]] std::string str() const;
};

// `connection_rate_per_source: { rate: 50/s, burst: 100 }`: `count` new connections per `per` (1s, 1m or 1h),
// and at most `burst` at once (a token bucket per source).
struct ConnectionRate {
    uint32_t count = 1;
    std::chrono::seconds per{1};
    uint32_t burst = 1; // written, else `count`

    friend bool operator==(const ConnectionRate&, const ConnectionRate&) = default;
};

struct Limits {
    uint32_t max_connections = 10000;               // per listener
    std::chrono::milliseconds idle_timeout{60'000}; // 0 = none
    uint64_t max_output_buffer = 1024 * 1024;       // per connection, bytes
    // Outbound connections (host->connect) open at once, per listener. Unset: the listener's max_connections,
    // so a listener that sets only max_connections gets the same bound for both.
    std::optional<uint32_t> max_outbound_connections;

    // Per source: a client address (the one a PROXY header names, when there is one), masked to
    // source_prefix_v4 / source_prefix_v6, all workers together. Off unless set (`off` unsets an inherited one).
    // Enforced at accept (engine/worker_accept.cpp, with daemon/limits/source_table.hpp).
    std::optional<uint32_t> max_connections_per_source;
    std::optional<ConnectionRate> connection_rate_per_source;
    unsigned source_prefix_v4 = 32;       // 0..32
    unsigned source_prefix_v6 = 64;       // 0..128
    uint32_t max_tracked_sources = 65536; // sources tracked at once, per listener

    [[nodiscard]] uint32_t outbound_limit() const { return max_outbound_connections.value_or(max_connections); }
    [[nodiscard]] bool limits_per_source() const
    {
        return max_connections_per_source.has_value() || connection_rate_per_source.has_value();
    }
};

// `proxy_protocol:` of a listener: which PROXY protocol header (HAProxy's doc/proxy-protocol.txt) every
// connection (on udp: every datagram) must begin with. `any` takes either version, told apart by the first bytes.
enum class ProxyProtocol { off, v1, v2, any };

[[nodiscard]] std::string_view describe(ProxyProtocol protocol); // "off", "v1", "v2", "any"

struct ListenerConfig {
    std::string name;
    Endpoint endpoint;
    std::filesystem::path plugin_path; // resolved: absolute, or plugin_dir / (plugin + ".so")
    std::vector<Cidr> allow;           // empty = everyone (subject to deny)
    std::vector<Cidr> deny;
    Limits limits;             // defaults merged with the listener's own `limits:`
    uint32_t unix_mode = 0666; // permission bits of a unix:///path socket file (`mode:`)
    bool access_log = false;   // a record per closed or refused connection (docs/access-log.md)
    // PROXY protocol: a header from a peer in `proxy_trusted` names the real client. A unix listener has no
    // `proxy_trusted` (its peers have no address; the socket file's mode decides who may send a header).
    // Streams: engine/worker_accept.cpp; datagrams: engine/worker_datagram.cpp.
    ProxyProtocol proxy_protocol = ProxyProtocol::off;
    std::vector<Cidr> proxy_trusted;               // who may send a header; required with proxy_protocol on tcp/udp
    std::chrono::milliseconds proxy_timeout{3000}; // a stream's header must be complete this long after accept
    std::string plugin_config_yaml;                // the `config:` mapping re-emitted as YAML; "{}" when absent
    Location where;                                // the listener's entry
    Location plugin_where;                         // its `plugin:` value (for plugin load errors)
    // Dotted key path inside `config:` -> where it was written. The empty key is the `config:` node itself
    // (or the listener entry when there is no `config:`). Used to place plugin-reported errors.
    std::map<std::string, Location> config_key_locations;

    [[nodiscard]] const Location& locate_config_key(const std::string& dotted_key) const;
};

// The admin listener (top-level `admin:`, docs/metrics.md): ringd's own HTTP endpoint for /metrics, /healthz and
// /status, served by the engine as a listener named `admin` (a name no listener may take). Off unless configured.
inline constexpr std::string_view admin_listener_name = "admin";

struct AdminConfig {
    Endpoint endpoint;       // tcp:// or unix:// (not udp)
    std::vector<Cidr> allow; // tcp: [127.0.0.0/8, ::1/128] unless written
    std::vector<Cidr> deny;
    uint32_t unix_mode = 0660;                       // a unix:///path socket file: ringd's user and group
    std::chrono::milliseconds request_timeout{5000}; // a request head must be complete this long after connect
    Location where;                                  // the `admin:` value
};

struct Config {
    unsigned workers = 1;             // `auto` resolves to the number of online CPUs
    std::filesystem::path plugin_dir; // absolute
    std::string log_level = "info";   // trace, debug, info, warn, error
    Limits limits;                    // the top-level defaults
    std::chrono::milliseconds shutdown_timeout{5'000};
    std::chrono::milliseconds drain_grace{5'000}; // SIGUSR2: how long listeners go on accepting while draining
    std::optional<AdminConfig> admin;
    bool access_log = false;                  // the default of every listener's `access_log:`
    std::vector<ListenerConfig> listeners;    // main file first, then includes in sorted path order
    std::vector<std::filesystem::path> files; // every file read (main + includes)
    std::vector<Diagnostic> warnings;         // in file order, then by position (docs/configuration.md#warnings)
};

class ConfigErrors : public std::runtime_error {
public:
    // `warnings`: those found in the same (refused) config, so that a check can show them alongside.
    explicit ConfigErrors(std::vector<Diagnostic> diagnostics, std::vector<Diagnostic> warnings = {});
    [[nodiscard]] const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
    [[nodiscard]] const std::vector<Diagnostic>& warnings() const { return warnings_; }

private:
    std::vector<Diagnostic> diagnostics_;
    std::vector<Diagnostic> warnings_;
};

struct LoadOptions {
    std::optional<std::filesystem::path> plugin_dir_override; // --plugin-dir
    bool check_plugin_files = true;                           // a missing .so is an error
};

// Reads `file` and its includes. Throws ConfigErrors.
[[nodiscard]] Config load_config(const std::filesystem::path& file, const LoadOptions& options = {});

// Parses YAML text as if it were the file `file_name` (relative paths resolve against base_dir).
// Includes are read from disk. Throws ConfigErrors. This is what the unit tests drive.
[[nodiscard]] Config parse_config(const std::string& yaml_text, const std::string& file_name,
                                  const std::filesystem::path& base_dir, const LoadOptions& options = {});

} // namespace ringd::config
