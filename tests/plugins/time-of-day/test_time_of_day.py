"""Integration tests for the time-of-day plugin, against the real ringd over real sockets.

TCP: the exact default line, then EOF (FIN, not a reset); UTC, IANA and TZ-following local zones; RFC 868;
1,000 concurrent clients. UDP: text and RFC 868 replies. Config: an unknown zone fails --check-config with the
key's position, and the shipped drop-in (plugins/time-of-day/time-of-day.yaml) checks clean.

Times are compared with this process's clock, within 2 s. Every loop is bounded in count and time.
"""

import datetime
import os
import re
import resource
import selectors
import socket
import struct
import time
import unittest
from zoneinfo import ZoneInfo

from ringd_harness import (SANITIZED, Ringd, check_config_text, connect, free_port, listener, main,
                           recv_until_eof, tcp, udp)

SOURCE_DIR = os.environ.get("RINGD_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..", ".."))
DEFAULT_LINE = re.compile(rb"\ACurrent time is (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6})\n\Z")
RFC868_OFFSET = 2208988800
SLACK = 2.0


def parse_default_line(data, tz):
    """The aware datetime shown by a default-format line, read in zone `tz`."""
    m = DEFAULT_LINE.match(data)
    if m is None:
        raise AssertionError(f"not a default time line: {data!r}")
    naive = datetime.datetime.strptime(m.group(1).decode(), "%Y-%m-%d %H:%M:%S.%f")
    return naive.replace(tzinfo=tz)


def fetch_tcp(port, host="127.0.0.1", timeout=10.0):
    """Connects, reads until the server closes; returns everything it sent."""
    with connect(port, host, timeout) as s:
        return recv_until_eof(s, timeout)


def fetch_udp(port, payload=b"", host="127.0.0.1", timeout=5.0, tries=3):
    """Sends `payload`, returns the reply datagram (UDP may drop: a few bounded tries)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout / tries)
        for _ in range(tries):
            s.sendto(payload, (host, port))
            try:
                data, _ = s.recvfrom(65536)
                return data
            except socket.timeout:
                continue
    raise AssertionError(f"no UDP reply from port {port} after {tries} tries")


class TimeOfDayTest(unittest.TestCase):
    def assert_now(self, shown, slack=SLACK):
        """`shown` (an aware datetime) is within `slack` seconds of this process's clock."""
        now = datetime.datetime.now(datetime.timezone.utc)
        delta = abs((shown - now).total_seconds())
        self.assertLessEqual(delta, slack, f"shown {shown.isoformat()}, now {now.isoformat()}")

    # -- TCP ----------------------------------------------------------------------------------------------

    def test_default_line_then_close(self):
        port = free_port()
        with Ringd(listeners=[listener("time", tcp(port), "time-of-day")]) as d:
            with connect(port) as s:
                started = time.monotonic()
                data = recv_until_eof(s, timeout=10.0)  # returns at the server's FIN
                self.assertLess(time.monotonic() - started, 5.0, "server did not close promptly")
                # A clean FIN after the line: further reads keep returning b"", never a reset.
                self.assertEqual(s.recv(16), b"")
            # Local time: the daemon inherits our TZ (if any) and /etc/localtime, as Python's local time does.
            local = datetime.datetime.now().astimezone().tzinfo
            self.assert_now(parse_default_line(data, local))
            self.assertTrue(d.alive())

    def test_line_and_fin_share_one_segment(self):
        # The engine sends a close-after-flush's last bytes with MSG_MORE, so the FIN rides on the data
        # segment: the client receives exactly SYN-ACK + data/FIN. Without it, data and FIN are two segments.
        port = free_port()
        with Ringd(listeners=[listener("time", tcp(port), "time-of-day")]):
            for _ in range(3):
                with connect(port) as s:
                    data = recv_until_eof(s, timeout=10.0)
                    info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
                self.assertTrue(DEFAULT_LINE.match(data), data)
                # struct tcp_info: 8 one-byte fields, 24 u32, 4 u64, then tcpi_segs_out, tcpi_segs_in (u32).
                segs_in = struct.unpack_from("I", info, 8 + 24 * 4 + 4 * 8 + 4)[0]
                self.assertEqual(segs_in, 2, "expected SYN-ACK and one data+FIN segment")

    def test_client_that_talks_still_gets_the_line(self):
        port = free_port()
        with Ringd(listeners=[listener("time", tcp(port), "time-of-day", {"timezone": "UTC"})]):
            with connect(port) as s:
                s.sendall(b"what time is it?\r\n")
                data = recv_until_eof(s, timeout=10.0)
            self.assert_now(parse_default_line(data, datetime.timezone.utc))

    def test_utc_and_local_differ_when_tz_is_set(self):
        utc_port, local_port = free_port(), free_port()
        listeners = [listener("utc", tcp(utc_port), "time-of-day", {"timezone": "UTC"}),
                     listener("local", tcp(local_port), "time-of-day")]
        # TZ set for the daemon only: `local` must follow it, `UTC` must not.
        with Ringd(listeners=listeners, env={"TZ": "Asia/Kolkata"}):
            self.assert_now(parse_default_line(fetch_tcp(utc_port), datetime.timezone.utc))
            self.assert_now(parse_default_line(fetch_tcp(local_port), ZoneInfo("Asia/Kolkata")))

    def test_iana_zones_with_offsets(self):
        fmt = "%Y-%m-%d %H:%M:%S.%f %z %Z\n"
        zones = ["Asia/Shanghai", "America/New_York", "Asia/Kathmandu"]
        ports = [free_port() for _ in zones]
        listeners = [listener(f"tz{i}", tcp(p), "time-of-day", {"timezone": z, "format": fmt})
                     for i, (z, p) in enumerate(zip(zones, ports))]
        with Ringd(listeners=listeners):
            for zone, port in zip(zones, ports):
                data = fetch_tcp(port).decode()
                m = re.fullmatch(r"(\S+ \S+) ([+-]\d{4}) (\S+)\n", data)
                self.assertIsNotNone(m, data)
                shown = datetime.datetime.strptime(m.group(1) + " " + m.group(2), "%Y-%m-%d %H:%M:%S.%f %z")
                self.assert_now(shown)
                expected = datetime.datetime.now(ZoneInfo(zone))
                self.assertEqual(m.group(2), expected.strftime("%z"), zone)
                self.assertEqual(m.group(3), expected.strftime("%Z"), zone)

    def test_rfc868_tcp(self):
        port = free_port()
        with Ringd(listeners=[listener("time", tcp(port), "time-of-day", {"protocol": "rfc868"})]):
            data = fetch_tcp(port)
            self.assertEqual(len(data), 4, data)
            (value,) = struct.unpack("!I", data)
            self.assertLessEqual(abs(value - (time.time() + RFC868_OFFSET) % 2**32), SLACK)

    def test_1000_concurrent_clients(self):
        clients = 1000
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = clients + 200  # and the daemon, started after this, inherits the limit too
        if soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                self.skipTest(f"RLIMIT_NOFILE hard limit {hard} < {want}")
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        port = free_port()
        deadline_s = 120.0 if SANITIZED else 60.0
        with Ringd(listeners=[listener("time", tcp(port), "time-of-day", {"timezone": "UTC"})]) as d:
            started = time.time()
            sel = selectors.DefaultSelector()
            received = {}
            failures = []
            # Open every connection before reading any, so all 1,000 are in flight together.
            for i in range(clients):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex(("127.0.0.1", port))
                if err not in (0, 115):  # EINPROGRESS
                    failures.append(f"client {i}: connect: {os.strerror(err)}")
                    s.close()
                    continue
                received[s] = bytearray()
                sel.register(s, selectors.EVENT_READ, i)
            deadline = time.monotonic() + deadline_s
            lines = []
            while sel.get_map() and time.monotonic() < deadline:
                for key, _ in sel.select(timeout=1.0):
                    s = key.fileobj
                    try:
                        chunk = s.recv(4096)
                    except (ConnectionResetError, ConnectionRefusedError) as e:
                        failures.append(f"client {key.data}: {e}")
                        chunk = b""
                        received[s] = None
                    if chunk:
                        received[s] += chunk
                        if len(received[s]) > 4096:
                            failures.append(f"client {key.data}: too much data")
                        continue
                    sel.unregister(s)
                    s.close()
                    if received[s] is not None:
                        lines.append(bytes(received[s]))
            unfinished = len(sel.get_map())
            for key in list(sel.get_map().values()):
                key.fileobj.close()
            sel.close()
            finished = time.time()
            self.assertEqual(unfinished, 0, f"{unfinished} clients got no EOF within {deadline_s}s")
            self.assertEqual(failures, [])
            self.assertEqual(len(lines), clients)
            for line in lines:
                shown = parse_default_line(line, datetime.timezone.utc).timestamp()
                self.assertGreaterEqual(shown, started - SLACK)
                self.assertLessEqual(shown, finished + SLACK)
            self.assertTrue(d.alive())

    # -- UDP ----------------------------------------------------------------------------------------------

    def test_udp_text_and_rfc868(self):
        text_port, binary_port = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM)
        listeners = [listener("time-udp", udp(text_port), "time-of-day", {"timezone": "UTC"}),
                     listener("time868-udp", udp(binary_port), "time-of-day", {"protocol": "rfc868"})]
        with Ringd(listeners=listeners):
            for payload in (b"", b"what time is it?", b"x" * 1000):
                self.assert_now(parse_default_line(fetch_udp(text_port, payload), datetime.timezone.utc))
            data = fetch_udp(binary_port)
            self.assertEqual(len(data), 4, data)
            (value,) = struct.unpack("!I", data)
            self.assertLessEqual(abs(value - (time.time() + RFC868_OFFSET) % 2**32), SLACK)

    def test_udp_one_reply_per_datagram(self):
        port = free_port(socket.SOCK_DGRAM)
        with Ringd(listeners=[listener("time-udp", udp(port), "time-of-day", {"timezone": "UTC"})]):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                for _ in range(20):
                    s.sendto(b"?", ("127.0.0.1", port))
                replies = []
                s.settimeout(2.0)
                try:
                    while len(replies) < 25:  # bounded: more than 20 would be a bug
                        replies.append(s.recv(65536))
                        s.settimeout(0.5)
                except socket.timeout:
                    pass
                self.assertEqual(len(replies), 20)
                for r in replies:
                    self.assert_now(parse_default_line(r, datetime.timezone.utc))

    # -- config -------------------------------------------------------------------------------------------

    def test_unknown_zone_is_a_config_error(self):
        port = free_port()
        rc, out = check_config_text(
            "workers: 1\n"
            "listeners:\n"
            f"  - name: time\n    listen: tcp://127.0.0.1:{port}\n    plugin: time-of-day\n"
            "    config:\n      timezone: Mars/Olympus_Mons\n")
        self.assertNotEqual(rc, 0, out)
        self.assertIn('unknown time zone "Mars/Olympus_Mons"', out)
        self.assertIn("ringd.yaml:7:", out)  # the line of the `timezone:` key

    def test_bad_format_and_unknown_key_are_config_errors(self):
        port = free_port()
        rc, out = check_config_text(
            "workers: 1\n"
            "listeners:\n"
            f"  - name: a\n    listen: tcp://127.0.0.1:{port}\n    plugin: time-of-day\n"
            "    config: {format: '%Q'}\n"
            f"  - name: b\n    listen: udp://127.0.0.1:{port}\n    plugin: time-of-day\n"
            "    config: {colour: blue}\n")
        self.assertNotEqual(rc, 0, out)
        self.assertIn('unknown conversion "%Q"', out)
        self.assertIn('unknown key "colour"', out)

    def test_shipped_drop_in_checks_clean(self):
        snippet = os.path.join(SOURCE_DIR, "plugins", "time-of-day", "time-of-day.yaml")
        rc, out = check_config_text(f"workers: 1\ninclude: {snippet}\n")
        self.assertEqual(rc, 0, out)
        self.assertIn("tcp://127.0.0.1:3434", out)
        self.assertIn("udp://127.0.0.1:3434", out)


if __name__ == "__main__":
    main()
