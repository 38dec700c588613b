// chat: a chat room as a ringd plugin. Every line a client sends goes to every other client of the listener,
// whichever worker serves it, with no thread and no lock of the plugin's own. README.md walks through it.
//
//   listeners:
//     - name: chat
//       listen: tcp://127.0.0.1:7000
//       plugin: chat            # or an absolute path to chat.so
//
// What a client sees (every line ends with '\n'; a '\r' before a client's '\n' is dropped, empty lines too):
//   "* welcome #<id> (worker <w> of <n>)"   once, on connecting; <id> is the connection's ringd id
//   "#<id>: <text>"                         another client's line. A line is never echoed to its sender.
//   "* #<id> joined", "* #<id> left"        others coming and going
//   "* line too long (over 4096 bytes)"     then the server closes this connection
//   "* busy: your line did not reach everyone"   a worker's mailbox was full (ringd's 16 MiB cap)
// A client that stops reading is disconnected (reset) once 256 KiB wait for it: it can never hold the room's
// memory or slow the others down.
//
// The design in three sentences. The room is one member list per worker, each touched only by its worker's
// thread. A line is formatted once into an immutable, reference-counted buffer; the sender's worker writes it
// to its own members at once and posts one task carrying a reference to every other worker, which writes it to
// its members there; the last worker done frees it. A reload hands the room to the new instance, so the old
// instance's clients and the new one's stay one room.
#include <memory>
#include <ringd/plugin.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr const char* chat_version = "1.0.0";
constexpr std::size_t max_line = 4096;     // bytes of one line before its '\n': bounds each client's input
constexpr int64_t max_unread = 256 * 1024; // output a client may leave unread before it is disconnected

// One client: its connection's user pointer, from on_open to on_close, used only on the connection's worker.
struct Member {
    ringd_conn* conn;
    ringd_conn_id id;
    std::size_t slot = 0;  // where it is in its worker's member list
    std::string partial{}; // a line whose '\n' has not arrived yet (at most max_line bytes)
    bool dropped = false;  // disconnected for not reading; its on_close is on the way
};

// The clients on one worker. Only that worker's thread ever reads or writes it. Aligned to a cache line: the
// lists of all workers sit side by side, and each is written by a different thread.
struct alignas(64) WorkerMembers {
    std::vector<Member*> list;
};

// The room: one member list per worker, indexed by host->worker_index(). It is never touched as a whole, so it
// needs no lock. Every generation of the instance (a reload creates a new one) shares it through a shared_ptr.
struct Room {
    explicit Room(uint32_t workers) : on_worker(workers) {}
    std::vector<WorkerMembers> on_worker;
};

// Bytes for the room, formatted once and never changed: the sender's worker and every task share them. The
// reference count is atomic (that is all the cross-thread coordination the fan-out needs).
using Text = std::shared_ptr<const std::string>;

// What a fan-out task carries to another worker.
struct Delivery {
    Text text;
    ringd_conn_id from; // the sender, who does not get its own line back
};

class Chat final : public ringd::Handler {
public:
    explicit Chat(const ringd::InstanceArgs& args)
        : Handler(args), room_(std::make_shared<Room>(args.worker_count)),
          members_metric_(register_metric("members", RINGD_METRIC_GAUGE, "clients of this instance in the room")),
          lines_metric_(register_metric("lines", RINGD_METRIC_COUNTER, "lines received from clients")),
          dropped_metric_(register_metric("slow_clients_dropped", RINGD_METRIC_COUNTER, "clients that stopped reading"))
    {
    }

    static std::unique_ptr<Chat> create(const ringd::InstanceArgs& args)
    {
        if (args.config_yaml != "{}") throw ringd::ConfigError("", "chat takes no configuration");
        if (!RINGD_HOST_PROVIDES(args.raw->host, post_worker))
            throw ringd::ConfigError("", "chat needs ringd's plugin ABI 1.1 (post_worker)");
        return std::make_unique<Chat>(args);
    }

    bool on_open(ringd::Connection conn) override
    {
        const uint32_t worker = host()->worker_index();
        auto member = std::make_unique<Member>(Member{.conn = conn.raw(), .id = conn.id()});
        std::vector<Member*>& here = room_->on_worker[worker].list;
        member->slot = here.size();
        here.push_back(member.get());
        Member& m = *member;
        conn.set_user(member.release()); // on_close frees it, also when something below throws
        metric_add(members_metric_, 1);
        conn.send("* welcome #" + std::to_string(m.id) + " (worker " + std::to_string(worker) + " of " +
                  std::to_string(worker_count()) + ")\n");
        fan_out(m.id, "* #" + std::to_string(m.id) + " joined\n");
        return true;
    }

    // Bytes arrive in any segmentation: a line goes out only once its '\n' is here.
    void on_data(ringd::Connection conn, std::span<const std::byte> data) override
    {
        Member& m = *conn.user<Member>();
        const std::string prefix = "#" + std::to_string(m.id) + ": ";
        std::string lines; // every complete line of this read, formatted: one fan-out for all of them
        std::string_view in(reinterpret_cast<const char*>(data.data()), data.size());
        bool too_long = false;
        while (!in.empty()) {
            const std::size_t nl = in.find('\n');
            const std::string_view piece = in.substr(0, nl);
            if (m.partial.size() + piece.size() > max_line) {
                too_long = true;
                break;
            }
            m.partial.append(piece);
            if (nl == std::string_view::npos) break;
            in.remove_prefix(nl + 1);
            if (!m.partial.empty() && m.partial.back() == '\r') m.partial.pop_back();
            if (!m.partial.empty()) {
                lines += prefix + m.partial + '\n';
                metric_add(lines_metric_, 1);
            }
            m.partial.clear();
        }
        if (!lines.empty() && !fan_out(m.id, std::move(lines)))
            conn.send(std::string_view("* busy: your line did not reach everyone\n"));
        if (too_long) {
            conn.send("* line too long (over " + std::to_string(max_line) + " bytes)\n");
            conn.close(); // after that reply; what the client sends meanwhile is dropped
        }
    }

    void on_close(ringd::Connection conn, ringd_close_reason reason) override
    {
        std::unique_ptr<Member> m(conn.user<Member>());
        if (m == nullptr) return;
        conn.set_user(nullptr);
        std::vector<Member*>& here = room_->on_worker[host()->worker_index()].list;
        here[m->slot] = here.back(); // O(1) removal: the last member takes its place
        here[m->slot]->slot = m->slot;
        here.pop_back();
        metric_add(members_metric_, -1);
        // At a shutdown everyone is leaving at once: telling each of n clients about the other n-1 is wasted.
        if (reason != RINGD_CLOSE_SHUTDOWN) fan_out(m->id, "* #" + std::to_string(m->id) + " left\n");
    }

    // A reload made this instance the successor of `previous`: take its room, so the clients it still serves
    // and ours are one room. Once, on the main thread, before this instance serves anything: `previous` may be
    // serving meanwhile, but its room_ pointer never changes after its own handover, so reading it is safe.
    // The per-worker calls that follow have nothing left to do: the room is shared, not copied.
    void on_handover(ringd::Handler& previous, const ringd_handover_info& info) override
    {
        if (info.worker != RINGD_NO_WORKER) return;
        // Only a Chat of this build can share its Room (another build's classes differ, and dynamic_cast tells).
        const auto* before = dynamic_cast<const Chat*>(&previous);
        if (before == nullptr || std::string_view(info.previous_version) != chat_version ||
            before->room_->on_worker.size() != worker_count()) {
            log().warn(std::string("reload: the previous instance (chat ") + info.previous_version +
                       ") cannot share its room; its clients and the new ones are two rooms until they leave");
            return;
        }
        room_ = before->room_;
        log().info("reload: the new instance took over the room");
    }

private:
    // Sends `text` to every member of the room but `from`. Members on this worker get it at once; every other
    // worker gets one task with a reference to the same bytes. False if a worker's mailbox was full.
    bool fan_out(ringd_conn_id from, std::string&& text) const
    {
        const uint32_t here = host()->worker_index();
        const Text shared = std::make_shared<const std::string>(std::move(text));
        bool reached_all = true;
        for (uint32_t worker = 0; worker < worker_count(); ++worker) {
            if (worker == here) continue;
            auto task = std::make_unique<Delivery>(Delivery{shared, from});
            // The raw call rather than Handler::post_worker: that helper skips the task where this instance
            // does not serve (-ESRCH), and the room must hear the line there too (see deliver_task).
            const int rc = host()->post_worker(listener(), worker, &Chat::deliver_task, task.get());
            if (rc == 0) {
                (void)task.release(); // deliver_task owns it now
            } else if (rc == -ENOBUFS) {
                reached_all = false; // that worker's members miss this line: the sender is told
            }
        }
        deliver(here, from, *shared); // after posting: the other workers start while this one writes
        return reached_all;
    }

    // Runs on the worker fan_out posted it to. `status` is -ESRCH when the posting instance no longer (or not
    // yet) serves this worker: after a reload, the old instance stops on a worker once its last client there
    // leaves, while its clients elsewhere keep talking to the room. The task still runs here, on this worker's
    // thread, and the room's list for this worker belongs to this thread, not to an instance: so it delivers
    // either way.
    static void deliver_task(void* instance, void* arg, int /*status*/) noexcept
    {
        const std::unique_ptr<Delivery> delivery(static_cast<Delivery*>(arg)); // dropping the last Text frees it
        auto* self = static_cast<Chat*>(static_cast<ringd::Handler*>(instance));
        try {
            self->deliver(self->host()->worker_index(), delivery->from, *delivery->text);
        } catch (...) { // only an allocation can fail in there; nothing may escape into ringd
            self->log().error("delivering a line failed: out of memory");
        }
    }

    // Writes `text` to every member on this worker but `from`. send() copies it into each connection's output
    // queue: lines are short, and a copy is cheaper than a reference count per receiver.
    void deliver(uint32_t worker, ringd_conn_id from, std::string_view text) const
    {
        for (Member* m : room_->on_worker[worker].list) {
            if (m->id == from || m->dropped) continue;
            const ringd::Connection conn(host(), m->conn);
            if (conn.queued_output() > max_unread) {
                // It stopped reading. Queueing more would grow without bound; dropping lines for it would leave
                // it a conversation with holes. Disconnect it, as Redis does with a client over its output limit.
                // on_close comes later, never inside abort(), so this list does not change under the loop.
                m->dropped = true;
                conn.abort();
                metric_add(dropped_metric_, 1);
                log().info("#" + std::to_string(m->id) + " disconnected: over " + std::to_string(max_unread) +
                           " bytes unread");
                continue;
            }
            conn.send(text);
        }
    }

    std::shared_ptr<Room> room_; // replaced only by on_handover on the main thread, before this instance serves
    const int members_metric_, lines_metric_, dropped_metric_;
};

} // namespace

RINGD_EXPORT_HANDLER(Chat, "chat", chat_version, RINGD_KIND_STREAM)
