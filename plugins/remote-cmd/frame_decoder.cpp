// Incremental framed-request decoding and request validation; see frame_decoder.hpp.
#include "frame_decoder.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

namespace ringd::remote_cmd {

void FrameDecoder::feed(std::span<const std::byte> data, std::vector<Event>& out, std::size_t max_events)
{
    if (failed_) return;
    if (buffered() > 0) {
        // Older input is still waiting: the new bytes go behind it, in stream order.
        pending_.append(reinterpret_cast<const char*>(data.data()), data.size());
        decode_buffered(out, max_events);
        return;
    }
    const std::size_t used = decode(reinterpret_cast<const uint8_t*>(data.data()), data.size(), out, max_events);
    if (!failed_ && used < data.size()) {
        pending_.assign(reinterpret_cast<const char*>(data.data()) + used, data.size() - used);
        pending_at_ = 0;
    }
}

void FrameDecoder::decode_buffered(std::vector<Event>& out, std::size_t max_events)
{
    if (buffered() == 0) return;
    pending_at_ += decode(reinterpret_cast<const uint8_t*>(pending_.data()) + pending_at_, buffered(), out, max_events);
    if (failed_ || buffered() == 0) {
        discard_buffered();
    } else if (pending_at_ > pending_.size() / 2) {
        pending_.erase(0, pending_at_);
        pending_at_ = 0;
    }
}

void FrameDecoder::discard_buffered()
{
    std::string().swap(pending_); // gives the memory back: an idle connection holds no buffer
    pending_at_ = 0;
}

std::size_t FrameDecoder::decode(const uint8_t* p, std::size_t left, std::vector<Event>& out, std::size_t max_events)
{
    const std::size_t size = left;
    std::size_t events = 0;
    while (left > 0 && !failed_ && events < max_events) {
        if (!in_body_) {
            const std::size_t n = std::min(left, header_.size() - header_got_);
            std::copy_n(p, n, header_.begin() + static_cast<std::ptrdiff_t>(header_got_));
            header_got_ += n;
            p += n;
            left -= n;
            if (header_got_ < header_.size()) return size;
            body_len_ = (uint32_t{header_[0]} << 24) | (uint32_t{header_[1]} << 16) | (uint32_t{header_[2]} << 8) |
                        uint32_t{header_[3]};
            header_got_ = 0;
            if (body_len_ == 0 || body_len_ > max_body_) {
                failed_ = true;
                out.push_back({true, body_len_ == 0
                                         ? std::string("frame length is 0")
                                         : "frame length " + std::to_string(body_len_) + " exceeds max_request (" +
                                               std::to_string(max_body_) + " bytes)"});
                return size - left;
            }
            in_body_ = true;
            body_.clear();
            body_.reserve(body_len_); // bounded by max_request, checked above
        }
        const std::size_t n = std::min<std::size_t>(left, body_len_ - body_.size());
        body_.append(reinterpret_cast<const char*>(p), n);
        p += n;
        left -= n;
        if (body_.size() == body_len_) {
            in_body_ = false;
            out.push_back({false, std::move(body_)});
            body_ = std::string();
            ++events;
        }
    }
    return size - left;
}

std::optional<std::string> FrameDecoder::finish() const
{
    if (failed_) return std::nullopt;
    if (header_got_ != 0) {
        return "truncated frame: connection ended after " + std::to_string(header_got_) + " of 4 length bytes";
    }
    if (in_body_) {
        return "truncated frame: connection ended after " + std::to_string(body_.size()) + " of " +
               std::to_string(body_len_) + " body bytes";
    }
    return std::nullopt;
}

namespace {

using Json = nlohmann::json;

RequestParse fail(std::string message)
{
    RequestParse r;
    r.error = std::move(message);
    return r;
}

bool has_nul(const std::string& s)
{
    return s.find('\0') != std::string::npos;
}

} // namespace

RequestParse parse_framed_request(std::string_view body)
{
    // nlohmann keeps the last of two equal keys; the config loader refuses them, and so does the protocol: a
    // request whose "argv" says two things must not be read as either. The parser's callback sees every key.
    std::vector<std::set<std::string, std::less<>>> keys; // of each object being parsed, outermost first
    std::optional<std::string> duplicate;
    const Json::parser_callback_t note_keys = [&](int, Json::parse_event_t event, Json& parsed) {
        if (event == Json::parse_event_t::object_start) keys.emplace_back();
        if (event == Json::parse_event_t::object_end && !keys.empty()) keys.pop_back();
        if (event == Json::parse_event_t::key && !keys.empty() && !duplicate) {
            auto name = parsed.get<std::string>();
            if (keys.back().contains(name)) {
                duplicate = std::move(name);
            } else {
                keys.back().insert(std::move(name));
            }
        }
        return true;
    };
    Json doc;
    try {
        doc = Json::parse(body, note_keys);
    } catch (const Json::parse_error& e) {
        return fail("request is not valid JSON (error at byte " + std::to_string(e.byte) + ")");
    } catch (const Json::exception&) {
        // Not only parse_error: a number too large for a double is out_of_range (found by fuzz_frame_decoder).
        return fail("request is not valid JSON (a number is out of range)");
    }
    if (!doc.is_object()) return fail("request must be a JSON object");
    if (duplicate) {
        const std::string shown = duplicate->size() > 64 ? duplicate->substr(0, 64) + "..." : *duplicate;
        return fail("duplicate request field \"" + shown + "\"");
    }

    RequestParse result;
    FramedRequest& req = result.request;
    for (const auto& [key, value] : doc.items()) {
        if (key == "argv") {
            if (!value.is_array() || value.empty()) return fail("\"argv\" must be a non-empty array of strings");
            std::vector<std::string> argv;
            argv.reserve(value.size());
            for (const Json& arg : value) {
                if (!arg.is_string()) return fail("\"argv\" must be a non-empty array of strings");
                argv.push_back(arg.get<std::string>());
                if (has_nul(argv.back())) return fail("\"argv\" strings must not contain NUL");
            }
            req.argv = std::move(argv);
        } else if (key == "cmd") {
            if (!value.is_string()) return fail("\"cmd\" must be a string");
            req.cmd = value.get<std::string>();
            if (has_nul(*req.cmd)) return fail("\"cmd\" must not contain NUL");
        } else if (key == "token") {
            if (!value.is_string()) return fail("\"token\" must be a string");
            req.token = value.get<std::string>();
        } else if (key == "timeout_ms") {
            if (!value.is_number_unsigned() || value.get<uint64_t>() == 0) {
                return fail("\"timeout_ms\" must be a positive integer");
            }
            req.timeout_ms = value.get<uint64_t>();
        } else {
            const std::string shown = key.size() > 64 ? key.substr(0, 64) + "..." : key;
            return fail("unknown request field \"" + shown + "\"");
        }
    }
    if (req.argv.has_value() == req.cmd.has_value()) return fail("request needs exactly one of \"argv\" and \"cmd\"");
    return result;
}

} // namespace ringd::remote_cmd
