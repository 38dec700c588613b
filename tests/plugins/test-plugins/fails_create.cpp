// fails-create: create() always refuses, reporting the config key "mode" and a message. The host must turn
// the key into the file:line:col of `mode:` inside the listener's `config:`.
#include <ringd/plugin.hpp>

namespace {

class FailsCreate final : public ringd::Handler {
public:
    using Handler::Handler;

    static std::unique_ptr<FailsCreate> create(const ringd::InstanceArgs&)
    {
        throw ringd::ConfigError("mode", "fails-create refuses every mode (test plugin)");
    }
};

} // namespace

RINGD_EXPORT_HANDLER(FailsCreate, "fails-create", "1.0.0", RINGD_KIND_STREAM)
