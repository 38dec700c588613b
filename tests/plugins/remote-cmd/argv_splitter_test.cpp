// remote-cmd's command-line splitter and its inverse (plugins/remote-cmd/argv_splitter.hpp).
#include "argv_splitter.hpp"

#include <catch2/catch.hpp>
#include <random>

using ringd::remote_cmd::quote_argv;
using ringd::remote_cmd::split_command_line;
using ringd::remote_cmd::trim_blanks;
using Argv = std::vector<std::string>;

namespace {

Argv split_ok(std::string_view line)
{
    auto r = split_command_line(line);
    INFO("line: " << line << " error: " << r.error);
    REQUIRE(r.ok());
    return r.argv;
}

std::string split_error(std::string_view line)
{
    auto r = split_command_line(line);
    REQUIRE_FALSE(r.ok());
    return r.error;
}

} // namespace

TEST_CASE("plain words split on blanks", "[splitter]")
{
    CHECK(split_ok("ls -l /tmp") == Argv{"ls", "-l", "/tmp"});
    CHECK(split_ok("  ls \t -l\r\n") == Argv{"ls", "-l"});
    CHECK(split_ok("a\vb\fc") == Argv{"a", "b", "c"});
    CHECK(split_ok("") == Argv{});
    CHECK(split_ok(" \t\n ") == Argv{});
}

TEST_CASE("single quotes keep everything literal", "[splitter]")
{
    CHECK(split_ok("echo 'a b'") == Argv{"echo", "a b"});
    CHECK(split_ok(R"(echo 'a\b' 'x"y')") == Argv{"echo", R"(a\b)", R"(x"y)"});
    CHECK(split_ok("echo ''") == Argv{"echo", ""});
    CHECK(split_ok("echo '$(id)' '`id`'") == Argv{"echo", "$(id)", "`id`"});
    CHECK(split_ok("echo 'multi\nline'") == Argv{"echo", "multi\nline"});
}

TEST_CASE("double quotes escape only \" \\ $ ` and newline", "[splitter]")
{
    CHECK(split_ok(R"(echo "a b")") == Argv{"echo", "a b"});
    CHECK(split_ok(R"(echo "say \"hi\"")") == Argv{"echo", R"(say "hi")"});
    CHECK(split_ok(R"(echo "a\\b")") == Argv{"echo", R"(a\b)"});
    CHECK(split_ok(R"(echo "\$HOME \`x\`")") == Argv{"echo", "$HOME `x`"});
    CHECK(split_ok(R"(echo "\n\t\a")") == Argv{"echo", R"(\n\t\a)"});
    CHECK(split_ok("echo \"a\\\nb\"") == Argv{"echo", "ab"});
    CHECK(split_ok(R"(echo "")") == Argv{"echo", ""});
    CHECK(split_ok(R"(echo "it's")") == Argv{"echo", "it's"});
}

TEST_CASE("backslash outside quotes escapes any character", "[splitter]")
{
    CHECK(split_ok(R"(echo a\ b)") == Argv{"echo", "a b"});
    CHECK(split_ok(R"(echo \'x\' \"y\")") == Argv{"echo", "'x'", "\"y\""});
    CHECK(split_ok(R"(echo \\)") == Argv{"echo", "\\"});
    CHECK(split_ok(R"(echo \a\b)") == Argv{"echo", "ab"});
    // Backslash-newline is a line continuation: it vanishes and does not split or start a word.
    CHECK(split_ok("echo a\\\nb") == Argv{"echo", "ab"});
    CHECK(split_ok("echo \\\n x") == Argv{"echo", "x"});
}

TEST_CASE("quoted parts join adjacent text into one word", "[splitter]")
{
    CHECK(split_ok(R"(echo a'b c'"d e"f)") == Argv{"echo", "ab cd ef"});
    CHECK(split_ok(R"(x=''"")") == Argv{"x="});
}

TEST_CASE("shell operators and expansions are plain bytes", "[splitter][security]")
{
    CHECK(split_ok("ls; id") == Argv{"ls;", "id"});
    CHECK(split_ok("ls && id") == Argv{"ls", "&&", "id"});
    CHECK(split_ok("ls | id") == Argv{"ls", "|", "id"});
    CHECK(split_ok("ls $(id)") == Argv{"ls", "$(id)"});
    CHECK(split_ok("`id`") == Argv{"`id`"});
    CHECK(split_ok("ls > /tmp/x") == Argv{"ls", ">", "/tmp/x"});
    CHECK(split_ok("ls >/tmp/x 2>&1") == Argv{"ls", ">/tmp/x", "2>&1"});
    CHECK(split_ok("ls\nid") == Argv{"ls", "id"});
    CHECK(split_ok("ls *.txt ~ $HOME {a,b} #c") == Argv{"ls", "*.txt", "~", "$HOME", "{a,b}", "#c"});
}

TEST_CASE("malformed lines are errors", "[splitter]")
{
    CHECK_THAT(split_error("echo 'abc"), Catch::Contains("unterminated single quote"));
    CHECK_THAT(split_error(R"(echo "abc)"), Catch::Contains("unterminated double quote"));
    CHECK_THAT(split_error(R"(echo "abc\")"), Catch::Contains("unterminated double quote"));
    CHECK_THAT(split_error("echo abc\\"), Catch::Contains("dangling backslash"));
    CHECK_THAT(split_error(std::string_view("echo a\0b", 8)), Catch::Contains("NUL"));
    CHECK_THAT(split_error(std::string_view("'\0'", 3)), Catch::Contains("NUL"));
}

TEST_CASE("non-ASCII bytes pass through", "[splitter]")
{
    CHECK(split_ok("echo h\xc3\xa9llo \xff\xfe") == Argv{"echo", "h\xc3\xa9llo", "\xff\xfe"});
}

TEST_CASE("trim_blanks", "[splitter]")
{
    CHECK(trim_blanks("  ls -l \r\n") == "ls -l");
    CHECK(trim_blanks("\t\n") == "");
    CHECK(trim_blanks("x") == "x");
}

TEST_CASE("quote_argv output", "[splitter]")
{
    CHECK(quote_argv(Argv{"ls", "-l", "/tmp/a.b"}) == "ls -l /tmp/a.b");
    CHECK(quote_argv(Argv{"echo", "a b"}) == "echo 'a b'");
    CHECK(quote_argv(Argv{"echo", ""}) == "echo ''");
    CHECK(quote_argv(Argv{"echo", "it's"}) == R"(echo 'it'\''s')");
    CHECK(quote_argv(Argv{"echo", "$(id)"}) == "echo '$(id)'");
    CHECK(quote_argv(Argv{}) == "");
}

TEST_CASE("quote_argv round-trips through split_command_line", "[splitter]")
{
    const std::vector<Argv> fixed = {
        {"echo", "a b", "", "'", "\"", "\\", "$x", "`y`", "a\nb", " lead", "trail ", "\t"},
        {"x", "'''", "\\'", "\"'\"", "-", "--", "=", "a=b c"},
        {"\xff\x01\x7f", "\xc3\xa9"},
    };
    for (const Argv& argv : fixed)
        CHECK(split_ok(quote_argv(argv)) == argv);

    std::mt19937 rng(12345);
    const std::string alphabet = std::string("ab '\"\\$`\n\t;|&<>*?~#(){}") + "\x01\x7f\xff";
    for (int round = 0; round < 2000; ++round) {
        Argv argv(1 + rng() % 5);
        for (std::string& arg : argv) {
            const std::size_t len = rng() % 8;
            for (std::size_t i = 0; i < len; ++i)
                arg += alphabet[rng() % alphabet.size()];
        }
        INFO("line: " << quote_argv(argv));
        CHECK(split_ok(quote_argv(argv)) == argv);
    }
}
