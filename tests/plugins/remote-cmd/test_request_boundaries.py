"""Where a remote-cmd request ends, on every wire format, against the real daemon over real sockets (the
README's "Request boundaries"): a line split over segments within request_assembly is one request; a
10,000-byte line is too_large and nothing of it runs; a newline ends a request at once; bytes that arrive
before an unterminated request is answered are refused, not run. Also framed requests with a key written
twice, and the allow list's argument policies (date -s refused)."""

import json
import socket
import struct
import time
import unittest

from ringd_harness import Ringd, connect, free_ports, main, recv_exactly, tcp
from rc_client import (expect_eof, frame, framed_request, json_header_request, read_framed_reply,
                       read_json_header_reply, remote_cmd_listener)

ALLOW = ["echo", "uname", "sleep"]
# The line: "uname -a" sits at byte 4,096, where the daemon's second read of it begins.
LONG_LINE = b"echo " + b"A" * 4091 + b"uname -a" + b"B" * 5896
assert len(LONG_LINE) == 10_000 and LONG_LINE.index(b"uname") == 4096


def nodelay(sock):
    # Every send its own segment, so that the daemon sees the pieces as separate reads.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_size_prefixed_reply(sock, timeout=15.0):
    (n,) = struct.unpack("<i", recv_exactly(sock, 4, timeout))
    return recv_exactly(sock, n, timeout) if n else b""


def expect_silence(sock, seconds=0.3):
    """No further reply arrives (and the connection stays open)."""
    sock.settimeout(seconds)
    try:
        data = sock.recv(65536)
    except socket.timeout:
        return
    raise AssertionError(f"unexpected bytes: {data[:200]!r}")


class LineBoundaries(unittest.TestCase):
    """json-header and size-prefixed: the same rule, checked on both. The window is 100 ms here, not the
    default 5 ms, so that a loaded test machine cannot stretch the test's own 1 ms pause beyond it."""

    WINDOW = 0.1

    @classmethod
    def setUpClass(cls):
        cls.jh, cls.sp = free_ports(2)
        config = {"allow": ALLOW, "request_assembly": f"{int(cls.WINDOW * 1000)}ms"}
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("jh", tcp(cls.jh), protocol="json-header", **config),
            remote_cmd_listener("sp", tcp(cls.sp), protocol="size-prefixed", **config),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def read_reply(self, protocol, sock):
        """(stdout or body, error text or None) of one reply."""
        if protocol == "json-header":
            header, out, err = read_json_header_reply(sock)
            return out, (err if "error_code" in header else None)
        body = read_size_prefixed_reply(sock)
        return body, (body if body.startswith(b"ringd: ") else None)

    def protocols(self):
        return (("json-header", self.jh), ("size-prefixed", self.sp))

    def test_tutorial_client_one_command_per_send(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), connect(port) as s:
                for i in range(3):
                    s.sendall(f"echo tutorial {i}".encode())  # no newline, as the tutorial's client
                    out, err = self.read_reply(protocol, s)
                    self.assertEqual((out, err), (f"tutorial {i}\n".encode(), None))
                s.sendall(b"uname -s\n")  # a newline at the end is fine too
                out, err = self.read_reply(protocol, s)
                self.assertEqual((out, err), (b"Linux\n", None))

    def test_short_command_split_over_two_segments_is_one_request(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), nodelay(connect(port)) as s:
                s.sendall(b"ech")
                time.sleep(0.001)  # well inside the window
                s.sendall(b"o hi")
                out, err = self.read_reply(protocol, s)
                self.assertEqual((out, err), (b"hi\n", None))
                expect_silence(s)

    def test_10000_byte_line_is_too_large_and_nothing_runs(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), nodelay(connect(port)) as s:
                s.sendall(LONG_LINE)
                out, err = self.read_reply(protocol, s)
                self.assertEqual(err, b"ringd: request too large: more than 4096 bytes without a newline\n")
                expect_eof(s)  # and no second reply: neither "echo A..." nor "uname -a" ran

    def test_10000_byte_line_in_pieces_is_too_large(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), nodelay(connect(port)) as s:
                for at in range(0, len(LONG_LINE), 1000):
                    s.sendall(LONG_LINE[at:at + 1000])
                    time.sleep(0.0005)
                _, err = self.read_reply(protocol, s)
                self.assertIn(b"request too large", err)
                expect_eof(s)

    def test_newline_ends_a_request_at_once(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), connect(port) as s:
                s.sendall(b"echo a\necho b\r\nuname -s\n")
                self.assertEqual(self.read_reply(protocol, s), (b"a\n", None))
                self.assertEqual(self.read_reply(protocol, s), (b"b\n", None))
                self.assertEqual(self.read_reply(protocol, s), (b"Linux\n", None))
                expect_silence(s)

    def test_newline_inside_quotes_is_part_of_the_request(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), connect(port) as s:
                s.sendall(b"echo 'two\nlines' \"and\nmore\"\n")
                self.assertEqual(self.read_reply(protocol, s), (b"two\nlines and\nmore\n", None))
                expect_silence(s)

    def test_bytes_before_an_unterminated_request_is_answered_are_refused(self):
        for protocol, port in self.protocols():
            with self.subTest(protocol=protocol), nodelay(connect(port)) as s:
                s.sendall(b"sleep 1")
                time.sleep(self.WINDOW * 4)  # the window has passed: sleep runs
                s.sendall(b"uname -a")  # a late tail, or a second request: not a command of its own
                self.assertEqual(self.read_reply(protocol, s), (b"", None))
                _, err = self.read_reply(protocol, s)
                self.assertIn(b"more bytes arrived before the previous request", err)
                expect_eof(s)


class FramedBoundaries(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        (cls.fr,) = free_ports(1)
        cls.ringd = Ringd(listeners=[remote_cmd_listener("fr", tcp(cls.fr), protocol="framed", allow=ALLOW)]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def test_10000_byte_frame_in_pieces_is_one_request(self):
        arg = "A" * 4070 + " uname -a " + "B" * 5920
        request = frame({"argv": ["echo", arg]})
        with nodelay(connect(self.fr)) as s:
            for at in range(0, len(request), 1000):
                s.sendall(request[at:at + 1000])
                time.sleep(0.002)  # pauses far apart: framed requests need no window
            header, out, _ = read_framed_reply(s)
            self.assertIs(header["ok"], True)
            self.assertEqual(out, arg.encode() + b"\n")
            expect_silence(s)

    def test_duplicate_keys_are_bad_request(self):
        body = b'{"argv":["echo","first"],"argv":["uname","-a"]}'
        with connect(self.fr) as s:
            header, out, err = framed_request(s, body)
            self.assertIs(header["ok"], False)
            self.assertEqual(header["error_code"], "bad_request")
            self.assertEqual(header["error"], 'duplicate request field "argv"')
            self.assertEqual((out, err), (b"", b""))
            expect_eof(s)


class ArgumentPolicies(unittest.TestCase):
    """The shipped listener's date entries: read-only uses run, setting the clock is refused."""

    @classmethod
    def setUpClass(cls):
        cls.jh, cls.fr = free_ports(2)
        allow = [{"command": "date", "args": []}, {"command": "date", "args_pattern": r"\+[%A-Za-z0-9 :._,-]*"}]
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("jh", tcp(cls.jh), protocol="json-header", allow=allow),
            remote_cmd_listener("fr", tcp(cls.fr), protocol="framed", allow=allow),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def test_date_set_is_refused(self):
        with connect(self.jh) as s:
            header, out, err = json_header_request(s, "date -s '2020-01-01 00:00'\n")
            self.assertEqual(header["exit_code"], 126)
            self.assertEqual(header["error_code"], "not_allowed")
            self.assertEqual(err, b"ringd: arguments not allowed for date: -s '2020-01-01 00:00'\n")
            header, _, _ = json_header_request(s, "date 010100002020\n")
            self.assertEqual(header["error_code"], "not_allowed")
        with connect(self.fr) as s:
            header, _, _ = framed_request(s, {"argv": ["date", "--set=2020-01-01"]})
            self.assertEqual((header["ok"], header["error_code"]), (False, "not_allowed"))
            header, _, _ = framed_request(s, {"argv": ["date", "+%s", "-s", "@0"]})
            self.assertEqual(header["error_code"], "not_allowed")

    def test_read_only_uses_run(self):
        with connect(self.jh) as s:
            header, out, _ = json_header_request(s, "date\n")
            self.assertEqual(header["exit_code"], 0)
            self.assertTrue(out)
            header, out, _ = json_header_request(s, "date +%s\n")
            self.assertEqual(header["exit_code"], 0)
            self.assertLess(abs(int(out) - time.time()), 60)
        with connect(self.fr) as s:
            header, out, _ = framed_request(s, {"argv": ["date", "+%Y"]})
            self.assertIs(header["ok"], True)
            self.assertEqual(out, time.strftime("%Y").encode() + b"\n")


if __name__ == "__main__":
    main()
