"""Clients that pipeline many framed requests with large outputs and never read the replies must not grow
ringd's memory: remote-cmd runs a connection's next request only once the previous reply has been handed to
the kernel, and stops reading (and decoding) a connection while its queue is full. When the clients finally
read, every reply arrives, complete and in request order.

Regression test: remote-cmd used to turn every frame of a read into a queued job and run them all, appending
each reply to the connection's output whether or not the client read it. 4 such clients, each sending 120
`seq 1 200000` requests in one write, took ringd's RSS from 7 MB to 497 MB.
"""
import os
import socket
import struct
import time
import unittest

from rc_client import frame, read_framed_reply, remote_cmd_listener
from ringd_harness import SANITIZED, Ringd, assert_clean_log, config_yaml, free_port, main, scaled, tcp

CONNECTIONS = 4
REQUESTS = 120  # per connection, all sent in one write
LINES = 50_000  # 8-digit numbers: 9 bytes a line, 450,000 bytes a reply
REPLY_BYTES = 9 * LINES
# The client's receive buffer, pinned small (the kernel would otherwise let it grow to tcp_rmem's maximum):
# ringd's socket send buffer (up to tcp_wmem's 4 MiB) and this hold the few replies the kernel absorbs.
CLIENT_RCVBUF = 64 * 1024
# Unbounded, ringd would hold CONNECTIONS x REQUESTS x REPLY_BYTES (216 MB) less what the kernel absorbs
# (measured: +204 MB). Bounded, it holds per connection about one reply (~0.45 MB) plus 16 small queued
# requests (measured: +3-4 MB in all). 4 MiB a connection leaves room for allocator slack; under ASan
# (measured: +22 MB), 12 MiB for its redzones and its quarantine of freed blocks (capped below).
RSS_GROWTH_LIMIT_KIB = CONNECTIONS * scaled(4, 12) * 1024
STALL_SECONDS = scaled(3.0, 5.0)  # long enough for an unbounded ringd to run every request


def first_number(connection, request):
    return 10_000_000 + (connection * REQUESTS + request) * LINES


def request_frame(connection, request):
    start = first_number(connection, request)
    return frame({"argv": ["seq", str(start), str(start + LINES - 1)]})


def expected_output(connection, request):
    start = first_number(connection, request)
    return ("\n".join(map(str, range(start, start + LINES))) + "\n").encode()


class UnreadReplies(unittest.TestCase):
    def test_pipelining_without_reading_keeps_memory_bounded_and_loses_nothing(self):
        port = free_port()
        env = {}
        if SANITIZED:
            # Freed reply buffers sit in ASan's quarantine (256 MiB by default) and count as RSS.
            env["ASAN_OPTIONS"] = ":".join(filter(None, [os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=16"]))
        listeners = [remote_cmd_listener("cmd", tcp(port), protocol="framed", allow=["seq"], max_output="1MiB",
                                         max_concurrent=16)]
        with Ringd(listeners=listeners, workers=2, env=env) as d:
            socks = []
            try:
                for _ in range(CONNECTIONS):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, CLIENT_RCVBUF)
                    s.settimeout(10)
                    s.connect(("127.0.0.1", port))
                    socks.append(s)
                time.sleep(0.2)
                rss_before = d.rss_kib()
                start = time.monotonic()
                for c, s in enumerate(socks):
                    s.sendall(b"".join(request_frame(c, i) for i in range(REQUESTS)))

                # Nobody reads. Watch ringd's RSS while it does whatever it is going to do.
                peak = rss_before
                while time.monotonic() - start < STALL_SECONDS:
                    peak = max(peak, d.rss_kib())
                    if peak - rss_before > RSS_GROWTH_LIMIT_KIB:
                        break
                    time.sleep(0.05)
                growth = peak - rss_before
                print(f"ringd RSS {rss_before} KiB before, peak {peak} KiB while {CONNECTIONS} clients did not "
                      f"read {REQUESTS} replies of {REPLY_BYTES} bytes each: +{growth} KiB "
                      f"(limit +{RSS_GROWTH_LIMIT_KIB} KiB)")
                self.assertLessEqual(growth, RSS_GROWTH_LIMIT_KIB)

                # Now read everything: nothing lost, nothing reordered, nothing truncated.
                read_start = time.monotonic()
                for c, s in enumerate(socks):
                    for i in range(REQUESTS):
                        header, out, err = read_framed_reply(s, timeout=10)
                        self.assertIs(header["ok"], True, header)
                        self.assertEqual(header["exit_code"], 0, header)
                        self.assertIs(header["truncated"], False, header)
                        self.assertEqual(err, b"")
                        # Which request it answers, and that it is whole. Building each expected output in
                        # Python would take most of the time budget, so only the ends are compared byte for
                        # byte, except for the first and last reply of each connection.
                        start = first_number(c, i)
                        self.assertEqual(len(out), REPLY_BYTES, (c, i))
                        self.assertEqual(out.count(b"\n"), LINES, (c, i))
                        self.assertEqual(out[:9], f"{start}\n".encode(), (c, i))
                        self.assertEqual(out[-9:], f"{start + LINES - 1}\n".encode(), (c, i))
                        if i in (0, REQUESTS - 1):
                            self.assertTrue(out == expected_output(c, i), f"connection {c}, reply {i}: wrong output")
                elapsed = time.monotonic() - read_start
                print(f"read {CONNECTIONS * REQUESTS} replies in {elapsed:.2f} s")
                self.assertLess(elapsed, scaled(15.0, 40.0))
            finally:
                for s in socks:
                    s.close()
            assert_clean_log(d.log())


class PluginGoneWhileUnread(unittest.TestCase):
    def test_an_unread_reply_outliving_its_plugin_library_is_freed_safely(self):
        # The reply is a send_owned buffer whose free function lives in remote-cmd.so. A reload puts another
        # plugin on the address; the old connection keeps the old instance, the last one of remote-cmd. When
        # that connection goes, the instance and the library go too: the buffer must be freed before that,
        # not by a call into unloaded code.
        port = free_port()
        cmd = remote_cmd_listener("svc", tcp(port), protocol="framed", allow=["seq"], max_output="16MiB")
        echo = {"name": "svc", "listen": tcp(port), "plugin": "echo-upper"}
        with Ringd(listeners=[cmd]) as d:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # most of the reply stays in ringd's queue
            s.settimeout(10)
            s.connect(("127.0.0.1", port))
            # An 8 MB reply: more than the kernel's send buffer (at most 4 MB) takes off ringd's queue.
            s.sendall(frame({"argv": ["seq", "1", "1200000"]}))
            s.recv(1)
            time.sleep(1.0)
            self.assertIn("reload complete", d.reload(config_yaml([echo])))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()  # reset: the connection goes with its reply unsent
            time.sleep(0.5)
            self.assertTrue(d.alive(), "ringd died when the old plugin's last connection went:\n" + d.log())
            with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
                c.sendall(b"still here")
                self.assertEqual(c.recv(64), b"STILL HERE")
            d.assert_exits_cleanly()

if __name__ == "__main__":
    main()
