// hello: a ringd handler plugin built outside the ringd tree, against the installed SDK only.
// For every line a client sends it answers "hello, <line>". Lines may arrive split over several reads, so
// each connection keeps its unfinished line in its user pointer.
//
//   listeners:
//     - name: hello
//       listen: tcp://127.0.0.1:7070
//       plugin: hello            # or an absolute path to hello.so
#include <memory>
#include <ringd/plugin.hpp>
#include <string>

namespace {

constexpr std::size_t max_line = 64 * 1024; // a client that never sends '\n' must not grow us without bound

class Hello final : public ringd::Handler {
public:
    using Handler::Handler;

    static std::unique_ptr<Hello> create(const ringd::InstanceArgs& args)
    {
        if (args.config_yaml != "{}") throw ringd::ConfigError("", "hello takes no configuration");
        return std::make_unique<Hello>(args);
    }

    bool on_open(ringd::Connection conn) override
    {
        conn.set_user(std::make_unique<std::string>().release()); // freed in on_close
        return true;
    }

    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        std::string& pending = *conn.user<std::string>();
        pending.append(reinterpret_cast<const char*>(data.data()), data.size());
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
            conn.send("hello, " + pending.substr(start, nl + 1 - start));
        }
        pending.erase(0, start);
        if (pending.size() > max_line) {
            conn.send("line longer than " + std::to_string(max_line) + " bytes\n");
            conn.close();
        }
    }

    void on_close(ringd::Connection conn, ringd_close_reason) override
    {
        std::unique_ptr<std::string> pending(conn.user<std::string>());
        conn.set_user(nullptr);
    }
};

} // namespace

RINGD_EXPORT_HANDLER(Hello, "hello", "1.0.0", RINGD_KIND_STREAM)
