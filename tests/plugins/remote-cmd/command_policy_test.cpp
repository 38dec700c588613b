// remote-cmd's allow-list decisions (plugins/remote-cmd/command_policy.hpp). Uses commands every Debian
// system has in /usr/bin or /bin: ls, echo, sh.
#include "command_policy.hpp"

#include <catch2/catch.hpp>
#include <cerrno>

using namespace ringd::remote_cmd;
using Argv = std::vector<std::string>;

namespace {

ExecPlan allowed(const Plan& plan)
{
    if (const auto* f = std::get_if<Failure>(&plan)) FAIL("refused: " << f->message);
    return std::get<ExecPlan>(plan);
}

Failure refused(const Plan& plan)
{
    REQUIRE(std::holds_alternative<Failure>(plan));
    return std::get<Failure>(plan);
}

} // namespace

TEST_CASE("names on the list resolve in the fixed PATH", "[policy]")
{
    const CommandPolicy policy({"ls", "echo"}, false);
    const ExecPlan plan = allowed(policy.plan_argv({"ls", "-l", "/"}));
    CHECK((plan.argv.front() == "/usr/local/bin/ls" || plan.argv.front() == "/usr/bin/ls" ||
           plan.argv.front() == "/bin/ls"));
    CHECK(plan.argv.size() == 3);
    CHECK(plan.argv[1] == "-l");
    CHECK(plan.name == "ls");
}

TEST_CASE("anything else is refused with 126 and never resolved", "[policy]")
{
    const CommandPolicy policy({"ls", "echo"}, false);
    Failure f = refused(policy.plan_argv({"rm", "-rf", "/"}));
    CHECK(f.kind == ErrorKind::not_allowed);
    CHECK(f.message == "command not allowed: rm");
    CHECK(refused(policy.plan_argv({"/bin/ls"})).kind == ErrorKind::not_allowed); // not the literal entry
    CHECK(refused(policy.plan_argv({"./ls"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({"../../bin/ls"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({"LS"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({""})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({})).kind == ErrorKind::bad_request);
}

TEST_CASE("an empty list refuses everything", "[policy]")
{
    const CommandPolicy policy({}, false);
    CHECK(policy.refuses_everything());
    CHECK(refused(policy.plan_argv({"ls"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_line("ls")).kind == ErrorKind::not_allowed);
}

TEST_CASE("absolute entries match only literally and are used as they are", "[policy]")
{
    const CommandPolicy policy({"/bin/echo"}, false);
    CHECK(allowed(policy.plan_argv({"/bin/echo", "hi"})).argv == Argv{"/bin/echo", "hi"});
    CHECK(refused(policy.plan_argv({"echo"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({"/bin//echo"})).kind == ErrorKind::not_allowed);
}

TEST_CASE("an allowed name missing from PATH is not found (127)", "[policy]")
{
    const CommandPolicy policy({"ringd-no-such-command"}, false);
    const Failure f = refused(policy.plan_argv({"ringd-no-such-command"}));
    CHECK(f.kind == ErrorKind::not_found);
    CHECK(f.message == "command not found: ringd-no-such-command");
}

TEST_CASE("command lines are split, never given to a shell", "[policy][security]")
{
    const CommandPolicy policy({"ls", "echo"}, false);
    CHECK(allowed(policy.plan_line("  echo 'a b' c\n")).argv.size() == 3);
    // "ls;" is a word of its own, and not on the list.
    CHECK(refused(policy.plan_line("ls; id")).message == "command not allowed: ls;");
}

TEST_CASE("injection probes are either refused or plain arguments", "[policy][security]")
{
    const CommandPolicy policy({"ls", "echo"}, false);
    for (const char* line : {"ls; id", "ls$(id)", "`id`", "$(id)", "id"}) {
        const Plan plan = policy.plan_line(line);
        INFO(line);
        CHECK(std::holds_alternative<Failure>(plan));
    }
    for (const char* line : {"ls $(id)", "ls | id", "ls && id", "ls\nid", "ls > /tmp/x", "ls `id`"}) {
        const ExecPlan plan = allowed(policy.plan_line(line));
        INFO(line);
        CHECK(plan.name == "ls");
        CHECK(plan.argv.front().ends_with("/ls"));
        for (std::size_t i = 1; i < plan.argv.size(); ++i)
            CHECK(plan.argv[i] != "");
    }
}

TEST_CASE("line errors are bad requests", "[policy]")
{
    const CommandPolicy policy({"echo"}, false);
    CHECK(refused(policy.plan_line("")).kind == ErrorKind::bad_request);
    CHECK(refused(policy.plan_line(" \r\n")).kind == ErrorKind::bad_request);
    CHECK(refused(policy.plan_line("echo 'x")).kind == ErrorKind::bad_request);
    CHECK(refused(policy.plan_line("\\\n")).kind == ErrorKind::bad_request);
}

TEST_CASE("shell mode hands the trimmed line to /bin/sh -c", "[policy]")
{
    const CommandPolicy policy({"*"}, true);
    const ExecPlan plan = allowed(policy.plan_line("  ls | wc -l\n"));
    CHECK(plan.argv == Argv{"/bin/sh", "-c", "ls | wc -l"});
    // argv requests run directly, any command in PATH or absolute, but no relative paths.
    CHECK(allowed(policy.plan_argv({"echo", "x"})).argv.front().ends_with("/echo"));
    CHECK(allowed(policy.plan_argv({"/bin/echo"})).argv.front() == "/bin/echo");
    CHECK(refused(policy.plan_argv({"./x"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_line(std::string_view("a\0b", 3))).kind == ErrorKind::bad_request);
}

TEST_CASE("argument policies: fixed arguments, patterns, several entries for one command", "[policy][security]")
{
    AllowEntry no_args("date");
    no_args.args = std::vector<std::string>{};
    AllowEntry fixed("date");
    fixed.args = std::vector<std::string>{"+%s"};
    AllowEntry pattern("echo");
    pattern.set_pattern("[a-z]+");
    const CommandPolicy policy({no_args, fixed, pattern, "ls"}, false);

    CHECK(allowed(policy.plan_argv({"date"})).argv.size() == 1);
    CHECK(allowed(policy.plan_argv({"date", "+%s"})).argv[1] == "+%s");
    CHECK(allowed(policy.plan_line("date +%s")).argv[1] == "+%s");
    const Failure set = refused(policy.plan_line("date -s '2020-01-01 00:00'"));
    CHECK(set.kind == ErrorKind::not_allowed);
    CHECK(set.message == "arguments not allowed for date: -s '2020-01-01 00:00'");
    CHECK(refused(policy.plan_argv({"date", "+%s", "-s"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({"date", "010100002020"})).kind == ErrorKind::not_allowed);

    CHECK(allowed(policy.plan_argv({"echo", "abc", "def"})).argv.size() == 3);
    CHECK(allowed(policy.plan_argv({"echo"})).argv.size() == 1); // every one of no arguments matches
    // A full match: a pattern is not a substring search.
    CHECK(refused(policy.plan_argv({"echo", "abc;"})).kind == ErrorKind::not_allowed);
    CHECK(refused(policy.plan_argv({"echo", "abc", "ABC"})).kind == ErrorKind::not_allowed);
    // Too long to be matched safely: refused, not matched.
    CHECK(refused(policy.plan_argv({"echo", std::string(kMaxPatternArgument + 1, 'a')})).kind ==
          ErrorKind::not_allowed);
    CHECK(allowed(policy.plan_argv({"echo", std::string(kMaxPatternArgument, 'a')})).argv.size() == 2);

    CHECK(allowed(policy.plan_argv({"ls", "-l", "/"})).argv.size() == 3); // a plain entry: any arguments

    AllowEntry only_args("uname");
    only_args.args = std::vector<std::string>{"-a"};
    const CommandPolicy strict({only_args}, false);
    CHECK(refused(strict.plan_argv({"uname"})).message == "command not allowed without arguments: uname");
}

TEST_CASE("allow entry validation", "[policy]")
{
    CHECK_FALSE(allow_entry_error("ls"));
    CHECK_FALSE(allow_entry_error("/opt/x/run-report"));
    CHECK_FALSE(allow_entry_error("*"));
    CHECK(allow_entry_error(""));
    CHECK(allow_entry_error("ls -l"));
    CHECK(allow_entry_error("bin/ls"));
    CHECK(allow_entry_error("./ls"));
    CHECK(allow_entry_error(".."));
}

TEST_CASE("find_in_search_path", "[policy]")
{
    CHECK(find_in_search_path("sh"));
    CHECK_FALSE(find_in_search_path("ringd-no-such-command"));
    CHECK_FALSE(find_in_search_path(""));
    CHECK_FALSE(find_in_search_path(".."));
    CHECK_FALSE(find_in_search_path("bin/sh"));
}

TEST_CASE("constant_time_equal", "[policy]")
{
    CHECK(constant_time_equal("s3cret", "s3cret"));
    CHECK_FALSE(constant_time_equal("s3cret", "s3creT"));
    CHECK_FALSE(constant_time_equal("s3cret", "s3cre"));
    CHECK_FALSE(constant_time_equal("s3cret", "s3cret!"));
    CHECK_FALSE(constant_time_equal("s3cret", ""));
    CHECK_FALSE(constant_time_equal("abc", std::string_view("abc\0", 4)));
    CHECK(constant_time_equal("", ""));
}

TEST_CASE("loggable escapes control characters", "[policy]")
{
    CHECK(loggable("ls -l") == "ls -l");
    CHECK(loggable("a\nb\r\x1b[31m\x7f") == "a\\x0ab\\x0d\\x1b[31m\\x7f");
    CHECK(loggable("h\xc3\xa9") == "h\xc3\xa9");
}

TEST_CASE("spawn failures: exec errors by errno, earlier steps by step", "[policy]")
{
    CHECK(spawn_failure("date", ENOENT).kind == ErrorKind::not_found);
    CHECK(spawn_failure("date", ENOEXEC).message == "cannot execute date: Exec format error");
    CHECK(spawn_failure("date", EAGAIN).kind == ErrorKind::internal);

    const Failure user = spawn_failure("date", EPERM, RINGD_SPAWN_STEP_CREDENTIALS, "nobody");
    CHECK(user.kind == ErrorKind::cannot_execute);
    CHECK(user.message == "cannot switch to user nobody: Operation not permitted");
    CHECK(spawn_failure("date", EPERM, RINGD_SPAWN_STEP_CREDENTIALS).message ==
          "cannot switch user for date: Operation not permitted");
    CHECK(spawn_failure("date", ENOENT, RINGD_SPAWN_STEP_CWD).kind == ErrorKind::internal);
    CHECK(spawn_failure("date", EBADF, RINGD_SPAWN_STEP_STDIO).message ==
          "cannot set up stdin/stdout/stderr for date: Bad file descriptor");
    CHECK(spawn_failure("date", EMFILE, RINGD_SPAWN_STEP_HOST).message == "cannot start date: Too many open files");
    CHECK(spawn_failure("date", EACCES, 99).kind == ErrorKind::cannot_execute); // a newer host's step: as exec
}
