// The load modes. Each runs to completion within its time bounds and returns what it measured; none
// throws for a misbehaving server (that is counted in Result::errors), only for a broken local setup.
#pragma once

#include "error_log.hpp"
#include "options.hpp"
#include "report.hpp"
#include "server_probe.hpp"

namespace ringd_bench {

// Closed-loop TCP / unix-stream echo: each client sends --size bytes, waits for the whole reply, checks it.
[[nodiscard]] Result run_echo(const Options& options, const ServerProbe& probe);
// Closed-loop UDP echo, one socket per client, with resend after --timeout-ms (counted as timeouts).
[[nodiscard]] Result run_udp(const Options& options, const ServerProbe& probe);
// Connection churn: connect, read to EOF, check --contains, close; --clients at once.
[[nodiscard]] Result run_churn(const Options& options, const ServerProbe& probe);
// remote-cmd framed protocol: length-prefixed JSON request, length-prefixed JSON header + output back.
[[nodiscard]] Result run_cmd(const Options& options, const ServerProbe& probe);
// Many idle connections: server RSS before/after, then every connection must still echo.
[[nodiscard]] Result run_idle(const Options& options, const ServerProbe& probe);

} // namespace ringd_bench
