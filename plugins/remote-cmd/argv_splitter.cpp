// Command-line splitting and quoting; see argv_splitter.hpp for the rules.
#include "argv_splitter.hpp"

namespace ringd::remote_cmd {
namespace {

// Characters a word may consist of and still be written without quotes.
bool is_plain(char c)
{
    if (c >= 'a' && c <= 'z') return true;
    if (c >= 'A' && c <= 'Z') return true;
    if (c >= '0' && c <= '9') return true;
    return std::string_view("_-./:,+=@%").find(c) != std::string_view::npos;
}

// Inside double quotes a backslash escapes only these (sh(1), "Double-Quotes").
bool escapable_in_double_quotes(char c)
{
    return c == '"' || c == '\\' || c == '$' || c == '`' || c == '\n';
}

SplitResult failure(std::string message)
{
    SplitResult r;
    r.error = std::move(message);
    return r;
}

} // namespace

std::string_view trim_blanks(std::string_view text)
{
    while (!text.empty() && is_blank(text.front()))
        text.remove_prefix(1);
    while (!text.empty() && is_blank(text.back()))
        text.remove_suffix(1);
    return text;
}

SplitResult split_command_line(std::string_view line)
{
    if (line.find('\0') != std::string_view::npos) return failure("command line contains a NUL byte");

    enum class Quote { none, single, dbl };
    SplitResult result;
    std::string word;
    bool in_word = false; // true once the current word has begun, even if it is still empty ('' is a word)
    Quote quote = Quote::none;

    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        switch (quote) {
        case Quote::none:
            if (is_blank(c)) {
                if (in_word) result.argv.push_back(std::move(word));
                word.clear();
                in_word = false;
            } else if (c == '\\') {
                if (i + 1 == line.size()) return failure("dangling backslash at the end of the command line");
                ++i;
                if (line[i] == '\n') continue; // line continuation: both characters vanish
                word += line[i];
                in_word = true;
            } else if (c == '\'') {
                quote = Quote::single;
                in_word = true;
            } else if (c == '"') {
                quote = Quote::dbl;
                in_word = true;
            } else {
                word += c;
                in_word = true;
            }
            break;
        case Quote::single:
            if (c == '\'') {
                quote = Quote::none;
            } else {
                word += c;
            }
            break;
        case Quote::dbl:
            if (c == '"') {
                quote = Quote::none;
            } else if (c == '\\' && i + 1 < line.size() && escapable_in_double_quotes(line[i + 1])) {
                ++i;
                if (line[i] != '\n') word += line[i];
            } else {
                word += c;
            }
            break;
        }
    }
    if (quote == Quote::single) return failure("unterminated single quote in the command line");
    if (quote == Quote::dbl) return failure("unterminated double quote in the command line");
    if (in_word) result.argv.push_back(std::move(word));
    return result;
}

std::string quote_argv(std::span<const std::string> argv)
{
    std::string line;
    for (const std::string& arg : argv) {
        if (!line.empty()) line += ' ';
        bool plain = !arg.empty();
        for (char c : arg)
            plain = plain && is_plain(c);
        if (plain) {
            line += arg;
            continue;
        }
        // Single quotes keep everything literal; a ' itself is closed, escaped, and reopened: 'it'\''s'.
        line += '\'';
        for (char c : arg) {
            if (c == '\'') {
                line += "'\\''";
            } else {
                line += c;
            }
        }
        line += '\'';
    }
    return line;
}

} // namespace ringd::remote_cmd
