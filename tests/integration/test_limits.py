"""Per-listener admission and limits: max_connections, idle_timeout, allow/deny lists."""

import socket
import time
import unittest

from ringd_harness import (Ringd, closed_by_peer, connect, connection_refused_at_once, echo_roundtrip, free_port,
                           listener, main, recv_until_eof, tcp, wait_until)


def graceful_close(sock):
    """Half-close and read to EOF: once EOF arrives, ringd has torn the connection down (it only sends its FIN
    after tearing down a connection whose peer finished), so the connection no longer counts against limits."""
    sock.shutdown(socket.SHUT_WR)
    rest = recv_until_eof(sock, timeout=10)
    sock.close()
    return rest


class MaxConnections(unittest.TestCase):
    def test_the_sixth_connection_is_closed_and_a_freed_slot_is_reusable(self):
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper", limits={"max_connections": 5})]) as d:
            five = []
            for i in range(5):
                s = connect(port)
                # A round trip proves ringd has accepted (and counted) it before the next one connects.
                self.assertEqual(echo_roundtrip(s, b"conn %d" % i), b"CONN %d" % i)
                five.append(s)
            for attempt in range(3):
                self.assertTrue(connection_refused_at_once(port),
                                f"connection #6 (attempt {attempt}) was not closed with 5 already open")
            for i, s in enumerate(five):
                self.assertEqual(echo_roundtrip(s, b"still %d" % i), b"STILL %d" % i,
                                 f"connection {i} of the first five stopped echoing")

            self.assertEqual(graceful_close(five.pop(0)), b"")
            s = connect(port)
            self.assertEqual(echo_roundtrip(s, b"replacement"), b"REPLACEMENT",
                             "a new connection was refused after one of the five closed")
            five.append(s)
            self.assertTrue(connection_refused_at_once(port), "limit not enforced again once back at 5")
            for s in five:
                graceful_close(s)
            # All slots free again: five new ones fit.
            again = [connect(port) for _ in range(5)]
            for i, s in enumerate(again):
                self.assertEqual(echo_roundtrip(s, b"again %d" % i), b"AGAIN %d" % i)
                s.close()
            d.assert_exits_cleanly()

    def test_limits_are_per_listener(self):
        a, b = free_port(), free_port()
        while b == a:
            b = free_port()
        with Ringd(listeners=[listener("a", tcp(a), "echo-upper", limits={"max_connections": 1}),
                              listener("b", tcp(b), "echo-upper", limits={"max_connections": 2})]) as d:
            sa = connect(a)
            self.assertEqual(echo_roundtrip(sa, b"a"), b"A")
            self.assertTrue(connection_refused_at_once(a))
            sb = [connect(b), connect(b)]
            for s in sb:
                self.assertEqual(echo_roundtrip(s, b"b"), b"B")
            self.assertTrue(connection_refused_at_once(b))
            for s in [sa] + sb:
                s.close()
            d.assert_exits_cleanly()


class IdleTimeout(unittest.TestCase):
    def test_idle_connection_closed_after_a_second_active_one_kept(self):
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper", limits={"idle_timeout": "1s"})]) as d:
            idle = connect(port)
            talked_then_idle = connect(port)
            active = connect(port)
            self.assertEqual(echo_roundtrip(talked_then_idle, b"hi"), b"HI")
            self.assertEqual(echo_roundtrip(active, b"hi"), b"HI")
            start = time.monotonic()
            # The active client talks every 300 ms for 3 s: three idle timeouts' worth.
            idle_closed_at = talked_closed_at = None
            n = 0
            while time.monotonic() - start < 3.0:
                self.assertEqual(echo_roundtrip(active, b"tick %d" % n), b"TICK %d" % n,
                                 f"the active connection broke after {time.monotonic() - start:.1f}s")
                n += 1
                if idle_closed_at is None and closed_by_peer(idle, timeout=0.15):
                    idle_closed_at = time.monotonic() - start
                if talked_closed_at is None and closed_by_peer(talked_then_idle, timeout=0.15):
                    talked_closed_at = time.monotonic() - start
            self.assertIsNotNone(idle_closed_at, "an idle connection was still open after 3 s (idle_timeout 1s)")
            self.assertIsNotNone(talked_closed_at, "a connection idle since its last echo was still open after 3 s")
            self.assertGreaterEqual(idle_closed_at, 0.8, f"idle connection closed too early ({idle_closed_at:.2f}s)")
            self.assertGreaterEqual(talked_closed_at, 0.8, f"closed too early ({talked_closed_at:.2f}s)")
            self.assertEqual(echo_roundtrip(active, b"last"), b"LAST")
            for s in (idle, talked_then_idle, active):
                s.close()
            d.assert_exits_cleanly()

    def test_idle_timeout_zero_means_none(self):
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper", limits={"idle_timeout": 0})],
                   config={"limits": {"idle_timeout": "1s"}}) as d:
            s = connect(port)
            self.assertFalse(closed_by_peer(s, timeout=2.0), "closed although this listener has idle_timeout: 0")
            self.assertEqual(echo_roundtrip(s, b"alive"), b"ALIVE")
            s.close()
            d.assert_exits_cleanly()


class AccessLists(unittest.TestCase):
    def _serve(self, **acl):
        port = free_port()
        return port, Ringd(listeners=[listener("echo", tcp(port), "echo-upper", **acl)])

    def test_allow_list_excluding_the_peer_closes_at_once(self):
        port, r = self._serve(allow=["10.0.0.0/8"])
        with r as d:
            for _ in range(3):
                self.assertTrue(connection_refused_at_once(port), "a peer outside allow: was served")
            d.assert_exits_cleanly()

    def test_refused_connections_leak_nothing(self):
        port, r = self._serve(allow=["10.0.0.0/8"])
        with r as d:
            self.assertTrue(connection_refused_at_once(port))
            time.sleep(0.3)
            baseline = d.open_fds()
            for _ in range(100):
                self.assertTrue(connection_refused_at_once(port))
            wait_until(lambda: d.open_fds() <= baseline, timeout=5,
                       what=f"ringd's fd count back at {baseline} after 100 refused connections")
            d.assert_exits_cleanly()

    def test_allow_list_including_the_peer_serves(self):
        port, r = self._serve(allow=["127.0.0.0/8"])
        with r as d:
            with connect(port) as s:
                self.assertEqual(echo_roundtrip(s, b"allowed"), b"ALLOWED")
            d.assert_exits_cleanly()

    def test_deny_wins_over_allow(self):
        port, r = self._serve(allow=["127.0.0.0/8"], deny=["127.0.0.1/32"])
        with r as d:
            self.assertTrue(connection_refused_at_once(port), "127.0.0.1 is denied but was served")
            # A peer inside allow and outside deny (127.0.0.2 is loopback too) is still served.
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(10)
            s.bind(("127.0.0.2", 0))
            s.connect(("127.0.0.1", port))
            with s:
                self.assertEqual(echo_roundtrip(s, b"from .2"), b"FROM .2")
            d.assert_exits_cleanly()

    def test_deny_alone_blocks_only_the_denied(self):
        port, r = self._serve(deny=["127.0.0.2"])
        with r as d:
            with connect(port) as s:
                self.assertEqual(echo_roundtrip(s, b"not denied"), b"NOT DENIED")
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.settimeout(5)
            s.bind(("127.0.0.2", 0))
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(b"denied?")
                self.assertTrue(closed_by_peer(s), "127.0.0.2 is denied but was served")
            except ConnectionResetError:
                pass
            finally:
                s.close()
            d.assert_exits_cleanly()

    def test_ipv6_peer_against_ipv4_and_ipv6_ranges(self):
        try:
            port = free_port(family=socket.AF_INET6)
        except OSError as e:
            self.skipTest(f"no IPv6 loopback here: {e}")
        with Ringd(listeners=[listener("v6", tcp(port, "::1"), "echo-upper", allow=["127.0.0.0/8"])]) as d:
            self.assertTrue(connection_refused_at_once(port, "::1"), "::1 matched an IPv4-only allow list")
            d.assert_exits_cleanly()
        with Ringd(listeners=[listener("v6", tcp(port, "::1"), "echo-upper", allow=["::1/128"])]) as d:
            with connect(port, "::1") as s:
                self.assertEqual(echo_roundtrip(s, b"v6"), b"V6")
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
