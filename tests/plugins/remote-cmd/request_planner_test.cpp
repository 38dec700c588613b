// remote-cmd's request planning (request_planner.hpp) and peer-credential decision (peer_credentials.hpp).
#include "peer_credentials.hpp"
#include "request_planner.hpp"

#include <catch2/catch.hpp>
#include <cstdint>

using namespace ringd::remote_cmd;

namespace {

Settings settings_with(std::string yaml)
{
    return parse_settings(yaml);
}

const Failure& failure_of(const Job& job)
{
    REQUIRE(std::holds_alternative<Failure>(job.plan));
    return std::get<Failure>(job.plan);
}

const ExecPlan& plan_of(const Job& job)
{
    if (const auto* f = std::get_if<Failure>(&job.plan)) FAIL("refused: " << f->message);
    return std::get<ExecPlan>(job.plan);
}

} // namespace

TEST_CASE("line requests", "[planner]")
{
    const Settings s = settings_with("{protocol: json-header, allow: [echo], timeout: 3s}");
    const RequestPlanner planner(s);
    Job job = planner.line_request("echo hi\n");
    CHECK(plan_of(job).argv.back() == "hi");
    CHECK(job.timeout_ms == 3000);
    CHECK_FALSE(job.close_after);

    job = planner.line_request("echo " + std::string(kMaxLineRequest, 'x'));
    CHECK(failure_of(job).kind == ErrorKind::too_large);
    CHECK_FALSE(job.close_after);
    CHECK(planner.line_request(std::string(kMaxLineRequest - 5, ' ') + "echo").close_after == false);

    job = planner.line_request("rm x");
    CHECK(failure_of(job).kind == ErrorKind::not_allowed);
    CHECK_FALSE(job.close_after);
}

TEST_CASE("a smaller max_request also bounds line requests", "[planner]")
{
    const Settings s = settings_with("{protocol: json-header, allow: [echo], max_request: 16}");
    const RequestPlanner planner(s);
    CHECK(failure_of(planner.line_request("echo 123456789012")).message == "request too large: 17 bytes (max 16)");
}

TEST_CASE("framed requests: timeouts are capped, malformed bodies are fatal", "[planner]")
{
    const Settings s = settings_with("{protocol: framed, allow: [echo], timeout: 2s}");
    const RequestPlanner planner(s);
    CHECK(planner.framed_request(R"({"argv":["echo"]})").timeout_ms == 2000);
    CHECK(planner.framed_request(R"({"argv":["echo"],"timeout_ms":500})").timeout_ms == 500);
    CHECK(planner.framed_request(R"({"argv":["echo"],"timeout_ms":5000})").timeout_ms == 2000);
    CHECK(planner.framed_request(R"({"argv":["echo"],"timeout_ms":18446744073709551615})").timeout_ms == 2000);

    Job job = planner.framed_request("{");
    CHECK(failure_of(job).kind == ErrorKind::bad_request);
    CHECK(job.close_after);
    job = planner.framed_request(R"({"argv":["rm"]})");
    CHECK(failure_of(job).kind == ErrorKind::not_allowed);
    CHECK_FALSE(job.close_after);
    job = planner.framed_request(R"({"cmd":"echo 'x"})");
    CHECK(failure_of(job).kind == ErrorKind::bad_request);
    CHECK_FALSE(job.close_after); // a well-formed frame with a bad command line: the stream is fine
}

TEST_CASE("framed requests: tokens", "[planner][security]")
{
    Settings s = settings_with("{protocol: framed, allow: [echo]}");
    s.token = "s3cret";
    const RequestPlanner planner(s);
    CHECK(plan_of(planner.framed_request(R"({"argv":["echo"],"token":"s3cret"})")).name == "echo");
    Job job = planner.framed_request(R"({"argv":["echo"]})");
    CHECK(failure_of(job).kind == ErrorKind::unauthorized);
    CHECK(failure_of(job).message == "this listener requires a token");
    CHECK(job.close_after);
    job = planner.framed_request(R"({"argv":["echo"],"token":"s3cre"})");
    CHECK(failure_of(job).message == "wrong token");
    // The token is checked before the command: a wrong token learns nothing about the allow list.
    CHECK(failure_of(planner.framed_request(R"({"argv":["rm"],"token":"x"})")).kind == ErrorKind::unauthorized);
}

TEST_CASE("peer credentials: uid or gid listed", "[peer]")
{
    Settings s = settings_with("{protocol: framed, allow_uids: [1000], allow_gids: [50]}");
    CHECK_FALSE(peer_refusal(s, 1, 1000, 1));
    CHECK_FALSE(peer_refusal(s, 1, 7, 50));
    const auto refused = peer_refusal(s, 99, 7, 8);
    REQUIRE(refused);
    CHECK(refused->kind == ErrorKind::forbidden);
    CHECK(refused->message == "peer uid 7 gid 8 (pid 99) is not allowed on this listener");

    s = settings_with("{protocol: framed, allow_uids: []}");
    CHECK(peer_refusal(s, 1, 0, 0)); // an explicitly empty list admits nobody
}

TEST_CASE("spawn failures", "[policy]")
{
    CHECK(spawn_failure("ls", ENOENT).kind == ErrorKind::not_found);
    CHECK(spawn_failure("ls", ENOENT).message == "command not found: ls");
    CHECK(spawn_failure("ls", EACCES).kind == ErrorKind::cannot_execute);
    CHECK(spawn_failure("ls", ENOEXEC).kind == ErrorKind::cannot_execute);
    CHECK(spawn_failure("ls", EAGAIN).kind == ErrorKind::internal);
}
