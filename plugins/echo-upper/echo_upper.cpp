// echo-upper: replies to every byte with its ASCII upper-case (a-z -> A-Z, every other byte unchanged, so
// UTF-8 survives). `transform: none` makes it a plain RFC 862 echo.
//
// Stream-exact by construction: each received chunk is transformed byte by byte straight into the output
// queue, so the reply stream equals upper(request stream) however the bytes were segmented.
#include "common/config_mapping.hpp"
#include "common/config_scalar.hpp"

#include <ringd/plugin.hpp>

namespace {

class EchoUpper final : public ringd::Handler {
public:
    EchoUpper(const ringd::InstanceArgs& args, bool upper) : Handler(args), upper_(upper) {}

    static std::unique_ptr<EchoUpper> create(const ringd::InstanceArgs& args)
    {
        bool upper = true;
        for (const auto& [key, value] :
             ringd::plugin_common::read_config_mapping(args.config_yaml, "expected a mapping")) {
            if (key != "transform") throw ringd::ConfigError(key, "unknown key (known: transform)");
            const std::string transform = ringd::plugin_common::scalar_text(value, key, "upper or none");
            if (transform != "upper" && transform != "none") {
                throw ringd::ConfigError(key, "expected upper or none, got \"" + transform + "\"");
            }
            upper = transform == "upper";
        }
        return std::make_unique<EchoUpper>(args, upper);
    }

    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        conn.send_in_place(data.size(), [&](uint8_t* out) {
            const auto* in = reinterpret_cast<const uint8_t*>(data.data());
            if (!upper_) {
                std::copy(in, in + data.size(), out);
                return;
            }
            for (std::size_t i = 0; i < data.size(); ++i) {
                const uint8_t c = in[i];
                out[i] = (c >= 'a' && c <= 'z') ? uint8_t(c - ('a' - 'A')) : c;
            }
        });
    }

private:
    bool upper_;
};

} // namespace

RINGD_EXPORT_HANDLER(EchoUpper, "echo-upper", "1.0.0", RINGD_KIND_STREAM)
