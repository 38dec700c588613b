// Command lines to argv and back, with the quoting rules of the POSIX shell and nothing else.
//
// A request line is split on blanks (space, tab, newline, CR, VT, FF). Quoting follows sh(1):
//   '...'   everything up to the next ' is literal;
//   "..."   literal except that \ escapes " \ $ ` and newline;
//   \c      outside quotes, c is literal (backslash-newline is a line continuation and vanishes).
// There are no expansions or operators of any kind: ; | & < > $ ` * ? ( ) { } ~ # and newlines are ordinary
// bytes (or, for newline, a blank), so "ls; id" is argv ["ls;", "id"] and never runs id.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringd::remote_cmd {

struct SplitResult {
    std::vector<std::string> argv;
    std::string error; // empty on success; otherwise says what is wrong with the line
    [[nodiscard]] bool ok() const { return error.empty(); }
};

// Splits `line` into words. Errors: unterminated quote, dangling backslash, NUL byte. An empty or blank line
// gives an empty argv (not an error: the caller decides).
[[nodiscard]] SplitResult split_command_line(std::string_view line);

// The inverse: a line that split_command_line() turns back into exactly `argv` (arguments must not contain
// NUL). Plain words stay as they are; anything else is single-quoted.
[[nodiscard]] std::string quote_argv(std::span<const std::string> argv);

[[nodiscard]] constexpr bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// `text` without leading and trailing blanks.
[[nodiscard]] std::string_view trim_blanks(std::string_view text);

} // namespace ringd::remote_cmd
