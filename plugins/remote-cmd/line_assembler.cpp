// Request boundaries for the line protocols; see line_assembler.hpp.
#include "line_assembler.hpp"

namespace ringd::remote_cmd {

void LineAssembler::feed(std::span<const std::byte> data, std::vector<Event>& out, std::size_t max_events)
{
    if (failed_) return;
    const auto* bytes = reinterpret_cast<const char*>(data.data());
    if (buffered() > 0) {
        // Older input is still waiting: the new bytes go behind it, in stream order.
        pending_.append(bytes, data.size());
        decode_buffered(out, max_events);
        return;
    }
    const std::size_t used = scan(bytes, data.size(), out, max_events);
    if (!failed_ && used < data.size()) {
        pending_.assign(bytes + used, data.size() - used);
        pending_at_ = 0;
    }
}

void LineAssembler::decode_buffered(std::vector<Event>& out, std::size_t max_events)
{
    if (buffered() == 0) return;
    pending_at_ += scan(pending_.data() + pending_at_, buffered(), out, max_events);
    if (failed_ || buffered() == 0) {
        std::string().swap(pending_); // gives the memory back: an idle connection holds no buffer
        pending_at_ = 0;
    } else if (pending_at_ > pending_.size() / 2) {
        pending_.erase(0, pending_at_);
        pending_at_ = 0;
    }
}

void LineAssembler::discard_buffered()
{
    std::string().swap(pending_);
    std::string().swap(partial_);
    pending_at_ = 0;
    quote_ = 0;
    escaped_ = false;
}

std::string LineAssembler::take_partial()
{
    quote_ = 0;
    escaped_ = false;
    std::string request;
    request.swap(partial_);
    return request;
}

void LineAssembler::fail(std::vector<Event>& out)
{
    failed_ = true;
    discard_buffered();
    out.push_back({true, "request too large: more than " + std::to_string(max_line_) + " bytes without a newline"});
}

// Where the request ends in `p[0, left)`: the first LF outside quotes (quoting as split_command_line reads
// it), or `left` if there is none. Carries the quoting state over reads.
std::size_t LineAssembler::request_end(const char* p, std::size_t left)
{
    for (std::size_t i = 0; i < left; ++i) {
        const char c = p[i];
        if (escaped_) {
            escaped_ = false; // the escaped byte is literal, an LF too
        } else if (quote_ == '\'') {
            if (c == '\'') quote_ = 0;
        } else if (c == '\\') {
            escaped_ = true; // outside quotes, or inside double quotes
        } else if (quote_ == '"') {
            if (c == '"') quote_ = 0;
        } else if (c == '\'' || c == '"') {
            quote_ = c;
        } else if (c == '\n') {
            return i;
        }
    }
    return left;
}

std::size_t LineAssembler::scan(const char* p, std::size_t left, std::vector<Event>& out, std::size_t max_events)
{
    const std::size_t size = left;
    std::size_t events = 0;
    while (left > 0 && !failed_ && events < max_events) {
        const std::size_t take = request_end(p, left);
        const bool ended = take < left;
        if (partial_.size() + take > max_line_) {
            fail(out);
            return size; // everything is ignored from here on
        }
        partial_.append(p, take);
        p += take;
        left -= take;
        if (!ended) break;
        ++p; // the LF itself
        --left;
        out.push_back({false, take_partial()});
        ++events;
    }
    return size - left;
}

} // namespace ringd::remote_cmd
