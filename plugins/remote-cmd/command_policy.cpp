// Allow-list decisions and PATH resolution; see command_policy.hpp.
#include "command_policy.hpp"

#include "argv_splitter.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace ringd::remote_cmd {
namespace {

// Request bytes quoted back in a message are capped: a 64 KiB command name helps nobody.
std::string shown(std::string_view name)
{
    constexpr std::size_t kMax = 200;
    if (name.size() <= kMax) return std::string(name);
    return std::string(name.substr(0, kMax)) + "...";
}

Failure failure(ErrorKind kind, std::string message)
{
    return Failure{kind, std::move(message)};
}

// The arguments as a message shows them: each quoted if it is empty or holds a blank, the whole capped.
std::string shown_arguments(std::span<const std::string> arguments)
{
    std::string text;
    for (const std::string& arg : arguments) {
        if (!text.empty()) text += ' ';
        const bool quote = arg.empty() || std::ranges::any_of(arg, is_blank);
        text += quote ? "'" + arg + "'" : arg;
    }
    return shown(text);
}

} // namespace

CommandPolicy::CommandPolicy(const std::vector<AllowEntry>& allow, bool shell) : shell_(shell)
{
    for (const AllowEntry& entry : allow) {
        if (entry.command == "*") {
            any_ = true;
        } else {
            allow_[entry.command].push_back(entry);
        }
    }
}

Plan CommandPolicy::plan_argv(std::vector<std::string> argv) const
{
    if (argv.empty()) return failure(ErrorKind::bad_request, "empty command");
    const std::string name = argv.front();
    const auto entries = allow_.find(name);
    if (!any_ && entries == allow_.end()) return failure(ErrorKind::not_allowed, "command not allowed: " + shown(name));
    if (name.empty()) return failure(ErrorKind::not_allowed, "command not allowed: (empty name)");
    if (entries != allow_.end()) {
        const std::span<const std::string> arguments(argv.begin() + 1, argv.end());
        const bool permitted =
            std::ranges::any_of(entries->second, [&](const AllowEntry& e) { return e.permits(arguments); });
        if (!permitted) {
            return failure(ErrorKind::not_allowed,
                           arguments.empty()
                               ? "command not allowed without arguments: " + shown(name)
                               : "arguments not allowed for " + shown(name) + ": " + shown_arguments(arguments));
        }
    }

    std::string path;
    if (name.front() == '/') {
        path = name;
    } else if (name.find('/') != std::string::npos) {
        // Only reachable with "*": a relative path would depend on the working directory.
        return failure(ErrorKind::not_allowed, "command not allowed (relative path): " + shown(name));
    } else if (auto found = find_in_search_path(name)) {
        path = std::move(*found);
    } else {
        return failure(ErrorKind::not_found, "command not found: " + shown(name));
    }
    argv.front() = std::move(path);
    return ExecPlan{std::move(argv), name};
}

Plan CommandPolicy::plan_line(std::string_view line) const
{
    line = trim_blanks(line);
    if (line.empty()) return failure(ErrorKind::bad_request, "empty command");
    if (shell_) {
        if (line.find('\0') != std::string_view::npos) {
            return failure(ErrorKind::bad_request, "command line contains a NUL byte");
        }
        return ExecPlan{{std::string(kShell), "-c", std::string(line)}, "sh"};
    }
    SplitResult split = split_command_line(line);
    if (!split.ok()) return failure(ErrorKind::bad_request, split.error);
    return plan_argv(std::move(split.argv));
}

std::optional<std::string> allow_entry_error(std::string_view entry)
{
    if (entry == "*") return std::nullopt;
    if (entry.empty()) return "an allow entry must not be empty";
    for (char c : entry) {
        if (c == '\0' || is_blank(c)) {
            return "allow entries are single command names or absolute paths, without blanks: \"" + shown(entry) +
                   "\" (to restrict arguments, write {command: NAME, args: [...]} or {command: NAME, args_pattern: "
                   "RE})";
        }
    }
    if (entry.front() != '/' && entry.find('/') != std::string_view::npos) {
        return "\"" + shown(entry) + "\" is a relative path: use a command name (looked up in " +
               "/usr/local/bin:/usr/bin:/bin) or an absolute path";
    }
    if (entry == "." || entry == "..") return "\"" + std::string(entry) + "\" is not a command";
    return std::nullopt;
}

std::optional<std::string> find_in_search_path(std::string_view name)
{
    if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) return std::nullopt;
    for (std::string_view dir : kSearchPath) {
        std::string path = std::string(dir) + "/" + std::string(name);
        struct stat st {};
        if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0) return path;
    }
    return std::nullopt;
}

Failure spawn_failure(const std::string& name, int error, int step, const std::string& run_as)
{
    const std::string why = std::strerror(error);
    switch (step) {
    case RINGD_SPAWN_STEP_CREDENTIALS:
        // The command exists and is allowed; ringd (typically lacking CAP_SETUID/CAP_SETGID) could not become
        // the configured user. Saying so beats a bare "exit 126" that looks like the command's own.
        return failure(ErrorKind::cannot_execute,
                       (run_as.empty() ? "cannot switch user for " + shown(name) : "cannot switch to user " + run_as) +
                           ": " + why);
    case RINGD_SPAWN_STEP_CWD:
        return failure(ErrorKind::internal, "cannot enter the working directory for " + shown(name) + ": " + why);
    case RINGD_SPAWN_STEP_STDIO:
        return failure(ErrorKind::internal, "cannot set up stdin/stdout/stderr for " + shown(name) + ": " + why);
    case RINGD_SPAWN_STEP_HOST:
        return failure(ErrorKind::internal, "cannot start " + shown(name) + ": " + why);
    default: // RINGD_SPAWN_STEP_EXEC, or a step this plugin does not know
        break;
    }
    if (error == ENOENT) return failure(ErrorKind::not_found, "command not found: " + shown(name));
    if (error == EACCES || error == ENOEXEC || error == EPERM) {
        return failure(ErrorKind::cannot_execute, "cannot execute " + shown(name) + ": " + why);
    }
    return failure(ErrorKind::internal, "cannot start " + shown(name) + ": " + why);
}

std::string loggable(std::string_view text)
{
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (const char c : text) {
        const auto b = static_cast<unsigned char>(c);
        if (b < 0x20 || b == 0x7f) {
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 0xf];
        } else {
            out += c;
        }
    }
    return out;
}

bool constant_time_equal(std::string_view secret, std::string_view candidate)
{
    // Touch every byte of the secret whatever the candidate is; fold the length difference in at the end.
    unsigned diff = secret.size() == candidate.size() ? 0u : 1u;
    for (std::size_t i = 0; i < secret.size(); ++i) {
        const unsigned char c = i < candidate.size() ? static_cast<unsigned char>(candidate[i]) : 0u;
        diff |= static_cast<unsigned char>(secret[i]) ^ c;
    }
    return diff == 0;
}

} // namespace ringd::remote_cmd
