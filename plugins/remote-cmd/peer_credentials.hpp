// Peer-credential checks for unix-socket listeners (allow_uids / allow_gids): the host's peer_credentials
// service (SO_PEERCRED), a minor ABI addition at the end of ringd_host that may only be used when the host's
// struct_size covers it, and the pure decision on what it reports.
#pragma once

#include "response_encoder.hpp"
#include "settings.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <ringd/plugin.h>

namespace ringd::remote_cmd {

using PeerCredentialsFn = int (*)(ringd_conn* conn, int32_t* pid, uint32_t* uid, uint32_t* gid);

// The service, or nullptr if this host predates it.
[[nodiscard]] inline PeerCredentialsFn peer_credentials_service(const ringd_host* host)
{
    constexpr std::size_t end = offsetof(ringd_host, peer_credentials) + sizeof(PeerCredentialsFn);
    if (host == nullptr || host->struct_size < end) return nullptr;
    return host->peer_credentials;
}

// Why a peer with these credentials may not use the listener, or nullopt if it may: its uid is in
// allow_uids or its (primary, as SO_PEERCRED reports it) gid is in allow_gids.
[[nodiscard]] std::optional<Failure> peer_refusal(const Settings& settings, int32_t pid, uint32_t uid, uint32_t gid);

} // namespace ringd::remote_cmd
