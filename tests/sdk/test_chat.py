"""sdk/examples/chat through the real ringd (`workers: 2`), with chat.so built in-tree from the example's own
source: 100 clients on loopback; every line reaches the 99 others exactly once and in each sender's order; the
clients really are on both workers (the welcome line names the worker); the fan-out latency, from a line's send
to its arrival at each of the 99 other clients' sockets; a SIGHUP reload keeps the room (clients from before and
after it chat both ways, also once the old instance has stopped on a worker); a client that stops reading is
disconnected; the plugin starts no thread.

Arrival is the kernel's receive timestamp (SO_TIMESTAMPNS) on each client socket: when ringd's bytes reached it,
not when this single-threaded Python client got round to reading that socket, up to 98 reads later (printed too,
for comparison). The client shares the machine's cores with ringd's workers, and other jobs may too: the test
raises its own priority (nice -10, when it may: root), which the ringd it starts inherits, so that unrelated
jobs do not preempt them (as bench/compare pins its processes to cores). Noise only ever adds latency, so one of
up to five runs must meet the bounds (p99 under 1 ms, no delivery over 20 ms), and every run is printed. If
other jobs kept ringd's workers waiting for a CPU in every run (their run-queue time, from
/proc/PID/task/TID/schedstat), the bounds are not checked and the test says so (skipped): the figures would
measure the machine."""

import os
import re
import selectors
import socket
import struct
import time
import unittest

from ringd_harness import Ringd, connect, free_port, listener, main, scaled, tcp, test_plugin

WORKERS = 2
CLIENTS = 100
BURST_LINES = 5  # lines each client sends at once in the ordering test
ROUNDS = 200  # lines timed one after another, per run
RUNS = 5  # timed runs at most: the first under the bound ends the test
# A run in which a ringd worker waited for a CPU longer than this share of it was disturbed by other jobs (this
# client's own reading costs the workers 10-15 %).
BUSY_SHARE = 0.2
P99_LIMIT_US = scaled(1000, 20000)  # the bound; a sanity bound under ASan, whose ringd is several times slower
# No delivery of a good run takes this long: a line held back for a delayed ACK (Nagle's algorithm, 40 ms) can
# be rare enough to leave the p99 alone, never the maximum.
MAX_LIMIT_US = scaled(20000, 200000)
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; Python's socket module does not name it
WELCOME = re.compile(r"\* welcome #(\d+) \(worker (\d+) of (\d+)\)")


class Client:
    """One chat client: the lines it received, each with the kernel's arrival time and the time it was read."""

    def __init__(self, port):
        self.sock = connect(port)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.buf = b""
        self.lines = []  # (text, arrived_ns, read_ns)
        self.open = True
        while not self.lines:  # blocking, with connect's timeout
            self.receive()
        m = WELCOME.fullmatch(self.lines.pop(0)[0])
        assert m, "no welcome line"
        self.id, self.worker = int(m.group(1)), int(m.group(2))
        self.sock.setblocking(False)

    def receive(self):
        """Reads what is there; at EOF or a reset, `open` turns False."""
        try:
            data, ancillary, _, _ = self.sock.recvmsg(1 << 16, socket.CMSG_SPACE(16))
        except (BlockingIOError, InterruptedError):
            return
        except ConnectionResetError:
            data = b""
        read_ns = time.time_ns()
        if not data:
            self.open = False
            return
        arrived_ns = read_ns
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", payload[:16])
                arrived_ns = sec * 10**9 + nsec
        *complete, self.buf = (self.buf + data).split(b"\n")
        self.lines.extend((line.decode(), arrived_ns, read_ns) for line in complete)

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def take(self):
        """The lines received so far, forgotten here."""
        lines, self.lines = self.lines, []
        return lines

    def texts(self):
        return [text for text, _, _ in self.take()]


class Clients:
    """The test's side of the room: clients read through one selector, as data comes."""

    def __init__(self, port):
        self.port = port
        self.all = []
        self.selector = selectors.DefaultSelector()

    def join(self, n):
        new = [Client(self.port) for _ in range(n)]
        for c in new:
            self.selector.register(c.sock, selectors.EVENT_READ, c)
        self.all += new
        return new

    def leave(self, client):
        self.selector.unregister(client.sock)
        client.sock.close()
        self.all.remove(client)

    def receive_until(self, done, timeout=20.0):
        """Reads from every client until done() holds; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for the room's lines")
            for key, _ in self.selector.select(min(left, 0.5)):
                key.data.receive()
                if not key.data.open:
                    self.selector.unregister(key.fileobj)

    def close(self):
        self.selector.close()
        for c in self.all:
            c.sock.close()


def setUpModule():
    try:
        os.nice(-10)
        print(f"\nthis test and its ringd run at nice {os.nice(0)}")
    except PermissionError:
        print("\nnot allowed to raise this test's priority: other jobs on the machine may show in the latency")


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def worker_run_queue_ns(pid):
    """How long each of ringd's worker threads has waited on a run queue for a CPU, by thread id
    (/proc/PID/task/TID/schedstat: time on the CPU, time waiting to get there, slices run)."""
    waited = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                if not f.read().startswith("ringd-w"):
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                waited[tid] = int(f.read().split()[1])
        except OSError:
            continue
    return waited


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


class ChatRoom(unittest.TestCase):
    def setUp(self):
        port = free_port()
        self.d = Ringd(listeners=[listener("chat", tcp(port), test_plugin("chat"))], workers=WORKERS)
        self.d.start()
        self.addCleanup(self.d.cleanup)
        self.addCleanup(self.d.assert_exits_cleanly)  # runs first: exit 0, no sanitizer report, no engine error
        self.room = Clients(port)
        self.addCleanup(self.room.close)

    def join(self, n):
        """n new clients, once every client has heard of the joins it must hear of."""
        before = list(self.room.all)
        new = self.room.join(n)
        # A client hears of every client that joined after it. It may also hear of one that joined just before
        # it on the other worker, whose join's task reached that worker after its own on_open there: such a
        # notice went out right behind its welcome, so once the later joins are in, so is it.
        must = {c: {f"* #{j.id} joined" for j in (new if c in before else new[new.index(c) + 1:])}
                for c in self.room.all}
        self.room.receive_until(lambda: all(must[c] <= {t for t, _, _ in c.lines} for c in self.room.all))
        for c in self.room.all:
            heard = c.texts()
            self.assertEqual(len(heard), len(set(heard)), f"a join announced twice: {heard}")
            self.assertLessEqual(set(heard), {f"* #{j.id} joined" for j in self.room.all if j is not c}, heard)
        return new

    def leave(self, leaving):
        """The clients of `leaving` hang up; returns once every other client heard each of them left."""
        for c in leaving:
            self.room.leave(c)
        stay = self.room.all
        self.room.receive_until(lambda: all(len(c.lines) >= len(leaving) for c in stay))
        for c in stay:
            self.assertEqual(sorted(c.texts()), sorted(f"* #{g.id} left" for g in leaving))

    def assert_reaches_everyone_else(self, sender, text):
        sender.send(text)
        others = [c for c in self.room.all if c is not sender]
        self.room.receive_until(lambda: all(c.lines for c in others))
        for c in self.room.all:
            self.assertEqual(c.texts(), [] if c is sender else [f"#{sender.id}: {text}"])

    def timed_run(self, clients):
        """ROUNDS lines one after another, from senders on both workers: each line's arrival at the 99 others.
        Returns the sorted latencies in microseconds: at the socket, and as this client read them."""
        arrival_us, read_us = [], []
        for r in range(ROUNDS):
            sender = clients[r % len(clients)]
            others = [c for c in clients if c is not sender]
            sent_ns = time.time_ns()
            sender.send(f"timed {r}")
            self.room.receive_until(lambda: all(c.lines for c in others))
            for c in others:
                [(text, arrived_ns, read_ns)] = c.take()
                self.assertEqual(text, f"#{sender.id}: timed {r}")
                arrival_us.append((arrived_ns - sent_ns) / 1000)
                read_us.append((read_ns - sent_ns) / 1000)
            self.assertEqual(sender.lines, [])
        return sorted(arrival_us), sorted(read_us)

    def test_a_hundred_clients(self):
        threads_before = thread_count(self.d.pid)
        clients = self.join(CLIENTS)
        per_worker = [sum(c.worker == w for c in clients) for w in range(WORKERS)]
        print(f"\n{CLIENTS} clients per worker: {per_worker}")
        for w in range(WORKERS):
            self.assertGreaterEqual(per_worker[w], 10, f"the clients did not spread over the workers: {per_worker}")

        # Every client sends its lines at once: each of the 99 others gets each line once, in the sender's order.
        for seq in range(BURST_LINES):
            for i, c in enumerate(clients):
                c.send(f"burst {i} {seq}")
        expected = (CLIENTS - 1) * BURST_LINES
        self.room.receive_until(lambda: all(len(c.lines) >= expected for c in clients), timeout=scaled(30, 120))
        index_of = {c.id: i for i, c in enumerate(clients)}
        for receiver in clients:
            heard = {}
            for text in receiver.texts():
                m = re.fullmatch(r"#(\d+): burst (\d+) (\d+)", text)
                self.assertTrue(m, text)
                self.assertEqual(index_of[int(m.group(1))], int(m.group(2)), f"{text}: the wrong sender id")
                heard.setdefault(int(m.group(2)), []).append(int(m.group(3)))
            self.assertNotIn(index_of[receiver.id], heard, "a client got its own line back")
            self.assertEqual(sorted(heard), [i for i in range(CLIENTS) if clients[i] is not receiver])
            for sender, seqs in heard.items():
                self.assertEqual(seqs, list(range(BURST_LINES)), f"from client {sender}: lost, doubled or reordered")

        fmt = "p50 {:.0f} us, p99 {:.0f} us, max {:.0f} us"
        runs = []  # (p99 and max at the socket in us, the share of the run a worker of ringd waited for a CPU)

        def good(run):
            return run[0] < P99_LIMIT_US and run[1] < MAX_LIMIT_US

        while len(runs) < RUNS and not any(good(run) for run in runs):
            waited_before, started = worker_run_queue_ns(self.d.pid), time.monotonic_ns()
            arrival, read = self.timed_run(clients)
            elapsed = time.monotonic_ns() - started
            waited = max(after - waited_before.get(tid, 0) for tid, after in worker_run_queue_ns(self.d.pid).items())
            runs.append((percentile(arrival, .99), arrival[-1], waited / elapsed))
            print(f"run {len(runs)}: {ROUNDS} lines to {CLIENTS - 1} clients each ({len(arrival)} deliveries); "
                  f"a ringd worker waited for a CPU {100 * waited / elapsed:.0f} % of the run")
            for what, us in (("at the receiving socket", arrival), ("read by this client    ", read)):
                print(f"  {what}: " + fmt.format(percentile(us, .5), percentile(us, .99), us[-1]))
        self.assertEqual(thread_count(self.d.pid), threads_before, "the chat started threads")
        if not any(good(run) for run in runs) and all(share > BUSY_SHARE for _, _, share in runs):
            # Other jobs kept ringd off the CPUs in every run: that measures the machine, not the fan-out. A slow
            # fan-out with the workers on a CPU (a Nagle delay, a lock) still fails below.
            self.skipTest(f"the machine was too busy to time the fan-out: {runs}")
        self.assertTrue(any(good(run) for run in runs),
                        f"fan-out p99 over {P99_LIMIT_US} us or max over {MAX_LIMIT_US} us in every run: {runs}")

    def test_the_room_survives_a_reload(self):
        old = self.join(20)
        threads_before = thread_count(self.d.pid)
        out = self.d.reload()
        self.assertIn("reload complete", out, out)
        self.assertIn("the new instance took over the room", out, out)
        new = self.join(20)
        for w in range(WORKERS):
            self.assertTrue([c for c in old if c.worker == w] and [c for c in new if c.worker == w],
                            f"no old or no new client on worker {w}")
        for sender in (old[0], new[0], old[-1], new[-1]):
            self.assert_reaches_everyone_else(sender, f"hello from #{sender.id}")

        # The old instance's last clients on worker 1 hang up: it stops serving there. Its clients on worker 0
        # still reach the new clients on worker 1, and hear from them.
        self.leave([c for c in old if c.worker == 1])
        self.assert_reaches_everyone_else(next(c for c in old if c.worker == 0), "old instance, worker 0, to all")
        self.assert_reaches_everyone_else(next(c for c in new if c.worker == 1), "new instance, worker 1, to all")
        self.assertEqual(thread_count(self.d.pid), threads_before, "the reload left threads behind")

    def test_a_client_that_stops_reading_is_disconnected(self):
        sender, reader, slow = self.join(3)
        self.room.selector.unregister(slow.sock)  # it reads nothing from now on
        text = "x" * 4000
        sent = 0
        deadline = time.monotonic() + scaled(20, 60)
        # Once ringd holds 256 KiB for the slow client (beyond what the sockets buffer), it resets it and the
        # others hear it left. The reader keeps up with every line meanwhile.
        while f"* #{slow.id} left" not in (t for t, _, _ in reader.lines):
            self.assertLess(time.monotonic(), deadline, f"the slow client was never disconnected ({sent} lines)")
            for _ in range(50):
                sender.send(text)
            sent += 50
            self.room.receive_until(lambda: sum(t.startswith("#") for t, _, _ in reader.lines) >= sent)
        print(f"\nthe slow client was disconnected after {sent} lines of 4 KB")
        self.assertIn(f"#{slow.id} disconnected: over 262144 bytes unread", self.d.log())
        self.assertEqual([t for t in reader.texts() if t.startswith("#")], [f"#{sender.id}: {text}"] * sent)
        self.room.receive_until(lambda: sender.lines)
        self.assertEqual(sender.texts(), [f"* #{slow.id} left"])
        self.room.all.remove(slow)
        slow.sock.close()
        self.assert_reaches_everyone_else(reader, "still talking")


if __name__ == "__main__":
    main()
