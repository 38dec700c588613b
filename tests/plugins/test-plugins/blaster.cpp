// blaster: on open, queues `bytes` bytes of a known pattern (byte i is i % 251), then, with `close: true`
// (the default), asks for a close after flush. Input is ignored. Used to test that queued output is delivered
// before FIN, also across SIGTERM, and that a peer resetting mid-transfer costs nothing.
//
//   config: {bytes: N, close: true|false, chunk: C}   C: bytes per host->send call (default 65536)
#include <ringd/plugin.hpp>
#include <string>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace {

class Blaster final : public ringd::Handler {
public:
    Blaster(const ringd::InstanceArgs& args, uint64_t bytes, bool close, uint64_t chunk)
        : Handler(args), bytes_(bytes), close_(close), chunk_(chunk)
    {
        // 251 is prime and not a divisor of any chunk size used, so the pattern shows reordering and loss.
        pattern_.resize(chunk_ + 251);
        for (std::size_t i = 0; i < pattern_.size(); ++i)
            pattern_[i] = char(i % 251);
    }

    static std::unique_ptr<Blaster> create(const ringd::InstanceArgs& args)
    {
        const YAML::Node config = YAML::Load(std::string(args.config_yaml));
        uint64_t bytes = 1 << 20;
        bool close = true;
        uint64_t chunk = 65536;
        for (const auto& entry : config) {
            const auto key = entry.first.as<std::string>();
            try {
                if (key == "bytes") {
                    bytes = entry.second.as<uint64_t>();
                } else if (key == "close") {
                    close = entry.second.as<bool>();
                } else if (key == "chunk") {
                    chunk = entry.second.as<uint64_t>();
                    if (chunk == 0 || chunk > (16u << 20)) throw ringd::ConfigError("chunk", "expected 1..16777216");
                } else {
                    throw ringd::ConfigError(key, "unknown key (known: bytes, close, chunk)");
                }
            } catch (const YAML::Exception& e) {
                throw ringd::ConfigError(key, e.what());
            }
        }
        return std::make_unique<Blaster>(args, bytes, close, chunk);
    }

    bool on_open(ringd::Connection conn) override
    {
        uint64_t offset = 0;
        while (offset < bytes_) {
            const uint64_t n = std::min(chunk_, bytes_ - offset);
            if (conn.send(std::string_view(pattern_.data() + offset % 251, n)) != 0) return false;
            offset += n;
        }
        if (close_) conn.close();
        return true;
    }

private:
    uint64_t bytes_;
    bool close_;
    uint64_t chunk_;
    std::string pattern_;
};

} // namespace

RINGD_EXPORT_HANDLER(Blaster, "blaster", "1.0.0", RINGD_KIND_STREAM)
