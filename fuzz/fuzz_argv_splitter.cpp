// libFuzzer target: remote-cmd's command-line splitter, its inverse, and the allow-list decision on top.
//
// Checks, beyond "no crash, no sanitizer report":
//   - a successful split has no NUL in any word, and quote_argv() of it splits back to the same argv;
//   - with an allow list of just "echo", nothing but echo (resolved in the fixed PATH) is ever planned, and
//     never a shell.
#include "argv_splitter.hpp"
#include "command_policy.hpp"

#include <cstdlib>
#include <string_view>

using namespace ringd::remote_cmd;

namespace {

void check(bool condition)
{
    if (!condition) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    const SplitResult split = split_command_line(line);
    if (split.ok()) {
        for (const std::string& word : split.argv)
            check(word.find('\0') == std::string::npos);
        const SplitResult again = split_command_line(quote_argv(split.argv));
        check(again.ok());
        check(again.argv == split.argv);
    } else {
        check(split.argv.empty() || !split.error.empty());
    }

    static const CommandPolicy policy({"echo"}, false);
    const Plan plan = policy.plan_line(line);
    if (const auto* exec = std::get_if<ExecPlan>(&plan)) {
        check(exec->name == "echo");
        check(exec->argv.front().ends_with("/echo"));
        check(exec->argv.front() != "/bin/sh");
    }
    return 0;
}
