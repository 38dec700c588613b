// libFuzzer target: remote-cmd's line-request assembler (where json-header and size-prefixed requests end).
//
// Checks, beyond "no crash, no sanitizer report", that where requests end does not depend on how the
// stream is cut into reads, nor on how many events the caller takes at a time: the input (first byte: the
// request cap; second: a chunk size) is fed whole, then in chunks taking one event per call, and both must
// give the same requests, the same too_large error, and the same partial request; and no request is longer
// than the cap.
#include "line_assembler.hpp"

#include <cstdlib>
#include <span>
#include <string>
#include <vector>

using ringd::remote_cmd::LineAssembler;

namespace {

void check(bool condition)
{
    if (!condition) std::abort();
}

struct Outcome {
    std::vector<LineAssembler::Event> events;
    std::string partial;
};

Outcome run(std::span<const std::byte> input, std::size_t max_line, std::size_t chunk, std::size_t per_call)
{
    LineAssembler a(max_line);
    Outcome o;
    for (std::size_t at = 0; at < input.size(); at += chunk) {
        a.feed(input.subspan(at, std::min(chunk, input.size() - at)), o.events, per_call);
        while (a.buffered() > 0)
            a.decode_buffered(o.events, per_call);
    }
    if (!a.failed()) o.partial = a.take_partial();
    return o;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size)
{
    if (size < 2) return 0;
    const std::size_t max_line = 1 + data[0] % 64;
    const std::size_t chunk = 1 + data[1] % 17;
    const auto input = std::as_bytes(std::span(data + 2, size - 2));

    const Outcome whole = run(input, max_line, input.size() + 1, SIZE_MAX);
    const Outcome pieces = run(input, max_line, chunk, 1);
    check(whole.events.size() == pieces.events.size());
    for (std::size_t i = 0; i < whole.events.size(); ++i) {
        check(whole.events[i].too_large == pieces.events[i].too_large);
        check(whole.events[i].bytes == pieces.events[i].bytes);
        check(whole.events[i].too_large || whole.events[i].bytes.size() <= max_line);
        check(!whole.events[i].too_large || i + 1 == whole.events.size()); // nothing after the error
    }
    check(whole.partial == pieces.partial);
    check(whole.partial.size() <= max_line);
    return 0;
}
