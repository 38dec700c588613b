// Segmentation through the test kit: echo-upper (the built .so) gives the same reply stream however its input is
// split into reads (one read, every byte apart, random splits), and the kit tells a plugin that assumes "one
// read is one message" from one that does not.
#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <ringd/plugin.hpp>
#include <ringd/testkit.hpp>
#include <string>
#include <vector>

#ifndef ECHO_UPPER_PLUGIN
#error "ECHO_UPPER_PLUGIN must name the built echo-upper.so"
#endif

using namespace ringd::testkit;

namespace {

std::string random_bytes(std::mt19937& rng, std::size_t n)
{
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(n, '\0');
    for (char& ch : s)
        ch = static_cast<char>(byte(rng));
    return s;
}

std::vector<std::size_t> random_split(std::mt19937& rng, std::size_t total)
{
    std::vector<std::size_t> sizes;
    std::uniform_int_distribution<std::size_t> size(1, 64);
    for (std::size_t left = total; left > 0;) {
        sizes.push_back(std::min(size(rng), left));
        left -= sizes.back();
    }
    return sizes;
}

// What `plugin` replies to `input` fed with `sizes` (empty: one read; {1}: every byte apart).
std::string reply(const Plugin& plugin, const std::string& input, const std::vector<std::size_t>& sizes)
{
    Kit kit(plugin);
    auto c = kit.open();
    if (sizes.empty()) {
        c.feed(input);
    } else if (sizes == std::vector<std::size_t>{1}) {
        c.feed_bytewise(input);
    } else {
        c.feed_split(input, sizes);
    }
    c.peer_shutdown();
    CHECK(c.closed());
    return c.take_output();
}

// A line protocol done wrong: it upper-cases each read and answers it as one line.
class ReadIsLine final : public ringd::Handler {
public:
    using Handler::Handler;
    static std::unique_ptr<ReadIsLine> create(const ringd::InstanceArgs& args)
    {
        return std::make_unique<ReadIsLine>(args);
    }
    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        std::string line(reinterpret_cast<const char*>(data.data()), data.size());
        if (line.ends_with('\n')) line.pop_back();
        conn.send("<" + line + ">\n");
    }
};

} // namespace

TEST_CASE("echo-upper: every segmentation gives the same reply stream", "[testkit][segmentation]")
{
    const Plugin echo = Plugin::load(ECHO_UPPER_PLUGIN);
    std::mt19937 rng(20240611); // fixed: a failure reproduces
    const std::string input = "Hello, w\xc3\xb6rld! abc xyz\n" + random_bytes(rng, 4096);
    std::string expected = input;
    std::transform(expected.begin(), expected.end(), expected.begin(),
                   [](char ch) { return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch; });
    CHECK(reply(echo, input, {}) == expected);
    CHECK(reply(echo, input, {1}) == expected);
    for (int round = 0; round < 50; ++round) {
        const std::vector<std::size_t> sizes = random_split(rng, input.size());
        INFO("round " << round << ", " << sizes.size() << " reads");
        CHECK(reply(echo, input, sizes) == expected);
    }
}

TEST_CASE("the kit catches a plugin that takes one read for one message", "[testkit][segmentation]")
{
    const ringd_plugin_descriptor* d =
        ringd::detail::Trampolines<ReadIsLine>::descriptor("read-is-line", "0", RINGD_KIND_STREAM);
    const Plugin buggy = Plugin::linked(d);
    CHECK(reply(buggy, "one\n", {}) == "<one>\n");
    CHECK(reply(buggy, "one\n", {2}) != "<one>\n");
}
