// throwing: an echo written with the C++ SDK whose on_data throws std::runtime_error when the received chunk
// contains "boom". The SDK's trampoline must catch it, log it and abort only that connection.
#include <ringd/plugin.hpp>
#include <stdexcept>
#include <string_view>

namespace {

class Throwing final : public ringd::Handler {
public:
    using Handler::Handler;

    static std::unique_ptr<Throwing> create(const ringd::InstanceArgs& args)
    {
        return std::make_unique<Throwing>(args);
    }

    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
        if (text.find("boom") != std::string_view::npos) throw std::runtime_error("throwing: boom requested");
        conn.send(text);
    }
};

} // namespace

RINGD_EXPORT_HANDLER(Throwing, "throwing", "1.0.0", RINGD_KIND_STREAM)
