// What a remote-cmd listener may run, and how: the allow list, shell mode, PATH resolution and the token
// comparison. Pure decisions with no I/O except looking at the fixed PATH directories.
#pragma once

#include "allow_entry.hpp"
#include "response_encoder.hpp"

#include <array>
#include <map>
#include <optional>
#include <ringd/plugin.h>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ringd::remote_cmd {

// Command names are resolved in this fixed PATH, never the daemon's or the client's.
inline constexpr std::array<std::string_view, 3> kSearchPath = {"/usr/local/bin", "/usr/bin", "/bin"};
inline constexpr std::string_view kShell = "/bin/sh";

// A command ready for host->spawn.
struct ExecPlan {
    std::vector<std::string> argv; // argv[0] is an absolute path
    std::string name;              // the command as the request named it, for messages
};
using Plan = std::variant<ExecPlan, Failure>;

class CommandPolicy {
public:
    // `allow` entries name "*", command names, or absolute paths (see allow_entry_error). "*" means anything,
    // and is accepted by the settings parser only together with shell: true.
    CommandPolicy(const std::vector<AllowEntry>& allow, bool shell);

    // An argv (a framed "argv", or a split command line). argv[0] must equal an allow entry's command
    // literally: "ls" is allowed by the entry "ls" (and runs the first ls in kSearchPath), "/bin/ls" only by
    // "/bin/ls"; and one of the entries for that command must allow the other arguments.
    [[nodiscard]] Plan plan_argv(std::vector<std::string> argv) const;

    // A command line (json-header, size-prefixed, framed "cmd"): split with shell quoting and checked like
    // an argv, or, in shell mode, given whole to /bin/sh -c.
    [[nodiscard]] Plan plan_line(std::string_view line) const;

    [[nodiscard]] bool shell() const { return shell_; }
    [[nodiscard]] bool refuses_everything() const { return allow_.empty() && !any_; }

private:
    std::map<std::string, std::vector<AllowEntry>, std::less<>> allow_; // by command
    bool any_ = false;
    bool shell_ = false;
};

// Why `entry` cannot be an allow-list entry, or nullopt if it is fine.
[[nodiscard]] std::optional<std::string> allow_entry_error(std::string_view entry);

// The first executable regular file named `name` in kSearchPath.
[[nodiscard]] std::optional<std::string> find_in_search_path(std::string_view name);

// The answer for a command the host could not start (spawn() failed at once, or its result says so). `step` is
// the result's spawn_step. At exec: ENOENT is not found (127), EACCES/ENOEXEC/EPERM cannot execute (126),
// anything else internal (125). Switching to the run_as user (named by `run_as`) is cannot execute; the other
// steps before exec (descriptors, working directory) and the host's own resources are internal.
[[nodiscard]] Failure spawn_failure(const std::string& name, int error, int step = RINGD_SPAWN_STEP_EXEC,
                                    const std::string& run_as = {});

// Request bytes for a log line: control characters escaped as \xNN, so they cannot forge log lines.
[[nodiscard]] std::string loggable(std::string_view text);

// Compares a secret with a candidate in time that depends only on the secret's length.
[[nodiscard]] bool constant_time_equal(std::string_view secret, std::string_view candidate);

} // namespace ringd::remote_cmd
