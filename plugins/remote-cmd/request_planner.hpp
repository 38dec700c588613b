// Turns one request into a Job: a command ready for host->spawn, or the answer to give instead. Covers both
// request forms: a command line (json-header and size-prefixed: one request as the LineAssembler ended it) and
// a framed body.
// Pure decisions (settings, allow list, token, limits); the only I/O is the policy's PATH lookup.
#pragma once

#include "command_policy.hpp"
#include "response_encoder.hpp"
#include "settings.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ringd::remote_cmd {

// json-header and size-prefixed requests are at most this many bytes (the tutorial's buffer), not counting
// the newline that may end them.
inline constexpr std::size_t kMaxLineRequest = 4096;

// The line-request cap of a listener: kMaxLineRequest, or max_request if that is smaller.
[[nodiscard]] inline std::size_t max_line_request(const Settings& settings)
{
    return std::min<std::size_t>(kMaxLineRequest, settings.max_request);
}

struct Job {
    Plan plan;
    uint32_t timeout_ms = 0;
    bool close_after = false; // the stream is unusable (bad frame, bad token, refused peer): answer, then end

    [[nodiscard]] static Job fatal(Failure failure) { return Job{std::move(failure), 0, true}; }
};

class RequestPlanner {
public:
    // `settings` must outlive the planner.
    explicit RequestPlanner(const Settings& settings) : settings_(settings), policy_(settings.allow, settings.shell) {}

    // A json-header / size-prefixed request: too large, or a command line to split (or give to /bin/sh).
    [[nodiscard]] Job line_request(std::string_view bytes) const;

    // A framed request body: malformed bodies and bad tokens are fatal; refusals of the command are not.
    [[nodiscard]] Job framed_request(std::string_view body) const;

private:
    [[nodiscard]] uint32_t timeout_ms(std::optional<uint64_t> requested) const;

    const Settings& settings_;
    CommandPolicy policy_;
};

} // namespace ringd::remote_cmd
