// Argument policies of allow entries; see allow_entry.hpp.
#include "allow_entry.hpp"

#include <algorithm>

namespace ringd::remote_cmd {

bool AllowEntry::permits(std::span<const std::string> arguments) const
{
    if (args) return std::ranges::equal(arguments, *args);
    if (!pattern) return true;
    return std::ranges::all_of(arguments, [this](const std::string& arg) {
        if (arg.size() > kMaxPatternArgument) return false;
        try {
            return std::regex_match(arg, *pattern);
        } catch (const std::regex_error&) {
            return false; // error_complexity / error_stack: a refusal, never an allowed argument
        }
    });
}

void AllowEntry::set_pattern(const std::string& text)
{
    pattern = std::make_shared<const std::regex>(text, std::regex::ECMAScript);
    args_pattern = text;
}

} // namespace ringd::remote_cmd
