// Requests to Jobs; see request_planner.hpp.
#include "request_planner.hpp"

#include "frame_decoder.hpp"

#include <algorithm>
#include <string>

namespace ringd::remote_cmd {

uint32_t RequestPlanner::timeout_ms(std::optional<uint64_t> requested) const
{
    // settings.timeout is validated to fit in 32 bits; a request may only shorten it.
    const auto limit = static_cast<uint64_t>(settings_.timeout.count());
    return static_cast<uint32_t>(requested ? std::min(*requested, limit) : limit);
}

Job RequestPlanner::line_request(std::string_view bytes) const
{
    const std::size_t limit = max_line_request(settings_);
    if (bytes.size() > limit) {
        return Job{Failure{ErrorKind::too_large, "request too large: " + std::to_string(bytes.size()) + " bytes (max " +
                                                     std::to_string(limit) + ")"}};
    }
    return Job{policy_.plan_line(bytes), timeout_ms(std::nullopt)};
}

Job RequestPlanner::framed_request(std::string_view body) const
{
    RequestParse parsed = parse_framed_request(body);
    if (!parsed.ok()) return Job::fatal({ErrorKind::bad_request, parsed.error});
    FramedRequest& req = parsed.request;
    if (settings_.token && !constant_time_equal(*settings_.token, req.token.value_or(""))) {
        return Job::fatal({ErrorKind::unauthorized, req.token ? "wrong token" : "this listener requires a token"});
    }
    Plan plan = req.argv ? policy_.plan_argv(std::move(*req.argv)) : policy_.plan_line(*req.cmd);
    return Job{std::move(plan), timeout_ms(req.timeout_ms)};
}

} // namespace ringd::remote_cmd
