// Where ringdctl finds ringd's admin listener: --admin, else $RINGD_ADMIN, else `admin.listen` of the config
// file (-c, default /etc/ringd/ringd.yaml), else tcp://127.0.0.1:9180. Pure logic: the caller reads the file,
// so the choice is unit-tested (tests/tools/ringdctl) without touching /etc.
#pragma once

#include "config/endpoint.hpp"

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ringd::ctl {

inline constexpr std::string_view default_admin_url = "tcp://127.0.0.1:9180";
inline constexpr std::string_view default_config_file = "/etc/ringd/ringd.yaml";

// A mistake of the user's (a malformed URL, an unreadable -c file): ringdctl exits 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The admin URL grammar is the one of `listen:` (config/endpoint.hpp), minus udp://: tcp://H:P,
// tcp://[H6]:P, unix:///path, unix:@name. Throws UsageError naming `what` (e.g. "--admin").
[[nodiscard]] config::Endpoint parse_admin_url(std::string_view url, std::string_view what);

// `admin.listen` in the text of a ringd.yaml; nullopt when it has no `admin:` section. Throws
// std::runtime_error for text that is not a YAML mapping, or an `admin:` that is not a mapping with a string
// `listen:`.
[[nodiscard]] std::optional<std::string> admin_listen_in(const std::string& yaml_text);

// The config file as the caller found it.
struct ConfigFile {
    std::string path;
    bool named_by_user = false;      // -c was given: problems with it are errors, not a fall-back
    std::optional<std::string> text; // nullopt when it could not be read
    std::string read_error;          // why not (strerror), when text is nullopt
};

struct AdminAddress {
    config::Endpoint endpoint; // where to connect
    std::string source;        // how it was chosen, for messages: "--admin", "admin.listen in FILE", ...
};

// The precedence above. `flag` and `env` are nullopt (or empty) when not given. A config address that binds
// every interface (0.0.0.0, [::]) is reached through loopback (127.0.0.1, [::1]). Throws UsageError.
[[nodiscard]] AdminAddress discover_admin(std::optional<std::string_view> flag, std::optional<std::string_view> env,
                                          const ConfigFile& config);

} // namespace ringd::ctl
