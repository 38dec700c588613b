// Connection's description for logs, and ConnectionList: the intrusive list behind idle timeouts and close
// deadlines.
#include "engine/connection.hpp"

#include <spdlog/fmt/fmt.h>

namespace ringd::engine {

const char* to_string(Phase phase)
{
    switch (phase) {
    case Phase::awaiting_header:
        return "awaiting_header";
    case Phase::connecting:
        return "connecting";
    case Phase::open:
        return "open";
    case Phase::closing:
        return "closing";
    case Phase::aborting:
        return "aborting";
    case Phase::torn_down:
        return "torn_down";
    }
    return "?";
}

const char* to_string(WriteSide write)
{
    switch (write) {
    case WriteSide::open:
        return "open";
    case WriteSide::fin_queued:
        return "fin_queued";
    case WriteSide::fin_sent:
        return "fin_sent";
    }
    return "?";
}

const char* to_string(ReadSide read)
{
    switch (read) {
    case ReadSide::open:
        return "open";
    case ReadSide::fin_held:
        return "fin_held";
    case ReadSide::at_eof:
        return "at_eof";
    }
    return "?";
}

const char* to_string(RecvOp recv)
{
    switch (recv) {
    case RecvOp::idle:
        return "idle";
    case RecvOp::armed:
        return "armed";
    case RecvOp::cancelling:
        return "cancelling";
    }
    return "?";
}

const char* to_string(ConnectOp connect)
{
    switch (connect) {
    case ConnectOp::none:
        return "none";
    case ConnectOp::in_flight:
        return "in_flight";
    case ConnectOp::cancelling:
        return "cancelling";
    }
    return "?";
}

std::string Connection::describe() const
{
    const char* paused = paused_by_plugin && paused_by_backpressure ? "plugin,backpressure"
                         : paused_by_plugin                         ? "plugin"
                         : paused_by_backpressure                   ? "backpressure"
                                                                    : "no";
    return fmt::format("phase={} write={} read={} recv={} send={} paused={} held={} queued={} inflight={} "
                       "children={}{}{}",
                       to_string(phase), to_string(write), to_string(read), to_string(recv), send_in_flight ? 1 : 0,
                       paused, held_input.size(), out.bytes(), inflight, running_children,
                       outbound ? " outbound connect=" : "", outbound ? to_string(connect) : "");
}

void ConnectionList::push_back(Connection* c)
{
    c->list = this;
    c->list_prev = tail_;
    c->list_next = nullptr;
    if (tail_ != nullptr) {
        tail_->list_next = c;
    } else {
        head_ = c;
    }
    tail_ = c;
}

void ConnectionList::remove(Connection* c)
{
    if (c->list_prev != nullptr) {
        c->list_prev->list_next = c->list_next;
    } else {
        head_ = c->list_next;
    }
    if (c->list_next != nullptr) {
        c->list_next->list_prev = c->list_prev;
    } else {
        tail_ = c->list_prev;
    }
    c->list_prev = c->list_next = nullptr;
    c->list = nullptr;
}

void ConnectionList::move_to_back(Connection* c)
{
    if (tail_ == c) return;
    remove(c);
    push_back(c);
}

} // namespace ringd::engine
