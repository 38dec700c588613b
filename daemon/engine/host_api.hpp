// The ringd_host table handed to every plugin instance: C entry points that forward to the Worker that owns
// the connection.
#pragma once

#include <ringd/plugin.h>

namespace ringd::engine {

[[nodiscard]] const ringd_host* host_table();

} // namespace ringd::engine
