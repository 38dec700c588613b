// One entry of remote-cmd's allow list: a command and, optionally, which arguments it may be given.
//
//   - ls                          any arguments (a plain string: the only form before argument policies)
//   - {command: date, args: []}   exactly these arguments, here none
//   - {command: date, args: ["+%s"]}
//   - {command: df, args_pattern: '-h|/[a-z/]*'}
//                                 any number of arguments, each of which fully matches the ECMAScript
//                                 regular expression (std::regex_match); an argument longer than
//                                 kMaxPatternArgument bytes never matches
// Several entries may name the same command: a request is allowed if any of them allows its arguments.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <regex>
#include <span>
#include <string>
#include <vector>

namespace ringd::remote_cmd {

// libstdc++'s std::regex matches recursively, about one stack frame per input byte: arguments checked against
// a pattern are capped so that a client's 1 MiB argument cannot exhaust a worker's stack.
inline constexpr std::size_t kMaxPatternArgument = 1024;

struct AllowEntry {
    // A plain entry: the command with any arguments. Implicit, so that a list of names is an allow list.
    AllowEntry(std::string name) : command(std::move(name)) {} // NOLINT(google-explicit-constructor)
    AllowEntry(const char* name) : command(name) {}            // NOLINT(google-explicit-constructor)

    std::string command;                          // "*", a command name, or an absolute path
    std::optional<std::vector<std::string>> args; // exactly these arguments
    std::optional<std::string> args_pattern;      // the pattern's text, for messages
    std::shared_ptr<const std::regex> pattern;    // compiled args_pattern; shared so that entries copy cheaply

    // No argument policy: any arguments.
    [[nodiscard]] bool any_arguments() const { return !args && !pattern; }

    // Whether `arguments` (argv without argv[0]) are allowed by this entry.
    [[nodiscard]] bool permits(std::span<const std::string> arguments) const;

    // Compiles `text` into `pattern`; throws std::regex_error with the library's description.
    void set_pattern(const std::string& text);
};

} // namespace ringd::remote_cmd
