// libFuzzer target: remote-cmd's framed-request decoder and request validation.
//
// The first input byte picks the chunk sizes the stream is fed in, the second max_request; the rest is the
// byte stream a client sends. Checks, beyond "no crash, no sanitizer report":
//   - chunking never changes the outcome: the same frames and errors as feeding everything at once;
//   - at most one error, always last; no frame exceeds max_request or is empty;
//   - every frame body parses or is rejected with a message; accepted requests are well-formed.
#include "frame_decoder.hpp"

#include <cstdlib>

using ringd::remote_cmd::FrameDecoder;

namespace {

void check(bool condition)
{
    if (!condition) std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 2) return 0;
    const std::size_t chunk = 1 + data[0] % 17;
    const uint32_t max_body = 1 + static_cast<uint32_t>(data[1]) * 64;
    const auto stream = std::as_bytes(std::span(data + 2, size - 2));

    FrameDecoder whole(max_body);
    std::vector<FrameDecoder::Event> expected;
    whole.feed(stream, expected);

    FrameDecoder pieces(max_body);
    std::vector<FrameDecoder::Event> got;
    for (std::size_t i = 0; i < stream.size(); i += chunk) {
        pieces.feed(stream.subspan(i, std::min(chunk, stream.size() - i)), got);
    }

    check(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        check(got[i].is_error == expected[i].is_error);
        check(got[i].bytes == expected[i].bytes);
        check(!got[i].is_error || i + 1 == got.size());
        if (got[i].is_error) continue;
        check(!got[i].bytes.empty() && got[i].bytes.size() <= max_body);
        const auto parsed = ringd::remote_cmd::parse_framed_request(got[i].bytes);
        if (!parsed.ok()) continue;
        check(parsed.request.argv.has_value() != parsed.request.cmd.has_value());
        if (parsed.request.argv) check(!parsed.request.argv->empty());
        if (parsed.request.timeout_ms) check(*parsed.request.timeout_ms > 0);
    }
    check(whole.failed() == pieces.failed());
    check(whole.between_frames() == pieces.between_frames());
    check(whole.finish() == pieces.finish());
    return 0;
}
