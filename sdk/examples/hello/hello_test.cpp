// hello_test: hello.so in the SDK's plugin test kit (ringd::testkit): no daemon, no sockets, no test framework.
// The kit only returns values and throws; any framework can check them (this one prints and counts).
//
//   cmake -S . -B build && cmake --build build && ctest --test-dir build
#include <cstdio>
#include <ringd/testkit.hpp>
#include <string>

#ifndef HELLO_PLUGIN
#error "HELLO_PLUGIN must name the built hello.so"
#endif

namespace {

int failed = 0;
int passed = 0;

void expect(bool ok, const char* what)
{
    ok ? ++passed : ++failed;
    if (!ok) std::printf("FAILED: %s\n", what);
}

} // namespace

int main()
{
    using namespace ringd::testkit;
    const Plugin hello = Plugin::load(HELLO_PLUGIN);
    Kit kit(hello);
    auto c = kit.open();
    c.feed_split("world\nsplit line\n", {3, 9}); // lines arrive in pieces: "wor", "ld\nsplit l", "ine\n"
    expect(c.take_output() == "hello, world\nhello, split line\n", "one greeting per line, however it is split");
    c.feed_bytewise("bytes\n");
    expect(c.take_output() == "hello, bytes\n", "one byte per read");
    c.peer_shutdown();
    expect(c.closed() && c.fin_sent(), "the peer's FIN closes it after the flush");

    try {
        Kit configured(hello, "greeting: hi");
        expect(false, "a config is refused");
    } catch (const ConfigError& e) {
        expect(std::string(e.what()) == "hello takes no configuration", "a config is refused");
    }
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
