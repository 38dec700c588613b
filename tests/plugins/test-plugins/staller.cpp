// staller: an echo (C++ SDK) whose on_data blocks its worker for 3 s when the chunk contains "stall", the way
// a plugin doing blocking I/O would. For the stall detector's test (tests/integration/test_plugin_failures.py).
#include <chrono>
#include <ringd/plugin.hpp>
#include <string_view>
#include <thread>

namespace {

class Staller final : public ringd::Handler {
public:
    using Handler::Handler;

    static std::unique_ptr<Staller> create(const ringd::InstanceArgs& args) { return std::make_unique<Staller>(args); }

    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
        if (text.find("stall") != std::string_view::npos) std::this_thread::sleep_for(std::chrono::seconds(3));
        conn.send(text);
    }
};

} // namespace

RINGD_EXPORT_HANDLER(Staller, "staller", "1.0.0", RINGD_KIND_STREAM)
