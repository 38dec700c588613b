// chat_test: chat.so in the SDK's plugin test kit (ringd::testkit), with Catch2: scripted clients on simulated
// workers, no daemon and no sockets. Every cross-worker message (a fan-out task) is delivered at the end of each
// step unless a test says otherwise, so each check sees the room after everything settled.
//
//   cmake -S . -B build && cmake --build build && ctest --test-dir build
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
#include <ringd/testkit.hpp>
#include <string>
#include <vector>

#ifndef CHAT_PLUGIN
#error "CHAT_PLUGIN must name the built chat.so"
#endif

using namespace ringd::testkit;

namespace {

const Plugin& chat()
{
    static const Plugin plugin = Plugin::load(CHAT_PLUGIN);
    return plugin;
}

// A client on `worker`, with its welcome line (and nothing else) already read.
Connection join(Kit& kit, uint32_t worker)
{
    Connection c = kit.open({.worker = worker});
    const std::string welcome = c.take_output();
    INFO(welcome);
    const std::string expected = "* welcome #" + std::to_string(c.id()) + " (worker " + std::to_string(worker) + " of ";
    CHECK(welcome.rfind(expected, 0) == 0);
    CHECK(welcome.find('\n') == welcome.size() - 1);
    return c;
}

std::string said(const Connection& c, const std::string& text)
{
    return "#" + std::to_string(c.id()) + ": " + text + "\n";
}

std::string notice(const Connection& c, const std::string& what)
{
    return "* #" + std::to_string(c.id()) + " " + what + "\n";
}

// Drops everyone's output so far (the joins of the clients opened after them).
void forget_output(std::vector<Connection>& clients)
{
    for (auto& c : clients)
        c.take_output();
}

} // namespace

TEST_CASE("a line goes out only when its newline arrives, however the bytes are split")
{
    Kit kit(chat());
    auto a = join(kit, 0);
    auto b = join(kit, 0);
    CHECK(a.take_output() == notice(b, "joined"));

    a.feed("hel");
    a.feed("lo, wor");
    CHECK(b.output().empty()); // no newline yet: nothing leaves
    a.feed("ld\nsecond ");
    CHECK(b.take_output() == said(a, "hello, world"));
    a.feed_bytewise("line\n");
    CHECK(b.take_output() == said(a, "second line"));
    a.feed_split("one\r\n\ntwo\nthree", {2, 5}); // CRLF, an empty line (dropped), a line still open
    CHECK(b.take_output() == said(a, "one") + said(a, "two"));
    a.feed("\n");
    CHECK(b.take_output() == said(a, "three"));
    CHECK(a.output().empty()); // never echoed to the sender
    CHECK(kit.metric("lines") == 5);
}

TEST_CASE("a line over 4096 bytes closes its sender with a reason; the room hears none of it")
{
    Kit kit(chat());
    auto a = join(kit, 0);
    auto b = join(kit, 0);
    a.take_output();

    a.feed(std::string(4096, 'x') + "\n"); // exactly the limit: fine
    CHECK(b.take_output() == said(a, std::string(4096, 'x')));
    a.feed("before\n" + std::string(4000, 'y'));
    CHECK(b.take_output() == said(a, "before")); // the complete line of the same read still goes out
    a.feed(std::string(97, 'y'));                // 4,097 bytes and no newline
    CHECK(a.closed());
    CHECK_FALSE(a.was_reset()); // closed after the reason was sent
    CHECK(a.take_output() == "* line too long (over 4096 bytes)\n");
    CHECK(b.take_output() == notice(a, "left"));
}

TEST_CASE("a line reaches every other client on every worker, in the sender's order, never the sender")
{
    Kit kit(chat(), "{}", {.workers = 3});
    std::vector<Connection> clients;
    for (uint32_t i = 0; i < 6; ++i)
        clients.push_back(join(kit, i % 3));
    forget_output(clients);

    for (auto& sender : clients) {
        sender.feed("first from " + std::to_string(sender.id()) + "\n");
        sender.feed("second\nthird\n");
        for (auto& c : clients) {
            const std::string expected = c.id() == sender.id()
                                             ? ""
                                             : said(sender, "first from " + std::to_string(sender.id())) +
                                                   said(sender, "second") + said(sender, "third");
            CHECK(c.take_output() == expected);
        }
    }
    CHECK(kit.metric("members") == 6);
}

TEST_CASE("the sender's worker writes at once; each other worker gets one task with the line")
{
    Kit kit(chat(), "{}", {.workers = 2, .deliver_after_each_step = false});
    auto a = join(kit, 0);
    auto near = join(kit, 0);
    auto far1 = join(kit, 1);
    auto far2 = join(kit, 1);
    kit.run(); // the joins' fan-out tasks
    for (auto* c : {&a, &near, &far1, &far2})
        c->take_output();

    a.feed("hi\n");
    CHECK(near.take_output() == said(a, "hi")); // same worker: written in a's on_data
    CHECK(far1.output().empty());               // the other worker's task is on its way
    CHECK(far2.output().empty());
    kit.run();
    CHECK(far1.take_output() == said(a, "hi"));
    CHECK(far2.take_output() == said(a, "hi"));
}

TEST_CASE("joins and leaves are announced to the others")
{
    Kit kit(chat(), "{}", {.workers = 2});
    auto a = join(kit, 0);
    auto b = join(kit, 1);
    CHECK(a.take_output() == notice(b, "joined"));
    auto c = join(kit, 1);
    CHECK(a.take_output() == notice(c, "joined"));
    CHECK(b.take_output() == notice(c, "joined"));
    c.peer_shutdown(); // the client hangs up
    CHECK(c.closed());
    CHECK(a.take_output() == notice(c, "left"));
    CHECK(b.take_output() == notice(c, "left"));
    CHECK(kit.metric("members") == 2);
}

TEST_CASE("a client that stops reading is disconnected at 256 KiB unread; the others get every line")
{
    Kit kit(chat(), "{}", {.workers = 2});
    auto sender = join(kit, 0);
    auto reader = join(kit, 1);
    auto slow = join(kit, 1);
    slow.take_output();
    slow.hold_output(true); // its peer stops reading: what the room sends it stays in ringd's queue
    sender.take_output();
    reader.take_output();

    const std::string text(4000, 'm');
    int lines = 0;
    while (!slow.closed() && lines < 200) {
        sender.feed(text + "\n");
        ++lines;
        CHECK(slow.queued_output() <= 256 * 1024 + 4100); // bounded: at most the limit plus one line
    }
    CHECK(slow.closed());
    CHECK(slow.was_reset());
    CHECK(lines > 60); // 256 KiB of 4 KB lines, and not long before
    CHECK(kit.metric("slow_clients_dropped") == 1);
    CHECK(kit.logged("disconnected: over 262144 bytes unread"));

    sender.feed("after\n");
    std::string expected;
    for (int i = 0; i < lines; ++i)
        expected += said(sender, text);
    CHECK(reader.take_output() == expected + notice(slow, "left") + said(sender, "after"));
    CHECK_FALSE(sender.closed());
}

TEST_CASE("a reload keeps the room: clients from before and after it hear each other, both ways")
{
    Kit kit(chat(), "{}", {.workers = 2});
    auto old0 = join(kit, 0);
    auto old1 = join(kit, 1);
    kit.reload("{}"); // a new instance; old0 and old1 stay on the old one
    CHECK(kit.logged("the new instance took over the room"));
    auto new0 = join(kit, 0);
    auto new1 = join(kit, 1);
    std::vector<Connection> all{old0, old1, new0, new1};
    forget_output(all);

    old0.feed("from the old instance\n");
    CHECK(old1.take_output() == said(old0, "from the old instance"));
    CHECK(new0.take_output() == said(old0, "from the old instance"));
    CHECK(new1.take_output() == said(old0, "from the old instance"));
    new1.feed("from the new one\n");
    CHECK(old0.take_output() == said(new1, "from the new one"));
    CHECK(old1.take_output() == said(new1, "from the new one"));
    CHECK(new0.take_output() == said(new1, "from the new one"));

    // old1 was the old instance's last client on worker 1: the old instance stops serving there, and its tasks
    // for worker 1 run with -ESRCH. Its client on worker 0 must still reach the new clients on worker 1.
    old1.peer_shutdown();
    forget_output(all);
    old0.feed("still here\n");
    CHECK(new1.take_output() == said(old0, "still here"));
    CHECK(new0.take_output() == said(old0, "still here"));
    new1.feed("and so are we\n");
    CHECK(old0.take_output() == said(new1, "and so are we"));
}

TEST_CASE("chat takes no configuration")
{
    CHECK_THROWS_WITH(Kit(chat(), "room: lobby"), "chat takes no configuration");
}
