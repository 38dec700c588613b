// Options: everything the command line can set, already validated by cli.cpp, plus the hard limits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ringd_bench {

enum class Mode { echo, udp, churn, cmd, idle };
enum class Expect { same, upper };

// A run never goes on longer than this, whatever was asked.
inline constexpr double kMaxDurationS = 300.0;
// The per-process open-file limit here is 20,000; keep headroom for the loop's own descriptors.
inline constexpr unsigned kMaxConnections = 18000;
inline constexpr size_t kMaxStreamMessage = 1 << 20;
inline constexpr size_t kMaxDatagram = 65507;

struct Options {
    Mode mode = Mode::echo;
    std::string connect;  // tcp://H:P, unix:///path, unix:@name, udp://H:P
    unsigned clients = 0; // 0: the mode's default
    size_t size = 0;      // 0: the mode's default
    double duration_s = 5.0;
    Expect expect = Expect::upper;
    std::string contains;                  // churn: reply must contain it; cmd: stdout must contain it
    std::vector<std::string> argv{"true"}; // cmd
    int expect_exit = 0;                   // cmd
    bool reconnect = false;                // cmd: a new connection for every request
    int server_pid = 0;                    // 0: no server-side figures
    bool json = false;
    double udp_timeout_ms = 200.0;       // udp: resend a request unanswered this long
    double ramp_timeout_s = 60.0;        // all connections must be up within this
    unsigned max_pending_connects = 256; // connections in the handshake at once while ramping up
    uint64_t seed = 1;
};

[[nodiscard]] const char* mode_name(Mode mode); // defined in cli.cpp

} // namespace ringd_bench
