// Connection and ListenerSlot: the whole per-connection and per-listener state of one worker, in one place
// (like Redis's client struct), so the event handlers in worker_stream.cpp read top to bottom.
//
// A connection's life is one Phase that only moves forward; the few things that vary independently of it
// (the write side, the read side, the multishot recv, the one send, the two reasons to pause reading) each
// have a small enum or flag of their own, so a combination that cannot happen cannot be written either.
#pragma once

#include "engine/listener.hpp"
#include "engine/output_queue.hpp"
#include "engine/rearm_backoff.hpp"
#include "engine/timer_queue.hpp"
#include "limits/source_key.hpp"
#include "proxy_protocol/header.hpp"
#include "service/access_log.hpp"

#include <cstdint>
#include <linux/time_types.h>
#include <memory>
#include <optional>
#include <ringd/plugin.h>
#include <string>
#include <sys/socket.h>
#include <vector>

namespace ringd::engine {

class Worker;
struct Connection;

// Intrusive doubly-linked list of connections (no allocation per insert). A connection is in at most one
// (Connection::list says which): its slot's idle list while open (least recently active first), or the
// worker's closing list while it flushes and says goodbye.
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

// A worker's view of one listening socket. `listener` is the current config generation, which new
// connections get; a reload that changes the listener's settings swaps it in place, so the armed multishot
// accept keeps running (cancelling it and arming a new one on the same socket can lose a wake-up, because the
// kernel wakes accept waiters exclusively). Connections keep the generation they were accepted by, held alive
// by its InstancePresence on this worker until the last of them closes.
struct ListenerSlot {
    std::shared_ptr<Listener> listener;
    uint32_t index = 0;
    uint32_t reuse_tag = 0; // in the user_data of this slot's SQEs: a completion for an earlier slot is not ours
    int fd = -1;
    bool armed = false;                              // the multishot accept (stream) or recvmsg (datagram) is in flight
    bool retiring = false;                           // takes no new connections; freed once empty
    std::optional<Clock::time_point> drain_deadline; // removed listener: connections left then are closed
    std::optional<Clock::time_point> rearm_at;       // accept back-off after EMFILE/ENFILE, recvmsg after errors
    RearmBackoff recvmsg_backoff;                    // datagram: recvmsg errors in a row, rate-limited logging
    uint32_t connections = 0;
    ConnectionList idle;            // open connections of this slot, least recently active first
    ConnectionList awaiting_header; // PROXY protocol: accepted, header not complete yet, oldest first
    msghdr recvmsg_shape{};         // datagram: tells multishot recvmsg how much name space to leave per buffer
};

// One listener generation, and so one plugin instance, as present on one worker (ABI 1.1): from the plugin's
// on_worker_start there, before any other callback of the instance there, to its on_worker_stop, after the last
// one. Present while a listener slot of this worker serves it or any of its connections here is not yet
// released; keeps the Listener (and its instance) alive meanwhile.
struct InstancePresence {
    std::shared_ptr<Listener> listener;
    bool in_slot = false;        // a listener slot here takes new connections (or datagrams) for it
    bool stopping = false;       // on_worker_stop is running: no new worker timers
    uint32_t connections = 0;    // its connections on this worker not yet released
    std::vector<int64_t> timers; // pending worker timers (worker_timer_start), dropped at on_worker_stop
};

// Where a connection is in its life. Moves only forward, in this order; a step may be skipped.
enum class Phase : uint8_t {
    awaiting_header, // accepted on a listener with proxy_protocol, its PROXY header not complete yet: what it
                     // sends goes to the decoder, the plugin knows nothing of it (no on_open, no on_close, no id);
                     // a rejection tears it down from here (worker_accept.cpp)
    connecting,      // outbound (host->connect), not established yet: sends are queued, nothing is read or sent; a
                     // close or abort cancels the connect (worker_outbound.cpp)
    open,            // on_open has run (or is running), or on_connect(0) has; the plugin gets on_data
    closing,         // a close was asked for: no more on_data; queued output is flushed, then FIN, then input is
                     // discarded until the peer's FIN ("lingering close"), bounded by the close deadline
    aborting,        // a reset was asked for (plugin abort, or a callback threw): torn down when the callback returns
    torn_down,       // on_close has run and the close is queued; only completions still owed keep the slot
};

// Our side of the byte stream.
enum class WriteSide : uint8_t {
    open,
    fin_queued, // shutdown_write() (or a close) was asked for: FIN follows the output queued before it
    fin_sent,
};

// The peer's side of the byte stream, as the plugin sees it.
enum class ReadSide : uint8_t {
    open,
    fin_held, // the peer's FIN arrived behind input the plugin has not taken yet: told after that input
    at_eof,   // the peer's FIN has been seen and, while open, passed on (on_peer_shutdown or the default close)
};

// The connection's multishot recv.
enum class RecvOp : uint8_t {
    idle,
    armed,
    cancelling, // a cancel is on its way; completions (data included) still arrive until the final one
};

// An outbound connection's IORING_OP_CONNECT. It is in flight from host->connect until its completion; on_connect
// is owed exactly while it is `in_flight` (teardown tells it -ECANCELED and moves it to `cancelling`).
enum class ConnectOp : uint8_t {
    none,       // accepted connection, or the connect's completion has arrived
    in_flight,  // submitted; on_connect not told yet
    cancelling, // torn down first: on_connect was told -ECANCELED, the completion is still owed
};

// A connection accepted on a listener with `proxy_protocol` (allocated only there): its header while it arrives,
// then the addresses it names.
struct ProxiedConnection {
    // What arrived while awaiting_header and did not yet make a header: at most the decoder's bound
    // (max_header_bytes) plus one receive buffer. Freed once the header is complete.
    std::string received;
    Clock::time_point deadline{}; // accepted + proxy_timeout: rejected if the header is not complete by then
    // Once complete: the client and the address it connected to, as the header names them; len 0 when the header
    // carries none (v1 UNKNOWN, v2 LOCAL or UNSPEC), and then the socket's own addresses stand.
    service::SocketAddress client;
    service::SocketAddress destination;
    std::vector<proxy_protocol::Tlv> tlvs; // v2's TLVs, in wire order
};

// What an outbound connect's SQEs point at: kept until the connect's completion, whenever the kernel reads it.
struct ConnectAttempt {
    sockaddr_storage address{};
    socklen_t address_len = 0;
    __kernel_timespec timeout{};
};

struct Connection {
    static constexpr unsigned max_send_iov = 8;

    Worker* worker = nullptr;
    ListenerSlot* slot = nullptr;
    Listener* listener = nullptr; // the config generation that accepted it: its plugin instance and limits serve it
    InstancePresence* presence = nullptr; // its listener's presence on this worker, held until released
    ringd_conn_id id = 0;                 // the plugin's name for it from any thread (conn_id.hpp)
    uint32_t index = 0;
    uint32_t reuse_tag = 0; // tells this connection's completions and timers from those of the slot's earlier users
    int fd = -1;
    void* user = nullptr;
    OutputQueue out;
    // Input that arrived after the plugin paused reading (completions already on their way when the recv was
    // cancelled: at most about one receive buffer), delivered in order before anything else on resume.
    std::string held_input;

    Clock::time_point opened_at{}; // accepted (or connect() called): the duration histogram's start
    Clock::time_point last_active{};
    Clock::time_point close_deadline{}; // closing: reset if not closed cleanly by then
    ConnectionList* list = nullptr;     // the idle or closing list this connection is in, if any
    Connection* list_prev = nullptr;
    Connection* list_next = nullptr;
    std::vector<int64_t> timers;   // live timer ids, cancelled at teardown
    uint64_t output_low_water = 0; // notify_output_below: on_output_drained once out.bytes() is at or below

    uint16_t inflight = 0;         // SQEs whose completions are still owed; the slot is reused only at 0
    uint16_t running_children = 0; // spawned commands not yet delivered: the connection is not idle
    Phase phase = Phase::open;
    // The source admitted by the listener's per-source limits: released once, at teardown.
    std::optional<limits::SourceKey> source;
    ConnectOp connect = ConnectOp::none;
    bool outbound = false; // opened by host->connect: counts against max_outbound_connections, not max_connections
    WriteSide write = WriteSide::open;
    ReadSide read = ReadSide::open;
    RecvOp recv = RecvOp::idle;
    bool send_in_flight = false; // at most one send per socket, so the stream cannot be reordered
    bool ever_received = false;
    bool paused_by_plugin = false;
    bool paused_by_backpressure = false;                 // queued output above max_output_buffer
    bool output_watch = false;                           // notify_output_below is armed (one-shot)
    ringd_close_reason close_reason = RINGD_CLOSE_LOCAL; // once closing or aborting: what on_close will say

    msghdr send_msg{};
    iovec send_iov[max_send_iov]{};
    std::unique_ptr<ConnectAttempt> connect_attempt; // outbound: until the connect's completion arrives
    std::unique_ptr<ProxiedConnection> proxied;      // listeners with proxy_protocol only

    // Traffic, for the access log. Plain fields: only this worker touches a connection.
    uint64_t bytes_in = 0;  // read from the socket, also what a closing connection discards
    uint64_t bytes_out = 0; // taken by the kernel for sending
    // Its access log record, from accept (or connect) to release, when its listener has `access_log: on`;
    // submitted to the writer once every completion is in, so the byte counts are final (worker_access.cpp).
    std::unique_ptr<service::AccessLogEntry> access;

    // A close or abort was asked for (or done): the plugin may not queue more. Not while connecting (nor while
    // awaiting a PROXY header, which ends in open or torn_down).
    [[nodiscard]] bool closing() const
    {
        return phase == Phase::closing || phase == Phase::aborting || phase == Phase::torn_down;
    }
    [[nodiscard]] bool torn_down() const { return phase == Phase::torn_down; }
    // One line for logs: "phase=closing write=fin_sent read=open recv=armed send=1 paused=plugin ..."
    [[nodiscard]] std::string describe() const;
};

[[nodiscard]] const char* to_string(Phase phase);
[[nodiscard]] const char* to_string(WriteSide write);
[[nodiscard]] const char* to_string(ReadSide read);
[[nodiscard]] const char* to_string(RecvOp recv);
[[nodiscard]] const char* to_string(ConnectOp connect);

} // namespace ringd::engine
