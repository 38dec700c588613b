// The v1 (text) header: "PROXY TCP4|TCP6 <src> <dst> <sport> <dport>\r\n" or "PROXY UNKNOWN[ anything]\r\n",
// at most 107 bytes (spec 2.1).
//
// The same field checker runs on an unfinished line (the last field may still be growing: only its characters
// and length are checked) and on a finished one (every field in full), so a line is refused at its first
// character that no valid line could have, rather than when its CRLF arrives or the sender gives up.
#include "proxy_protocol/decoder_parts.hpp"
#include "proxy_protocol/inet_text.hpp"

#include <algorithm>
#include <cstring>
#include <netinet/in.h>

namespace ringd::proxy_protocol {

namespace {

enum class Field { source_address, destination_address, source_port, destination_port };

constexpr const char* field_names[] = {"source address", "destination address", "source port", "destination port"};

struct V1Addresses {
    bool ipv6 = false;
    std::array<uint8_t, 16> source{};
    std::array<uint8_t, 16> destination{};
    uint16_t source_port = 0;
    uint16_t destination_port = 0;
};

bool is_prefix_of(std::string_view part, std::string_view whole)
{
    return whole.substr(0, part.size()) == part;
}

// A field not yet followed by a space or the CRLF: can it still become valid?
std::optional<DecodeError> check_growing_field(Field field, bool ipv6, std::string_view text)
{
    const char* name = field_names[int(field)];
    if (field == Field::source_port || field == Field::destination_port) {
        for (const char c : text)
            if (!is_port_text_char(c))
                return make_error(ErrorKind::v1_port, "v1 header: %s %s is not a decimal number", name,
                                  quoted(text).c_str());
        if (text.size() > max_port_text || (text.size() > 1 && text[0] == '0'))
            return make_error(ErrorKind::v1_port, "v1 header: %s %s is not a port 0..65535 without leading zeros", name,
                              quoted(text).c_str());
        return std::nullopt;
    }
    const std::size_t max = ipv6 ? max_ipv6_text : max_ipv4_text;
    const auto valid_char = [ipv6](char c) { return ipv6 ? is_ipv6_text_char(c) : is_ipv4_text_char(c); };
    if (text.size() > max || !std::all_of(text.begin(), text.end(), valid_char))
        return make_error(ErrorKind::v1_address, "v1 header: %s %s is not an %s address", name, quoted(text).c_str(),
                          ipv6 ? "IPv6" : "IPv4");
    return std::nullopt;
}

std::optional<DecodeError> parse_field(Field field, std::string_view text, V1Addresses& out)
{
    const char* name = field_names[int(field)];
    if (text.empty())
        return make_error(ErrorKind::v1_syntax, "v1 header: an empty %s (fields are separated by single spaces)", name);
    if (field == Field::source_port || field == Field::destination_port) {
        const auto port = parse_port_text(text);
        if (!port)
            return make_error(ErrorKind::v1_port, "v1 header: %s %s is not a port 0..65535 without leading zeros", name,
                              quoted(text).c_str());
        (field == Field::source_port ? out.source_port : out.destination_port) = *port;
        return std::nullopt;
    }
    auto& address = field == Field::source_address ? out.source : out.destination;
    if (out.ipv6) {
        const auto parsed = parse_ipv6_text(text);
        if (!parsed)
            return make_error(ErrorKind::v1_address, "v1 header: %s %s is not an IPv6 address", name,
                              quoted(text).c_str());
        address = *parsed;
    } else {
        const auto parsed = parse_ipv4_text(text);
        if (!parsed)
            return make_error(ErrorKind::v1_address,
                              "v1 header: %s %s is not an IPv4 address (four numbers 0..255, no leading zeros)", name,
                              quoted(text).c_str());
        std::memcpy(address.data(), parsed->data(), parsed->size());
    }
    return std::nullopt;
}

SocketAddress to_socket_address(bool ipv6, const std::array<uint8_t, 16>& address, uint16_t port)
{
    SocketAddress out;
    if (ipv6) {
        auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.storage);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        std::memcpy(&sin6->sin6_addr, address.data(), 16);
        out.length = sizeof(sockaddr_in6);
    } else {
        auto* sin = reinterpret_cast<sockaddr_in*>(&out.storage);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        std::memcpy(&sin->sin_addr, address.data(), 4);
        out.length = sizeof(sockaddr_in);
    }
    return out;
}

// Checks `line` (without its CRLF). `finished`: the CRLF has arrived, so every field must be complete and
// present; otherwise the last field may still be growing. On a finished TCP4/TCP6 line, fills `header`.
std::optional<DecodeError> check_line(std::string_view line, bool finished, ProxyHeader& header)
{
    if (!finished && line.size() < v1_prefix.size()) {
        if (is_prefix_of(line, v1_prefix)) return std::nullopt;
        return make_error(ErrorKind::v1_syntax, "v1 header: %s does not start with \"PROXY \"", quoted(line).c_str());
    }
    if (!line.starts_with(v1_prefix))
        return make_error(ErrorKind::v1_syntax, "v1 header: %s does not start with \"PROXY \"", quoted(line).c_str());
    line.remove_prefix(v1_prefix.size());

    const std::size_t space = line.find(' ');
    const std::string_view protocol = line.substr(0, space);
    if (space == std::string_view::npos && !finished) {
        if (is_prefix_of(protocol, "TCP4") || is_prefix_of(protocol, "TCP6") || is_prefix_of(protocol, "UNKNOWN"))
            return std::nullopt;
    }
    // UNKNOWN: the receiver ignores whatever follows up to the CRLF (spec 2.1).
    if (protocol == "UNKNOWN") {
        header.use_socket_addresses = true;
        return std::nullopt;
    }
    if (protocol != "TCP4" && protocol != "TCP6")
        return make_error(ErrorKind::v1_syntax, "v1 header: protocol %s is not TCP4, TCP6 or UNKNOWN",
                          quoted(protocol).c_str());
    if (space == std::string_view::npos)
        return make_error(ErrorKind::v1_syntax, "v1 header: %s without addresses and ports",
                          std::string(protocol).c_str());

    V1Addresses addresses;
    addresses.ipv6 = protocol == "TCP6";
    std::string_view rest = line.substr(space + 1);
    for (int i = 0; i < 4; ++i) {
        const auto field = Field(i);
        const std::size_t end = rest.find(' ');
        const std::string_view text = rest.substr(0, end);
        if (end == std::string_view::npos && !finished) return check_growing_field(field, addresses.ipv6, text);
        if (auto error = parse_field(field, text, addresses)) return error;
        if (field == Field::destination_port) {
            if (end != std::string_view::npos)
                return make_error(ErrorKind::v1_syntax, "v1 header: more than four fields after %s (%s)",
                                  std::string(protocol).c_str(), quoted(rest.substr(end)).c_str());
            break;
        }
        if (end == std::string_view::npos)
            return make_error(ErrorKind::v1_syntax, "v1 header: the line ends after the %s", field_names[i]);
        rest.remove_prefix(end + 1);
    }
    header.source = to_socket_address(addresses.ipv6, addresses.source, addresses.source_port);
    header.destination = to_socket_address(addresses.ipv6, addresses.destination, addresses.destination_port);
    return std::nullopt;
}

} // namespace

bool could_start_v1(std::span<const uint8_t> received)
{
    const std::size_t n = std::min(received.size(), v1_prefix.size());
    return std::equal(received.begin(), received.begin() + std::ptrdiff_t(n), v1_prefix.begin());
}

DecodeResult decode_v1(std::span<const uint8_t> received)
{
    // Only the first 107 bytes can belong to the line; the CRLF must come within them.
    const std::string_view text(reinterpret_cast<const char*>(received.data()),
                                std::min(received.size(), max_v1_bytes));
    const std::size_t end = text.find_first_of("\r\n");
    ProxyHeader header;
    header.version = Version::v1;
    header.command = Command::proxy;
    header.transport = Transport::stream;

    if (end == std::string_view::npos) {
        // With 106 bytes and no CR, the CRLF could only end at byte 108.
        if (text.size() >= max_v1_bytes - 1)
            return make_error(ErrorKind::v1_too_long, "v1 header: no CRLF within the first %zu bytes", max_v1_bytes);
        if (auto error = check_line(text, false, header)) return *error;
        return NeedMore{std::max<std::size_t>(2, min_v1_bytes > text.size() ? min_v1_bytes - text.size() : 0)};
    }
    if (text[end] == '\n')
        return make_error(ErrorKind::v1_syntax, "v1 header: a bare LF at byte %zu (the line must end with CRLF)",
                          end + 1);
    if (end + 2 > max_v1_bytes)
        return make_error(ErrorKind::v1_too_long, "v1 header: no CRLF within the first %zu bytes", max_v1_bytes);
    // A CR ends the line: judge it now, without waiting for the LF.
    if (auto error = check_line(text.substr(0, end), true, header)) return *error;
    if (end + 1 == text.size()) return NeedMore{1};
    if (text[end + 1] != '\n')
        return make_error(ErrorKind::v1_syntax, "v1 header: a CR not followed by LF at byte %zu", end + 1);
    return Complete{end + 2, std::move(header)};
}

} // namespace ringd::proxy_protocol
