"""The engine's counters as the admin listener exposes them, against the real binary: each kind of traffic moves
exactly the per-listener series it should (every other listener series stays where it was), the counters of a
listener survive a reload, and the workers' io_uring counters move with traffic.

"Exactly" is checked by diffing two scrapes: every ringd_* series with a `listener` label (histogram buckets and
sums aside, and the admin listener's own, which every scrape moves) must have changed by the expected amount, and
no other one at all."""

import socket
import time
import unittest

from admin_client import admin_config, key, scrape, value, wait_for_diff
from ringd_harness import (Ringd, config_yaml, connect, free_port, free_ports, listener, main, recv_exactly,
                           recv_until_eof, tcp, test_plugin, udp, wait_until)


def accepted(name, n=1):
    return {key("ringd_connections_accepted_total", listener=name): n}


def closed(name, reason, n=1):
    return {key("ringd_connections_closed_total", listener=name, reason=reason): n,
            key("ringd_connection_duration_seconds_count", listener=name): n}


def bytes_moved(name, received, sent):
    out = {}
    if received:
        out[key("ringd_bytes_received_total", listener=name)] = received
    if sent:
        out[key("ringd_bytes_sent_total", listener=name)] = sent
    return out


def merged(*parts):
    out = {}
    for p in parts:
        out.update(p)
    return out


class Traffic(unittest.TestCase):
    """One ringd with a listener of every kind; each test diffs the scrapes around its own traffic."""

    @classmethod
    def setUpClass(cls):
        (cls.admin, cls.echo, cls.tod, cls.acl, cls.limited, cls.idle, cls.thrower, cls.relay,
         cls.udp_port) = free_ports(9)
        listeners = [
            listener("echo", tcp(cls.echo), "echo-upper"),
            listener("tod", tcp(cls.tod), "time-of-day"),
            listener("guarded", tcp(cls.acl), "echo-upper", deny=["127.0.0.2/32"]),
            listener("limited", tcp(cls.limited), "echo-upper", limits={"max_connections": 1}),
            listener("sleepy", tcp(cls.idle), "echo-upper", limits={"idle_timeout": "300ms"}),
            listener("thrower", tcp(cls.thrower), test_plugin("raw-throw")),
            listener("relay", tcp(cls.relay), test_plugin("relay")),
            listener("udp", udp(cls.udp_port), "udp-echo", deny=["127.0.0.2/32"]),
        ]
        cls.ringd = Ringd(listeners=listeners, config=admin_config(cls.admin)).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.assert_exits_cleanly()
        cls.ringd.cleanup()

    def before(self):
        # The previous test's connections have settled: nothing is open anywhere.
        return wait_until(lambda: self._quiet(), what="no open connections")

    def _quiet(self):
        m = scrape(self.admin)
        busy = [k for k, v in m.items() if k[0] in ("ringd_connections_active", "ringd_outbound_connections_active")
                and dict(k[1])["listener"] != "admin" and v != 0]
        return None if busy else m

    def test_echo(self):
        before = self.before()
        payload = b"hello, metrics" * 10
        for _ in range(3):
            with connect(self.echo) as s:
                s.sendall(payload)
                self.assertEqual(recv_exactly(s, len(payload)), payload.upper())
        wait_for_diff(self.admin, before, merged(accepted("echo", 3), closed("echo", "peer", 3),
                                                 bytes_moved("echo", 3 * len(payload), 3 * len(payload))))

    def test_time_of_day_closes_locally(self):
        before = self.before()
        with connect(self.tod) as s:
            line = recv_until_eof(s)
        self.assertTrue(line)
        wait_for_diff(self.admin, before, merged(accepted("tod"), closed("tod", "local"),
                                                 bytes_moved("tod", 0, len(line))))

    def test_udp_echo_and_a_dropped_datagram(self):
        before = self.before()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(b"ping", ("127.0.0.1", self.udp_port))
            reply, _ = s.recvfrom(65536)
        self.assertEqual(reply, b"PING")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as denied:
            denied.bind(("127.0.0.2", 0))
            denied.sendto(b"nope", ("127.0.0.1", self.udp_port))
        wait_for_diff(self.admin, before, {
            key("ringd_datagrams_received_total", listener="udp"): 2,
            key("ringd_datagrams_sent_total", listener="udp"): 1,
            key("ringd_datagrams_dropped_total", listener="udp", reason="acl"): 1,
            key("ringd_bytes_received_total", listener="udp"): 8,
            key("ringd_bytes_sent_total", listener="udp"): 4,
        })

    def test_refused_by_acl(self):
        before = self.before()
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind(("127.0.0.2", 0))
        s.settimeout(5)
        s.connect(("127.0.0.1", self.acl))
        with s:
            self.assertEqual(s.recv(16), b"")  # closed at once
        wait_for_diff(self.admin, before,
                      {key("ringd_connections_refused_total", listener="guarded", reason="acl"): 1})

    def test_refused_by_max_connections(self):
        before = self.before()
        with connect(self.limited) as first:
            first.sendall(b"a")
            self.assertEqual(recv_exactly(first, 1), b"A")  # accepted, and counted open
            with connect(self.limited) as second:
                second.settimeout(5)
                try:
                    self.assertEqual(second.recv(16), b"")
                except ConnectionResetError:
                    pass
        wait_for_diff(self.admin, before, merged(
            accepted("limited"), closed("limited", "peer"), bytes_moved("limited", 1, 1),
            {key("ringd_connections_refused_total", listener="limited", reason="max_connections"): 1}))

    def test_idle_close(self):
        before = self.before()
        with connect(self.idle) as s:
            started = time.monotonic()
            self.assertEqual(recv_until_eof(s), b"")
            self.assertGreater(time.monotonic() - started, 0.25)
        wait_for_diff(self.admin, before, merged(accepted("sleepy"), closed("sleepy", "idle")))

    def test_plugin_error(self):
        # raw-throw lets the exception escape through the C ABI: ringd's boundary catches, counts and aborts. (An
        # SDK plugin's trampolines catch their own exceptions and close the connection: a local close.)
        before = self.before()
        with connect(self.thrower) as s:
            s.sendall(b"fine")
            self.assertEqual(recv_exactly(s, 4), b"fine")
            s.sendall(b"boom")
            try:
                recv_until_eof(s)
            except ConnectionResetError:
                pass
        wait_for_diff(self.admin, before, merged(
            accepted("thrower"), closed("thrower", "error"), bytes_moved("thrower", 8, 4),
            {key("ringd_plugin_errors_total", listener="thrower"): 1}))

    def test_outbound_through_relay(self):
        before = self.before()
        # The relay connects to the echo listener of this same ringd: one outbound connection on `relay`, one
        # accepted connection on `echo`.
        line = f"CONNECT 127.0.0.1:{self.echo}\n".encode()
        with connect(self.relay) as s:
            s.sendall(line)
            self.assertEqual(recv_exactly(s, 3), b"OK\n")
            during = scrape(self.admin)
            self.assertEqual(value(during, "ringd_outbound_connections_active", listener="relay"), 1)
            s.sendall(b"abc")
            self.assertEqual(recv_exactly(s, 3), b"ABC")
            # Our FIN travels upstream; the upstream's FIN comes back as "CLOSED 0" (RINGD_CLOSE_PEER), then EOF.
            s.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(s), b"CLOSED 0\n")
        wait_for_diff(self.admin, before, merged(
            accepted("relay"), closed("relay", "peer"), accepted("echo"), closed("echo", "peer"),
            bytes_moved("echo", 3, 3),
            bytes_moved("relay", len(line) + 3 + 3, 3 + 3 + len(b"CLOSED 0\n") + 3),
            {key("ringd_outbound_connections_opened_total", listener="relay"): 1}))

    def test_outbound_refused(self):
        before = self.before()
        nobody = free_port()
        line = f"CONNECT 127.0.0.1:{nobody}\n".encode()
        with connect(self.relay) as s:
            s.sendall(line)
            reply = recv_until_eof(s)
        self.assertEqual(reply, b"FAIL -111\nCLOSED 3\n")
        wait_for_diff(self.admin, before, merged(
            accepted("relay"), closed("relay", "local"), bytes_moved("relay", len(line), len(reply)),
            {key("ringd_outbound_connections_failed_total", listener="relay", reason="refused"): 1}))

    def test_workers_count_their_ring(self):
        first = scrape(self.admin)
        with connect(self.echo) as s:
            for _ in range(20):
                s.sendall(b"x")
                recv_exactly(s, 1)
        second = scrape(self.admin)
        for w in ("0", "1"):
            self.assertGreater(value(second, "ringd_worker_loop_turns_total", worker=w), 0)
            self.assertGreater(value(second, "ringd_worker_busy_seconds_total", worker=w), 0)
            self.assertGreater(value(second, "ringd_worker_wait_seconds_total", worker=w), 0)
        grew = lambda name: sum(value(second, name, worker=w) - value(first, name, worker=w) for w in ("0", "1"))
        self.assertGreaterEqual(grew("ringd_worker_completions_total"), 40)  # 20 receives and 20 sends at least
        self.assertGreaterEqual(grew("ringd_worker_submissions_total"), 20)
        self.assertEqual(sum(value(second, "ringd_worker_cq_overflows_total", worker=w) for w in ("0", "1")), 0)


class SurvivesReload(unittest.TestCase):
    def test_counters_of_a_listener_survive_a_reload(self):
        admin, echo = free_ports(2)
        listeners = [listener("echo", tcp(echo), "echo-upper")]
        with Ringd(listeners=listeners, config=admin_config(admin)) as d:
            for _ in range(2):
                with connect(echo) as s:
                    s.sendall(b"abcd")
                    recv_exactly(s, 4)
            wait_until(lambda: value(scrape(admin), "ringd_connections_closed_total", listener="echo",
                                     reason="peer") == 2, what="two closes counted")
            # A changed listener (new plugin config) gets a new generation and instance: same counters.
            changed = [listener("echo", tcp(echo), "echo-upper", limits={"max_connections": 7})]
            log = d.reload(config_yaml(changed, admin_config(admin)))
            self.assertIn("reload complete", log)
            with connect(echo) as s:
                s.sendall(b"ef")
                recv_exactly(s, 2)
            m = wait_until(lambda: (lambda m: m if value(m, "ringd_connections_closed_total", listener="echo",
                                                         reason="peer") == 3 else None)(scrape(admin)),
                           what="the third close counted")
            self.assertEqual(value(m, "ringd_connections_accepted_total", listener="echo"), 3)
            self.assertEqual(value(m, "ringd_bytes_received_total", listener="echo"), 10)
            self.assertEqual(value(m, "ringd_reloads_total", result="ok"), 1)
            # Moved to another address: still the same name, still the same counters.
            other = free_port()
            d.reload(config_yaml([listener("echo", tcp(other), "echo-upper")], admin_config(admin)))
            with connect(other) as s:
                s.sendall(b"g")
                recv_exactly(s, 1)
            m = wait_until(lambda: (lambda m: m if value(m, "ringd_connections_accepted_total",
                                                         listener="echo") == 4 else None)(scrape(admin)),
                           what="the fourth accept counted")
            self.assertEqual(value(m, "ringd_reloads_total", result="ok"), 2)
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
