// The public face of the kit (ringd/testkit.hpp): each method that acts is one Step, which settles everything
// and reports failures when it ends; the queries read state directly.
#include "kit_state.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace ringd::testkit {

using detail::KitState;

SpawnResult SpawnResult::exited(int code, std::string out, std::string err)
{
    SpawnResult r;
    r.exit_code = code;
    r.out = std::move(out);
    r.err = std::move(err);
    return r;
}

SpawnResult SpawnResult::killed(int signal, bool timed_out)
{
    SpawnResult r;
    r.exit_code = -1;
    r.term_signal = signal;
    r.timed_out = timed_out;
    return r;
}

SpawnResult SpawnResult::not_started(int error, ringd_spawn_step step)
{
    SpawnResult r;
    r.exit_code = -1;
    r.spawn_error = error;
    r.spawn_step = step;
    return r;
}

// ---- Kit ------------------------------------------------------------------------------------------------------

Kit::Kit(Plugin plugin, std::string config_yaml, Options options)
    : state_(std::make_unique<KitState>(std::move(options)))
{
    // Should create() or a later callback throw, state_'s destructor still stops the kit: destroy() is owed.
    KitState::Step step(*state_);
    state_->start(std::move(plugin), config_yaml);
    step.finish();
}

Kit::~Kit() = default;
Kit::Kit(Kit&&) noexcept = default;

Connection Kit::open(const OpenOptions& options)
{
    KitState::Step step(*state_);
    Connection c = state_->open(options);
    step.finish();
    return c;
}

std::vector<SentDatagram> Kit::datagram(std::string_view payload, std::string_view from, std::optional<uint32_t> worker)
{
    const detail::Address address = detail::parse_address(from);
    return datagram(payload, address.get(), address.len, worker);
}

std::vector<SentDatagram> Kit::datagram(std::string_view payload, const sockaddr* from, socklen_t from_len,
                                        std::optional<uint32_t> worker)
{
    detail::Address address;
    if (from != nullptr) std::memcpy(&address.storage, from, std::min<std::size_t>(from_len, sizeof address.storage));
    address.len = std::min<socklen_t>(from_len, sizeof address.storage); // the plugin reads no further
    KitState::Step step(*state_);
    std::vector<SentDatagram> sent = state_->datagram(payload, address, worker);
    step.finish();
    return sent;
}

void Kit::set_datagram_queue_full(bool full)
{
    state_->set_datagram_queue_full(full);
}

void Kit::advance(uint64_t ms)
{
    KitState::Step step(*state_);
    state_->advance(ms);
    step.finish();
}

bool Kit::advance_to_next_timer()
{
    KitState::Step step(*state_);
    const bool fired = state_->advance_to_next_timer();
    step.finish();
    return fired;
}

uint64_t Kit::now() const
{
    return state_->now();
}

void Kit::run()
{
    KitState::Step step(*state_);
    state_->run_messages();
    step.finish();
}

std::vector<Connection> Kit::pending_connects() const
{
    return state_->connections(true);
}

std::vector<Connection> Kit::connections() const
{
    return state_->connections(false);
}

void Kit::on_spawn(SpawnResponder responder)
{
    state_->set_spawn_responder(std::move(responder));
}

int64_t Kit::metric(std::string_view name) const
{
    std::string known;
    for (const auto& m : state_->current().metrics) {
        if (m->name == name) return m->value.load(std::memory_order_relaxed);
        known += (known.empty() ? "" : ", ") + m->name;
    }
    throw std::out_of_range("no metric \"" + std::string(name) + "\" (registered: " + (known.empty() ? "none" : known) +
                            ")");
}

void Kit::reload(std::string config_yaml)
{
    reload(Plugin(state_->current().library), std::move(config_yaml));
}

void Kit::reload(Plugin plugin, std::string config_yaml)
{
    KitState::Step step(*state_);
    state_->reload(std::move(plugin), std::move(config_yaml));
    step.finish();
}

void Kit::close_all()
{
    KitState::Step step(*state_);
    state_->close_all();
    step.finish();
}

void Kit::stop()
{
    if (state_->stopped()) return;
    KitState::Step step(*state_, true);
    state_->stop();
    step.finish();
}

std::vector<LogLine> Kit::logs() const
{
    return state_->logs();
}

bool Kit::logged(std::string_view needle) const
{
    for (const LogLine& line : state_->logs()) {
        if (line.message.find(needle) != std::string::npos) return true;
    }
    return false;
}

void Kit::clear_logs()
{
    state_->clear_logs();
}

std::vector<std::string> Kit::misuses() const
{
    return state_->misuses();
}

void* Kit::instance() const
{
    return state_->current().instance;
}

const ringd_host* Kit::host() const
{
    return state_->host();
}

// ---- Connection -------------------------------------------------------------------------------------------------

void Connection::feed(std::string_view bytes)
{
    KitState::Step step(*kit_);
    kit_->feed(*conn_, bytes);
    step.finish();
}

void Connection::feed_split(std::string_view bytes, std::initializer_list<std::size_t> sizes)
{
    feed_split(bytes, std::span<const std::size_t>(sizes.begin(), sizes.size()));
}

void Connection::feed_split(std::string_view bytes, std::span<const std::size_t> sizes)
{
    std::size_t total = 0;
    for (const std::size_t size : sizes) {
        if (size > bytes.size() - total) throw std::invalid_argument("feed_split(): the sizes add up to more bytes");
        total += size;
    }
    KitState::Step step(*kit_);
    std::size_t at = 0;
    for (const std::size_t size : sizes) {
        if (conn_->torn_down()) break; // the plugin closed it: the rest goes nowhere, as after a reset
        kit_->feed(*conn_, bytes.substr(at, size));
        kit_->pump(); // each read is its own turn of the worker's loop
        at += size;
    }
    if (at < bytes.size() && !conn_->torn_down()) kit_->feed(*conn_, bytes.substr(at));
    step.finish();
}

void Connection::feed_bytewise(std::string_view bytes)
{
    KitState::Step step(*kit_);
    for (std::size_t i = 0; i < bytes.size() && (i == 0 || !conn_->torn_down()); ++i) {
        kit_->feed(*conn_, bytes.substr(i, 1));
        kit_->pump();
    }
    step.finish();
}

void Connection::peer_shutdown()
{
    KitState::Step step(*kit_);
    kit_->peer_shutdown(*conn_);
    step.finish();
}

void Connection::reset()
{
    KitState::Step step(*kit_);
    kit_->peer_reset(*conn_);
    step.finish();
}

const std::string& Connection::output() const
{
    return conn_->received;
}

std::string Connection::take_output()
{
    return std::exchange(conn_->received, {});
}

void Connection::hold_output(bool hold)
{
    KitState::Step step(*kit_);
    conn_->hold_output = hold;
    if (!connecting()) (void)kit_->drain(*conn_, 0); // settles it: held output flows now if it may
    step.finish();
}

std::size_t Connection::drain(std::size_t n)
{
    KitState::Step step(*kit_);
    const std::size_t moved = kit_->drain(*conn_, n);
    step.finish();
    return moved;
}

std::size_t Connection::queued_output() const
{
    return conn_->out.bytes();
}

ringd_conn_id Connection::id() const
{
    return conn_->id;
}

uint32_t Connection::worker() const
{
    return conn_->worker;
}

bool Connection::connecting() const
{
    return conn_->phase == detail::Phase::connecting;
}

bool Connection::closing() const
{
    return conn_->closing();
}

bool Connection::closed() const
{
    return conn_->torn_down();
}

std::optional<ringd_close_reason> Connection::close_reason() const
{
    if (!conn_->torn_down()) return std::nullopt;
    return conn_->close_reason;
}

bool Connection::fin_sent() const
{
    return conn_->write == detail::WriteSide::fin_sent;
}

bool Connection::was_reset() const
{
    return conn_->torn_down() && conn_->reset;
}

bool Connection::paused() const
{
    return conn_->paused_by_plugin;
}

bool Connection::backpressured() const
{
    return conn_->paused_by_backpressure;
}

std::string Connection::address() const
{
    return detail::format_address(conn_->peer.get(), conn_->peer.len);
}

uint32_t Connection::connect_timeout_ms() const
{
    return conn_->connect_timeout_ms;
}

void Connection::accept()
{
    KitState::Step step(*kit_);
    kit_->connect_outcome(*conn_, 0);
    step.finish();
}

void Connection::refuse(int error)
{
    if (error == 0) throw std::invalid_argument("refuse(0): an error is needed (0 would be accept())");
    KitState::Step step(*kit_);
    kit_->connect_outcome(*conn_, error);
    step.finish();
}

void Connection::time_out()
{
    refuse(-ETIMEDOUT);
}

std::vector<SpawnCall> Connection::spawns() const
{
    std::vector<SpawnCall> calls;
    for (const detail::PendingSpawn& s : conn_->spawns)
        calls.push_back(s.call);
    return calls;
}

void Connection::complete_spawn(const SpawnResult& result)
{
    KitState::Step step(*kit_);
    kit_->complete_spawn(*conn_, result);
    step.finish();
}

std::vector<TimerInfo> Connection::timers() const
{
    return kit_->timers_of(*conn_);
}

} // namespace ringd::testkit
