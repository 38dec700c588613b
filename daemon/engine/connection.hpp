// Connection and ListenerSlot: the whole per-connection and per-listener state of one worker, in one place
// (like Redis's client struct), so the event handlers in worker_stream.cpp read top to bottom.
#pragma once

#include "engine/listener.hpp"
#include "engine/output_queue.hpp"
#include "engine/rearm_backoff.hpp"
#include "engine/timer_queue.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <ringd/plugin.h>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace ringd::engine {

class Worker;
struct Connection;

// Intrusive doubly-linked list of connections (no allocation per insert). A connection is in at most one:
// its slot's idle list while open (least recently active first), or the worker's closing list.
class ConnectionList {
public:
    void push_back(Connection* c);
    void remove(Connection* c);
    void move_to_back(Connection* c);
    [[nodiscard]] Connection* front() const { return head_; }
    [[nodiscard]] bool empty() const { return head_ == nullptr; }

private:
    Connection* head_ = nullptr;
    Connection* tail_ = nullptr;
};

// A worker's view of one listening socket. `listener` is the current generation, which new connections get;
// a reload that changes the listener's settings swaps it in place, so the armed multishot accept keeps
// running (cancelling it and arming a new one on the same socket can lose a wake-up, because the kernel
// wakes accept waiters exclusively). Connections keep the generation they were accepted by, held alive
// through `generations` until the last of them closes.
struct ListenerSlot {
    std::shared_ptr<Listener> listener;
    std::vector<std::pair<std::shared_ptr<Listener>, uint32_t>> generations; // in use by connections: count
    uint32_t index = 0;
    uint32_t generation = 0;
    int fd = -1;
    bool armed = false;                              // the multishot accept (stream) or recvmsg (datagram) is in flight
    bool retiring = false;                           // takes no new connections; freed once empty
    std::optional<Clock::time_point> drain_deadline; // removed listener: connections left then are closed
    std::optional<Clock::time_point> rearm_at;       // accept back-off after EMFILE/ENFILE, recvmsg after errors
    RearmBackoff recvmsg_backoff;                    // datagram: recvmsg errors in a row, rate-limited logging
    uint32_t connections = 0;
    ConnectionList idle;    // open connections of this slot, least recently active first
    msghdr recvmsg_shape{}; // datagram: tells multishot recvmsg how much name space to leave per buffer
};

struct Connection {
    static constexpr unsigned max_send_iov = 8;

    Worker* worker = nullptr;
    ListenerSlot* slot = nullptr;
    Listener* listener = nullptr; // the generation that accepted it: its plugin instance and limits serve it
    uint32_t index = 0;
    uint32_t generation = 0;
    int fd = -1;
    void* user = nullptr;
    OutputQueue out;
    std::string held_input; // data that arrived after the plugin paused reading, delivered on resume

    Clock::time_point last_active{};
    Clock::time_point close_deadline{}; // closing: abort if not closed cleanly by then
    Connection* list_prev = nullptr;
    Connection* list_next = nullptr;
    bool in_idle_list = false;
    bool in_closing_list = false;
    std::vector<int64_t> timers; // live timer ids, cancelled at teardown

    uint16_t inflight = 0;         // SQEs whose completions are still owed; the slot is reused only at 0
    uint16_t running_children = 0; // spawned commands not yet delivered: the connection is not idle
    bool recv_armed = false;
    bool recv_cancel_sent = false;
    bool send_in_flight = false;
    bool peer_eof = false;
    bool ever_received = false;
    bool paused_by_plugin = false;
    bool paused_by_backpressure = false;
    bool close_requested = false; // close after flush
    bool abort_requested = false; // reset as soon as the current callback returns
    bool write_shutdown_requested = false;
    bool write_shutdown_sent = false;
    bool torn_down = false;
    bool opened = false; // on_open has run, so on_close is owed
    ringd_close_reason close_reason = RINGD_CLOSE_LOCAL;

    msghdr send_msg{};
    iovec send_iov[max_send_iov]{};

    [[nodiscard]] bool closing() const { return close_requested || abort_requested || torn_down; }
};

} // namespace ringd::engine
