"""Malformed framed requests: each gets a framed error reply (when one can still be sent), then the
connection ends; other connections on the daemon are not disturbed."""

import json
import socket
import struct
import unittest

from ringd_harness import Ringd, connect, free_ports, main
from rc_client import expect_eof, frame, framed_request, read_framed_reply, remote_cmd_listener
from ringd_harness import tcp

MAX_REQUEST = 1024


class FramedErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        (cls.port,) = free_ports(1)
        # One worker: every connection shares it, so "not disturbed" means something.
        cls.ringd = Ringd(workers=1, listeners=[
            remote_cmd_listener("fr", tcp(cls.port), protocol="framed", allow=["echo"], max_request=MAX_REQUEST),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def setUp(self):
        self.bystander = connect(self.port)
        framed_request(self.bystander, {"argv": ["echo", "before"]})

    def tearDown(self):
        _, out, _ = framed_request(self.bystander, {"argv": ["echo", "after"]})
        self.assertEqual(out, b"after\n")
        self.bystander.close()
        self.assertTrue(self.ringd.alive())

    def expect_error_then_eof(self, payload, fragment, shut_write=False):
        with connect(self.port) as s:
            s.sendall(payload)
            if shut_write:
                s.shutdown(socket.SHUT_WR)
            header, out, err = read_framed_reply(s)
            self.assertIs(header["ok"], False, header)
            self.assertIn(fragment, header["error"])
            self.assertEqual((header["stdout_size"], header["stderr_size"]), (0, 0))
            self.assertEqual((out, err), (b"", b""))
            expect_eof(s)

    def test_length_zero(self):
        self.expect_error_then_eof(struct.pack(">I", 0), "frame length is 0")

    def test_length_above_max_request(self):
        self.expect_error_then_eof(struct.pack(">I", MAX_REQUEST + 1), "exceeds max_request")

    def test_length_huge(self):
        self.expect_error_then_eof(b"\xff\xff\xff\xff" + b"x" * 100, "exceeds max_request")

    def test_length_exactly_max_request_is_fine(self):
        body = json.dumps({"argv": ["echo", "x"]}).encode()
        body += b" " * (MAX_REQUEST - len(body))
        with connect(self.port) as s:
            header, out, _ = framed_request(s, body)
            self.assertEqual(out, b"x\n")

    def test_truncated_body(self):
        self.expect_error_then_eof(struct.pack(">I", 100) + b'{"argv":["echo"', "truncated frame", shut_write=True)

    def test_truncated_length(self):
        self.expect_error_then_eof(b"\x00\x00", "truncated frame", shut_write=True)

    def test_invalid_json(self):
        self.expect_error_then_eof(frame(b"{argv: [echo]}"), "not valid JSON")

    def test_invalid_utf8(self):
        self.expect_error_then_eof(frame(b'{"argv":["echo","\xff"]}'), "not valid JSON")

    def test_number_out_of_range(self):
        self.expect_error_then_eof(frame(b'{"argv":["echo"],"timeout_ms":1e999}'), "out of range")

    def test_not_an_object(self):
        self.expect_error_then_eof(frame(b'["echo","hi"]'), "must be a JSON object")

    def test_wrong_types(self):
        for body, fragment in [({"argv": "echo hi"}, "\"argv\""), ({"argv": ["echo", 1]}, "\"argv\""),
                               ({"argv": []}, "\"argv\""), ({"cmd": 5}, "\"cmd\""),
                               ({"argv": ["echo"], "token": 1}, "\"token\""),
                               ({"argv": ["echo"], "timeout_ms": -1}, "\"timeout_ms\""),
                               ({"argv": ["echo"], "timeout_ms": "5"}, "\"timeout_ms\""),
                               ({"argv": ["echo"], "cmd": "echo"}, "exactly one"), ({}, "exactly one"),
                               ({"argv": ["echo"], "env": {"X": "1"}}, "unknown request field")]:
            with self.subTest(body=body):
                self.expect_error_then_eof(frame(body), fragment)

    def test_error_after_valid_requests_comes_in_order(self):
        with connect(self.port) as s:
            s.sendall(frame({"argv": ["echo", "1"]}) + frame({"argv": ["echo", "2"]}) + frame(b"nope"))
            self.assertEqual(read_framed_reply(s)[1], b"1\n")
            self.assertEqual(read_framed_reply(s)[1], b"2\n")
            header, _, _ = read_framed_reply(s)
            self.assertIs(header["ok"], False)
            expect_eof(s)

    def test_garbage_after_the_error_is_ignored(self):
        with connect(self.port) as s:
            s.sendall(struct.pack(">I", 0))
            header, _, _ = read_framed_reply(s)
            self.assertIs(header["ok"], False)
            try:
                s.sendall(frame({"argv": ["echo", "ignored"]}) * 10)
            except OSError:
                pass
            expect_eof(s)


if __name__ == "__main__":
    main()
