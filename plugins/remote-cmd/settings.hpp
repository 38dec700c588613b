// remote-cmd's per-listener configuration (the listener's `config:` mapping), parsed and fully validated at
// create() time. Every problem is a ringd::ConfigError naming the key, so `ringd --check-config` reports it
// as file:line:col. Reading token_file and resolving user and group names happen here, on the main thread.
//
//   protocol: json-header | size-prefixed | framed      required
//   allow: [ls, /opt/tools/report]                       names (looked up in /usr/local/bin:/usr/bin:/bin) or
//                                                        absolute paths; missing or empty refuses everything;
//     - {command: date, args: ["+%s"]}                   an entry may restrict arguments (allow_entry.hpp)
//   shell: false                                         true = /bin/sh -c LINE; requires "*" in allow
//   timeout: 10s             max_output: 1MiB            max_request: 64KiB
//   max_concurrent: 16       max_queued: 64              queue_timeout: 10s
//   token_file: /etc/ringd/cmd.token                     framed only; the file must not be accessible by others
//   allow_uids: [0, alice]   allow_gids: [adm]           unix-socket peers (SO_PEERCRED); either list matching
//   run_as: nobody                                       needs ringd to run as root
//   request_assembly: 5ms                                line protocols: quiet time that ends a request
//                                                        without a newline (line_assembler.hpp)
#pragma once

#include "allow_entry.hpp"
#include "response_encoder.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::remote_cmd {

struct Settings {
    Protocol protocol = Protocol::framed;
    std::vector<AllowEntry> allow;
    bool shell = false;
    std::chrono::milliseconds timeout{10'000};
    uint64_t max_output = 1024 * 1024;
    uint32_t max_request = 64 * 1024;
    uint32_t max_concurrent = 16;
    uint32_t max_queued = 64;
    std::chrono::milliseconds queue_timeout{10'000};
    std::chrono::milliseconds request_assembly{5};   // json-header, size-prefixed: see line_assembler.hpp
    std::optional<std::string> token;                // the contents of token_file, trailing blanks removed
    std::optional<std::vector<uint32_t>> allow_uids; // present = peer credentials are checked
    std::optional<std::vector<uint32_t>> allow_gids;
    int64_t run_as_uid = -1; // -1 = as ringd
    int64_t run_as_gid = -1;
    std::string run_as;                // the user name, for messages
    std::vector<std::string> warnings; // for the daemon's log at start

    [[nodiscard]] bool checks_peer() const { return allow_uids.has_value() || allow_gids.has_value(); }
};

// Throws ringd::ConfigError(key, message).
[[nodiscard]] Settings parse_settings(std::string_view config_yaml);

} // namespace ringd::remote_cmd
