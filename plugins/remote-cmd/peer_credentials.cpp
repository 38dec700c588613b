// The allow_uids / allow_gids decision; see peer_credentials.hpp.
#include "peer_credentials.hpp"

#include <algorithm>
#include <string>

namespace ringd::remote_cmd {

std::optional<Failure> peer_refusal(const Settings& settings, int32_t pid, uint32_t uid, uint32_t gid)
{
    const auto listed = [](const std::optional<std::vector<uint32_t>>& ids, uint32_t id) {
        return ids && std::find(ids->begin(), ids->end(), id) != ids->end();
    };
    if (listed(settings.allow_uids, uid) || listed(settings.allow_gids, gid)) return std::nullopt;
    return Failure{ErrorKind::forbidden, "peer uid " + std::to_string(uid) + " gid " + std::to_string(gid) + " (pid " +
                                             std::to_string(pid) + ") is not allowed on this listener"};
}

} // namespace ringd::remote_cmd
