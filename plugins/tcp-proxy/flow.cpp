// One direction of a proxied pair: how much of a read the receiver's queue takes, what is kept, when the FIN goes.
#include "flow.hpp"

#include <algorithm>
#include <utility>

namespace ringd::tcp_proxy {

std::span<const std::byte> Flow::take(std::span<const std::byte> bytes, uint64_t queued)
{
    if (!kept_.empty()) { // the sender is paused; anything still arriving goes behind what is kept
        (void)keep(bytes);
        return {};
    }
    const uint64_t room = queued < buffer_ ? buffer_ - queued : 0;
    const std::size_t now = std::size_t(std::min<uint64_t>(room, bytes.size()));
    kept_.assign(reinterpret_cast<const char*>(bytes.data()) + now, bytes.size() - now);
    return bytes.first(now);
}

bool Flow::keep(std::span<const std::byte> bytes)
{
    kept_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return kept_.size() > buffer_;
}

std::string Flow::release(uint64_t queued)
{
    const uint64_t room = queued < buffer_ ? buffer_ - queued : 0;
    if (kept_.size() <= room) return release_all();
    std::string now = kept_.substr(0, std::size_t(room));
    kept_.erase(0, std::size_t(room));
    return now;
}

std::string Flow::release_all()
{
    return std::exchange(kept_, std::string()); // the string itself: no copy, and the memory goes with it
}

bool Flow::fin_to_pass()
{
    if (!fin_read_ || fin_passed_ || !kept_.empty()) return false;
    fin_passed_ = true;
    return true;
}

} // namespace ringd::tcp_proxy
