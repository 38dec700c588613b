"""ABI 1.1 across workers, against the real ringd with the crossworker test plugin
(tests/plugins/test-plugins/crossworker.cpp): send_to between connections that are really on different workers,
from a worker and from the plugin's own thread, close_id, -ENOENT after close, tasks, worker timers on every
worker, metrics, handover across SIGHUP reloads (same address and a changed one), and no thread added by any of
it. Also prints the cross-worker latency and rate it measures (docs/benchmarks.md)."""

import os
import socket
import time
import unittest

from ringd_harness import Ringd, config_yaml, connect, free_port, listener, main, scaled, tcp, test_plugin, wait_until

WORKERS = 2
ENOENT, EPIPE = 2, 32


class Client:
    """One connection to the crossworker plugin: line commands and the lines that arrive."""

    def __init__(self, port):
        self.sock = connect(port)
        self.buf = b""
        self.id, self.worker = (int(x) for x in self.ask("who").split()[1::2])

    def line(self, timeout=10.0):
        self.sock.settimeout(timeout)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed; buffered {self.buf!r}")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def ask(self, command, timeout=10.0):
        self.sock.sendall(command.encode() + b"\n")
        return self.line(timeout)

    def close(self):
        self.sock.close()


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


class CrossWorker(unittest.TestCase):
    def start(self, port=None):
        self.port = port or free_port()
        self.d = Ringd(listeners=[listener("xw", tcp(self.port), test_plugin("crossworker"))], workers=WORKERS)
        self.d.start()
        self.addCleanup(self.d.cleanup)
        self.addCleanup(self.d.assert_exits_cleanly)  # runs first: exit 0, no sanitizer report, no engine error

    def client(self, port=None):
        c = Client(port or self.port)
        self.addCleanup(c.close)
        return c

    def clients_on_every_worker(self, limit=64):
        """Connects until some client is on each worker (the kernel's SO_REUSEPORT hash picks); returns one per
        worker, in worker order, and closes the rest."""
        by_worker = {}
        for _ in range(limit):
            c = self.client()
            if c.worker not in by_worker:
                by_worker[c.worker] = c
            else:
                c.close()
            if len(by_worker) == WORKERS:
                break
        self.assertEqual(len(by_worker), WORKERS, f"no client on some worker after {limit} connections")
        return [by_worker[w] for w in range(WORKERS)]

    def test_send_to_reaches_a_connection_on_another_worker(self):
        self.start()
        a, b = self.clients_on_every_worker()
        self.assertNotEqual(a.worker, b.worker)
        self.assertEqual(a.ask(f"send {b.id} hello from {a.worker}"), "ok 0")
        self.assertEqual(b.line(), f"hello from {a.worker}")
        self.assertEqual(b.ask(f"send {a.id} and back"), "ok 0")
        self.assertEqual(a.line(), "and back")

    def test_many_clients_pass_a_message_around_a_ring(self):
        self.start()
        clients = [self.client() for _ in range(24)]
        self.assertEqual({c.worker for c in clients}, set(range(WORKERS)), "clients did not land on every worker")
        for i, c in enumerate(clients):
            c.sock.sendall(f"send {clients[(i + 1) % len(clients)].id} from {i}\n".encode())
        for i, c in enumerate(clients):  # its own "ok" and its neighbour's message, in either order
            self.assertEqual(sorted([c.line(), c.line()]), sorted(["ok 0", f"from {(i - 1) % len(clients)}"]))

    def test_send_to_from_the_plugins_own_thread(self):
        self.start()
        a, b = self.clients_on_every_worker()
        self.assertEqual(a.ask(f"tsend {b.id} from a plugin thread"), "ok 0")
        self.assertEqual(b.line(), "from a plugin thread")

    def test_close_id_then_enoent(self):
        self.start()
        a, b = self.clients_on_every_worker()
        self.assertEqual(a.ask(f"close {b.id}"), "ok 0")
        b.sock.settimeout(10)
        self.assertEqual(b.sock.recv(100), b"")  # closed by ringd
        answer = a.ask(f"send {b.id} too late")
        self.assertIn(answer, (f"ok {-EPIPE}", f"ok {-ENOENT}"))  # closing (waiting for b's FIN), or gone
        b.close()
        wait_until(lambda: a.ask(f"send {b.id} too late") == f"ok {-ENOENT}", what="-ENOENT for a closed id")

    def test_tasks_on_a_connection_and_on_a_worker(self):
        self.start()
        a, b = self.clients_on_every_worker()
        self.assertEqual(a.ask(f"post {b.id} posted"), "ok 0")
        self.assertEqual(b.line(), "posted")
        self.assertEqual(a.ask(f"worker {b.worker}"), "ok 0")
        self.assertEqual(a.line(), f"task on {b.worker}")
        self.assertEqual(a.ask("broadcast everyone"), f"ok {WORKERS}")
        self.assertEqual(a.line(), "everyone")
        self.assertEqual(b.line(), "everyone")
        self.assertEqual(a.ask("count"), "count 1")  # one connection of this instance on a's worker

    def test_worker_timers_tick_on_every_worker_and_metrics_count(self):
        self.start()
        a, b = self.clients_on_every_worker()
        first = [int(x) for x in a.ask("ticks").split()[1:]]
        time.sleep(0.3)
        second = [int(x) for x in a.ask("ticks").split()[1:]]
        self.assertEqual(len(second), WORKERS)
        for w in range(WORKERS):
            self.assertGreater(second[w], first[w], f"worker {w}'s timer does not tick: {first} -> {second}")
        a.ask(f"send {b.id} one")
        b.line()
        fields = a.ask("metrics").split()
        metrics = dict(zip(fields[1::2], (int(x) for x in fields[2::2])))
        self.assertEqual(metrics["connections"], 2)
        self.assertGreaterEqual(metrics["ticks"], sum(second))
        self.assertEqual(metrics["sent"], 1)

    def test_handover_keeps_the_counter_across_reloads(self):
        self.start()
        a = self.client()
        for n in (1, 2, 3):
            self.assertEqual(a.ask("incr"), f"counter {n}")
        self.assertEqual(a.ask("handover"), "handover main 0 workers 0")
        # Same address: the new instance serves on the same sockets; the old one keeps `a`.
        self.d.reload()
        b = self.client()
        self.assertEqual(b.ask("incr"), "counter 4")
        self.assertEqual(b.ask("handover"), f"handover main 1 workers {WORKERS}")
        self.assertEqual(a.ask("incr"), "counter 5")  # the old instance, on the shared counter
        # A changed address: added and retired, handed over all the same.
        new_port = free_port()
        self.d.reload(config_yaml([listener("xw", tcp(new_port), test_plugin("crossworker"))], workers=WORKERS))
        c = self.client(new_port)
        self.assertEqual(c.ask("incr"), "counter 6")
        self.assertEqual(c.ask("handover"), f"handover main 1 workers {WORKERS}")

    def test_none_of_it_starts_a_thread(self):
        self.start()
        a, b = self.clients_on_every_worker()
        before = thread_count(self.d.pid)
        for _ in range(20):
            self.assertEqual(a.ask(f"send {b.id} x"), "ok 0")
            self.assertEqual(b.line(), "x")
            self.assertEqual(a.ask(f"tsend {b.id} y"), "ok 0")
            self.assertEqual(b.line(), "y")
            self.assertEqual(a.ask(f"post {b.id} z"), "ok 0")
            self.assertEqual(b.line(), "z")
            self.assertEqual(a.ask(f"worker {b.worker}"), "ok 0")
            self.assertEqual(a.line(), f"task on {b.worker}")
        self.assertEqual(a.ask(f"pingpong {b.id} 100").split()[:3], ["lat", "n", "100"])
        self.assertEqual(thread_count(self.d.pid), before)

    def test_latency_and_rate_across_workers(self):
        """Measures; asserts only that everything arrived. The figures go to docs/benchmarks.md."""
        self.start()
        a, b = self.clients_on_every_worker()
        hops = scaled(20000, 2000)
        f = a.ask(f"pingpong {b.id} {hops}", timeout=60).split()
        lat = dict(zip(f[1::2], (int(x) for x in f[2::2])))
        self.assertEqual(lat["n"], hops)
        count, size = scaled(500000, 20000), 16
        started = time.monotonic()
        a.sock.sendall(f"flood {b.id} {count} {size}\n".encode())
        got = 0
        b.sock.settimeout(60)
        while got < count * size:
            chunk = b.sock.recv(1 << 20)
            self.assertTrue(chunk, "b closed during the flood")
            got += len(chunk)
        elapsed = time.monotonic() - started
        self.assertEqual(got, count * size)
        flood = a.line(timeout=60).split()
        sender_ns = int(flood[2])
        # As a client sees it: a's command in, through a's worker, the mailbox and b's worker, out to b.
        rounds = scaled(2000, 200)
        samples = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            a.sock.sendall(f"send {b.id} x\n".encode())
            b.line()
            samples.append(time.perf_counter() - t0)
            a.line()
        samples.sort()
        e2e = (samples[len(samples) // 2] * 1e6, samples[int(0.99 * (len(samples) - 1))] * 1e6)
        self.assertNotIn("through its ring failed", self.d.log())  # every worker-to-worker wake used MSG_RING
        print(f"\ncross-worker post latency over {hops} hops: p50 {lat['p50'] / 1000:.1f} us, "
              f"p99 {lat['p99'] / 1000:.1f} us")
        print(f"send_to client to client across workers over loopback ({rounds} rounds): p50 {e2e[0]:.0f} us, "
              f"p99 {e2e[1]:.0f} us")
        print(f"send_to flood of {count} x {size} B: sender done in {sender_ns / 1e6:.0f} ms "
              f"({count / (sender_ns / 1e9):,.0f} msg/s), all received by the client in {elapsed * 1000:.0f} ms "
              f"({count / elapsed:,.0f} msg/s)")


if __name__ == "__main__":
    main()
