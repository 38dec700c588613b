"""Integration tests for the udp-echo plugin, against the real ringd over real sockets.

Echo with transform upper (default) and none, over IPv4 and IPv6; a 65,507-byte datagram echoed whole; a
burst of datagrams each answered once; an oversized datagram dropped, never truncated; no reply to a denied
source port; a flood from one source cut to its rate limit while another source is still answered; config
errors; the shipped drop-in (plugins/udp-echo/udp-echo.yaml) checks clean.

"No reply" is asserted after a datagram that *is* answered and was sent later, so it does not rest on a
timeout alone. Every loop is bounded in count and time.
"""

import os
import random
import re
import socket
import time
import unittest

from ringd_harness import SANITIZED, Ringd, check_config_text, free_port, listener, main, udp

SOURCE_DIR = os.environ.get("RINGD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
BIG = 1 << 21  # socket buffers large enough for 64 KiB datagrams and bursts


def client(family=socket.AF_INET, bind=None):
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, BIG)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, BIG)
    if bind is not None:
        s.bind(bind)
    return s


def upper(data):
    return bytes(b - 32 if 0x61 <= b <= 0x7A else b for b in data)


def echo(sock, payload, addr, timeout=5.0, tries=3):
    """Sends `payload` and returns the reply; a few bounded tries, since UDP may drop."""
    sock.settimeout(timeout / tries)
    for _ in range(tries):
        sock.sendto(payload, addr)
        try:
            return sock.recvfrom(65536)[0]
        except socket.timeout:
            continue
    raise AssertionError(f"no reply from {addr} after {tries} tries")


def drain(sock, quiet=0.5, limit=100000, deadline=30.0):
    """Every datagram that arrives until `quiet` seconds pass without one (bounded by count and time)."""
    out = []
    end = time.monotonic() + deadline
    sock.settimeout(quiet)
    while len(out) < limit and time.monotonic() < end:
        try:
            out.append(sock.recvfrom(65536)[0])
        except socket.timeout:
            break
    return out


def ipv6_loopback_available():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class UdpEchoTest(unittest.TestCase):
    def test_upper_by_default(self):
        port = free_port(socket.SOCK_DGRAM)
        with Ringd(listeners=[listener("echo", udp(port), "udp-echo")]) as d:
            with client() as c:
                addr = ("127.0.0.1", port)
                self.assertEqual(echo(c, b"Hello, World! 123 \xc3\xa9\xff", addr), b"HELLO, WORLD! 123 \xc3\xa9\xff")
                every_byte = bytes(range(256))
                self.assertEqual(echo(c, every_byte, addr), upper(every_byte))
                self.assertEqual(echo(c, b"", addr), b"")  # an empty datagram is echoed empty
            self.assertTrue(d.alive())

    def test_transform_none(self):
        port = free_port(socket.SOCK_DGRAM)
        with Ringd(listeners=[listener("echo", udp(port), "udp-echo", {"transform": "none"})]):
            with client() as c:
                payload = random.Random(1).randbytes(1200)
                self.assertEqual(echo(c, payload, ("127.0.0.1", port)), payload)
                self.assertEqual(echo(c, b"MiXeD case", ("127.0.0.1", port)), b"MiXeD case")

    def test_ipv6(self):
        if not ipv6_loopback_available():
            self.skipTest("no IPv6 loopback")
        port = free_port(socket.SOCK_DGRAM, socket.AF_INET6)
        with Ringd(listeners=[listener("echo6", udp(port, "::1"), "udp-echo")]):
            with client(socket.AF_INET6) as c:
                self.assertEqual(echo(c, b"over ipv6", ("::1", port)), b"OVER IPV6")
                big = b"v6" * 30000  # 60,000 bytes
                self.assertEqual(echo(c, big, ("::1", port)), upper(big))

    def test_largest_ipv4_datagram_echoed_whole(self):
        port = free_port(socket.SOCK_DGRAM)
        with Ringd(listeners=[listener("echo", udp(port), "udp-echo")]):
            with client() as c:
                payload = bytes(random.Random(2).choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(65507))
                reply = echo(c, payload, ("127.0.0.1", port))
                self.assertEqual(len(reply), 65507)
                self.assertEqual(reply, upper(payload))

    def test_burst_each_answered_once(self):
        port = free_port(socket.SOCK_DGRAM)
        with Ringd(listeners=[listener("echo", udp(port), "udp-echo", {"rate_limit": "off"})]):
            with client() as c:
                sent = [f"datagram {i:03d}".encode() for i in range(100)]
                for payload in sent:
                    c.sendto(payload, ("127.0.0.1", port))
                replies = drain(c, quiet=1.0, limit=200)
                self.assertEqual(sorted(replies), sorted(upper(p) for p in sent))

    def test_oversized_dropped_not_truncated(self):
        port = free_port(socket.SOCK_DGRAM)
        with Ringd(listeners=[listener("echo", udp(port), "udp-echo", {"max_datagram": 1000})]) as d:
            with client() as c:
                addr = ("127.0.0.1", port)
                c.sendto(b"a" * 1001, addr)  # over the limit: must vanish
                c.sendto(b"b" * 1000, addr)  # at the limit: echoed, and proves the first was handled
                replies = drain(c, quiet=1.0, limit=10)
                self.assertEqual(replies, [b"B" * 1000])
            d.stop()
            self.assertRegex(d.log(), r"udp-echo totals: 1 echoed; dropped 1 oversize")

    def test_denied_source_port_gets_no_reply(self):
        port = free_port(socket.SOCK_DGRAM)
        # A high port chosen now and listed explicitly (a list replaces the 0-1023 default).
        denied = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        denied.bind(("127.0.0.1", 0))
        denied_port = denied.getsockname()[1]
        config = {"deny_source_ports": [denied_port, "40000-40010"]}
        try:
            with Ringd(listeners=[listener("echo", udp(port), "udp-echo", config)]) as d:
                with client() as allowed:
                    for _ in range(3):
                        denied.sendto(b"reflect me", ("127.0.0.1", port))
                    self.assertEqual(echo(allowed, b"me too", ("127.0.0.1", port)), b"ME TOO")
                    denied.settimeout(1.0)
                    with self.assertRaises(socket.timeout):
                        denied.recvfrom(65536)
                d.stop()
                self.assertRegex(d.log(), r"dropped 0 oversize, 3 from denied source ports")
        finally:
            denied.close()

    def test_flood_from_one_source_is_rate_limited(self):
        port = free_port(socket.SOCK_DGRAM)
        rate, burst = 100, 20
        config = {"rate_limit": {"per_source": f"{rate}/s", "burst": burst}}
        # One worker: the limit is per worker (a source's datagrams, spread over N workers, may get N times it).
        with Ringd(listeners=[listener("echo", udp(port), "udp-echo", config)], workers=1) as d:
            addr = ("127.0.0.1", port)
            # Sources are addresses: the second source is 127.0.0.2 (all of 127/8 is loopback on Linux).
            with client(bind=("127.0.0.1", 0)) as flooder, client(bind=("127.0.0.2", 0)) as other:
                flood, other_sent = 0, 0
                started = time.monotonic()
                # About 1,000 datagrams/s for 1 s: ten times the rate, gentle enough that no socket overflows.
                while flood < 1000 and time.monotonic() - started < 3.0:
                    flooder.sendto(b"flood %d" % flood, addr)
                    flood += 1
                    if flood % 100 == 50:
                        other.sendto(b"other %d" % other_sent, addr)
                        other_sent += 1
                    time.sleep(0.001)
                elapsed = time.monotonic() - started
                flood_replies = drain(flooder, quiet=1.0, limit=flood + 1)
                other_replies = drain(other, quiet=0.5, limit=other_sent + 1)
            allowed = burst + rate * (elapsed + 0.5)
            self.assertGreaterEqual(len(flood_replies), burst, "not even the burst was answered")
            self.assertLessEqual(len(flood_replies), allowed,
                                 f"{len(flood_replies)} replies to {flood} datagrams in {elapsed:.2f}s")
            self.assertLess(len(flood_replies), flood / 2)
            self.assertEqual(sorted(other_replies), sorted(b"OTHER %d" % i for i in range(other_sent)))
            d.stop()
            m = re.search(r"udp-echo totals: (\d+) echoed; .* (\d+) rate-limited", d.log())
            self.assertIsNotNone(m, d.log())
            self.assertGreater(int(m.group(2)), 0)

    # -- config -------------------------------------------------------------------------------------------

    def test_config_errors_point_at_the_key(self):
        port = free_port(socket.SOCK_DGRAM)
        rc, out = check_config_text(
            "workers: 1\n"
            "listeners:\n"
            f"  - name: echo\n    listen: udp://127.0.0.1:{port}\n    plugin: udp-echo\n"
            "    config:\n"
            "      rate_limit:\n"
            "        per_source: fast\n")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("rate_limit.per_source: expected a rate like 1000/s", out)
        self.assertIn("ringd.yaml:8:", out)  # the line of `per_source:`
        rc, out = check_config_text(
            "workers: 1\n"
            "listeners:\n"
            f"  - name: echo\n    listen: udp://127.0.0.1:{port}\n    plugin: udp-echo\n"
            "    config:\n"
            "      deny_source_ports:\n"
            "        - 53\n"
            "        - 70000\n")
        self.assertNotEqual(rc, 0, out)
        self.assertIn('deny_source_ports.1: expected a port 0-65535 or a range "A-B"', out)
        self.assertIn("ringd.yaml:9:", out)  # the line of the bad item

    def test_shipped_drop_in_checks_clean(self):
        snippet = os.path.join(SOURCE_DIR, "plugins", "udp-echo", "udp-echo.yaml")
        rc, out = check_config_text(f"workers: 1\ninclude: {snippet}\n")
        self.assertEqual(rc, 0, out)
        self.assertIn("udp://127.0.0.1:8080", out)


if __name__ == "__main__":
    main()
