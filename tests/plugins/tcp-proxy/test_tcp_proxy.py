"""tcp-proxy against the real daemon, over loopback: ringd relays each client to upstream servers that this test
runs (Python, in threads): 1 GiB byte-exact both ways in random segments, half-close both ways, backpressure
both ways with ringd's RSS measured, a dead upstream skipped and logged, all upstreams down, unix and IPv6
upstreams, least_connections, send_proxy v1 and v2 (parsed here by hand), and 1,000 proxied connections without a thread or a descriptor left behind."""

import hashlib
import os
import random
import select
import socket
import struct
import tempfile
import threading
import time
import unittest

from ringd_harness import (Ringd, connect, free_port, listener, main, recv_exactly, recv_until_eof, scaled, tcp,
                           wait_until)

KIB, MIB = 1 << 10, 1 << 20


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Upstream:
    """A loopback stream server: one thread per connection runs serve(conn, index). Counts what it accepted and
    what is open. `url` is its address in the proxy's `upstreams:` grammar."""

    def __init__(self, serve, family=socket.AF_INET, path=None):
        self.serve = serve
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            self.sock.bind(path)
            self.url = "unix://" + path
        else:
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            self.sock.bind((host, 0))
            self.url = tcp(self.sock.getsockname()[1], host)
        self.sock.listen(4096)
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.conns = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                index = self.accepted
                self.accepted += 1
                self.open += 1
                self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()

    def _run(self, conn, index):
        try:
            self.serve(conn, index)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
            conn.close()

    def close(self):
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def serve_echo(conn, _index):
    while data := conn.recv(256 * KIB):
        conn.sendall(data)


def closed_port():
    """A loopback port nothing listens on: connects to it are refused."""
    return free_port()


def stream_chunks(total, seed):
    """`total` bytes of a pseudo-random stream in random segment sizes (1 byte to 256 KiB), as memoryviews into a
    16 MiB random block at random offsets, so the stream never repeats in a way that could hide a reordering."""
    rng = random.Random(seed)
    block = memoryview(rng.randbytes(16 * MIB))
    left = total
    while left:
        n = min(left, rng.choice((1, 7, 100, 1460, 4096, 65536, 200_000, 256 * KIB)))
        at = rng.randrange(0, len(block) - n)
        yield block[at:at + n]
        left -= n


class ProxyCase(unittest.TestCase):
    workers = 2

    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for c in reversed(self.cleanups):
            c()

    def upstream(self, serve=serve_echo, **kw):
        u = Upstream(serve, **kw)
        self.cleanups.append(u.close)
        return u

    def proxy(self, upstreams, limits=None, **config):
        """A ringd whose listener "proxy" relays to `upstreams` (urls); returns (ringd, port)."""
        port = free_port()
        extra = {"limits": limits} if limits else {}
        d = Ringd(listeners=[listener("proxy", tcp(port), "tcp-proxy", {"upstreams": upstreams, **config}, **extra)],
                  workers=self.workers)
        d.start()
        self.cleanups.append(d.cleanup)
        return d, port


class Relaying(ProxyCase):
    def test_1gib_byte_exact_both_ways_in_random_segments(self):
        total = scaled(1 << 30, 64 * MIB)
        received_upstream = hashlib.sha256()

        def hashing_echo(conn, _index):
            while data := conn.recv(256 * KIB):
                received_upstream.update(data)
                conn.sendall(data)

        u = self.upstream(hashing_echo)
        d, port = self.proxy([u.url])
        sent, back = hashlib.sha256(), hashlib.sha256()
        got = [0]
        with connect(port, timeout=60) as c:
            def reader():
                while chunk := c.recv(1 * MIB):
                    back.update(chunk)
                    got[0] += len(chunk)
            t = threading.Thread(target=reader)
            t.start()
            started = time.monotonic()
            for chunk in stream_chunks(total, seed=12):
                sent.update(chunk)
                c.sendall(chunk)
            c.shutdown(socket.SHUT_WR)  # the echo ends, the upstream closes, the proxy closes the client
            t.join(timeout=scaled(120, 300))
            self.assertFalse(t.is_alive(), f"the echo stalled after {got[0]} of {total} bytes")
            elapsed = time.monotonic() - started
        print(f"{total / MIB:.0f} MiB each way through the proxy in {elapsed:.1f}s")
        self.assertEqual(got[0], total)
        self.assertEqual(received_upstream.hexdigest(), sent.hexdigest(), "client -> upstream differs")
        self.assertEqual(back.hexdigest(), sent.hexdigest(), "upstream -> client differs")
        d.assert_exits_cleanly()

    def test_a_message_relayed_in_two_sends_is_not_held_for_a_delayed_ack(self):
        # Both peers send each 30,000-byte message in two parts, 2 ms apart, and answer only a whole message, so the
        # proxy relays each message in two sends each way. With Nagle's algorithm on either of the proxy's sockets
        # the second send waited for the peer's ACK of the first, which a peer waiting for the rest delays by
        # 40 ms. ringd's accepted and outbound TCP sockets have TCP_NODELAY.
        size, first = 30000, 20000

        def send_in_two(sock, data):
            sock.sendall(data[:first])
            time.sleep(0.002)
            sock.sendall(data[first:])

        def whole_message_echo(conn, _index):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # its own sends leave at once
            while True:
                try:
                    data = recv_exactly(conn, size)
                except AssertionError:  # the client is done
                    return
                send_in_two(conn, data)

        u = self.upstream(whole_message_echo)
        d, port = self.proxy([u.url])
        message = random.Random(5).randbytes(size)
        with connect(port) as c:
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            times = []
            for _ in range(21):
                started = time.monotonic()
                send_in_two(c, message)
                self.assertEqual(recv_exactly(c, size), message)
                times.append(time.monotonic() - started)
        median = sorted(times)[len(times) // 2]
        self.assertLess(median, 0.025, f"round trips of {size} bytes took {median * 1000:.1f} ms (median)")
        d.assert_exits_cleanly()

    def test_unix_upstream(self):
        with tempfile.TemporaryDirectory(prefix="tcp-proxy-") as tmp:
            u = self.upstream(path=os.path.join(tmp, "app.sock"), family=socket.AF_UNIX)
            d, port = self.proxy([u.url])
            with connect(port) as c:
                c.sendall(b"over a unix socket")
                self.assertEqual(recv_exactly(c, 18), b"over a unix socket")
            d.assert_exits_cleanly()

    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback (::1) here")
    def test_ipv6_upstream_and_ipv6_clients(self):
        u = self.upstream(family=socket.AF_INET6)
        port = free_port(family=socket.AF_INET6)
        d = Ringd(listeners=[listener("proxy", tcp(port, "::1"), "tcp-proxy", {"upstreams": [u.url]})])
        d.start()
        self.cleanups.append(d.cleanup)
        with connect(port, host="::1") as c:
            c.sendall(b"six")
            self.assertEqual(recv_exactly(c, 3), b"six")
        d.assert_exits_cleanly()


class HalfClose(ProxyCase):
    def test_client_shutdown_reaches_the_upstream_which_still_replies(self):
        def count_then_reply(conn, _index):
            conn.sendall(b"ready")
            n = len(recv_until_eof(conn, timeout=10))  # ends only at the client's FIN, relayed
            conn.sendall(b"got %d bytes" % n)

        u = self.upstream(count_then_reply)
        d, port = self.proxy([u.url])
        with connect(port) as c:
            self.assertEqual(recv_exactly(c, 5), b"ready")  # relaying (a FIN during the connect: plugin_test.cpp)
            c.sendall(b"x" * 100_000)
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(recv_until_eof(c), b"got 100000 bytes")
        d.assert_exits_cleanly()

    def test_upstream_close_reaches_the_client_after_every_byte_and_the_client_can_still_send(self):
        payload = random.Random(3).randbytes(3 * MIB)
        heard = []

        def send_then_listen(conn, _index):
            conn.sendall(payload)
            conn.shutdown(socket.SHUT_WR)
            heard.append(recv_until_eof(conn, timeout=10))

        u = self.upstream(send_then_listen)
        d, port = self.proxy([u.url])
        with connect(port) as c:
            self.assertEqual(recv_until_eof(c), payload)  # EOF only after all 3 MiB
            c.sendall(b"after your FIN")
            c.shutdown(socket.SHUT_WR)
            wait_until(lambda: heard, what="the upstream to see the client's bytes and FIN")
            self.assertEqual(heard, [b"after your FIN"])
        d.assert_exits_cleanly()


class Backpressure(ProxyCase):
    """A peer that does not read must not grow ringd's memory past the configured buffers: the proxy stops reading
    the other side. Bound: `buffer` for the stalled direction, plus the worker's cache of free 16 KiB output
    blocks (256 of them: 4 MiB) and 4 MiB for the allocator and receive buffers touched for the first time."""

    buffer = 1 * MIB
    bound_kib = (buffer + 8 * MIB) // KIB
    push = 200 * MIB

    def warm_up(self, port):
        # Every provided receive buffer (2,048 x 4 KiB per worker) and the output block cache get touched here,
        # so the measurement below sees growth, not first use.
        for _ in range(2):
            with connect(port) as c:
                echoed = []
                reader = threading.Thread(target=lambda: echoed.append(len(recv_until_eof(c, limit=1 << 30))))
                reader.start()
                c.sendall(b"w" * (16 * MIB))
                c.shutdown(socket.SHUT_WR)
                reader.join(30)
                self.assertEqual(echoed, [16 * MIB])
        time.sleep(0.2)

    def test_an_upstream_that_does_not_read_stops_reading_the_client(self):
        gate = threading.Event()
        counted = []

        def reads_when_let(conn, index):
            if index < 2:
                return serve_echo(conn, index)  # the warm-up
            gate.wait(120)
            counted.append(len(recv_until_eof(conn, timeout=30, limit=1 << 30)))

        u = self.upstream(reads_when_let)
        d, port = self.proxy([u.url], buffer="1MiB")
        self.warm_up(port)
        rss_before = d.rss_kib()
        with connect(port) as c:
            sent, blocked = push_until_blocked(c, self.push, block_for=2.0, time_limit=scaled(30, 60))
            growth = d.rss_kib() - rss_before
            print(f"client pushed {sent / MIB:.1f} MiB, blocked={blocked}; ringd RSS +{growth} KiB")
            self.assertTrue(blocked, f"ringd took {sent} bytes for an upstream that reads nothing")
            self.assertLess(growth, self.bound_kib)
            # Paused, not broken: once the upstream reads, every byte arrives.
            gate.set()
            c.setblocking(True)
            c.shutdown(socket.SHUT_WR)
            wait_until(lambda: counted, timeout=30, what="the upstream to read everything")
        self.assertEqual(counted, [sent])
        d.assert_exits_cleanly()

    def test_a_client_that_does_not_read_stops_reading_the_upstream(self):
        pushed = []

        def push_without_end(conn, index):
            if index < 2:
                return serve_echo(conn, index)
            sent, blocked = push_until_blocked(conn, self.push, block_for=2.0, time_limit=scaled(30, 60))
            pushed.append((sent, blocked))
            conn.setblocking(True)

        u = self.upstream(push_without_end)
        d, port = self.proxy([u.url], buffer="1MiB")
        self.warm_up(port)
        rss_before = d.rss_kib()
        with connect(port) as c:
            wait_until(lambda: pushed, timeout=scaled(40, 70), what="the upstream to be blocked")
            growth = d.rss_kib() - rss_before
            sent, blocked = pushed[0]
            print(f"upstream pushed {sent / MIB:.1f} MiB, blocked={blocked}; ringd RSS +{growth} KiB")
            self.assertTrue(blocked, f"ringd took {sent} bytes for a client that reads nothing")
            self.assertLess(growth, self.bound_kib)
            self.assertEqual(len(recv_exactly(c, sent, timeout=30)), sent)  # and it all arrives once read
        d.assert_exits_cleanly()


def push_until_blocked(sock, total, block_for, time_limit, chunk=b"p" * (256 * KIB)):
    """Writes up to `total` bytes without reading; stops once the socket stayed unwritable for `block_for` seconds
    (backpressure) or after `time_limit`. Returns (bytes written, blocked?)."""
    sock.setblocking(False)
    sent = 0
    deadline = time.monotonic() + time_limit
    while sent < total and time.monotonic() < deadline:
        _, writable, _ = select.select([], [sock], [], block_for)
        if not writable:
            return sent, True
        try:
            sent += sock.send(chunk[:min(len(chunk), total - sent)])
        except BlockingIOError:
            continue
    return sent, False


class UpstreamHealth(ProxyCase):
    def test_a_dead_upstream_is_skipped_and_logged_down_once(self):
        u = self.upstream()
        dead = tcp(closed_port())
        d, port = self.proxy([dead, u.url], down_time="30s")
        for i in range(6):
            with connect(port) as c:
                c.sendall(b"client %d" % i)
                self.assertEqual(recv_exactly(c, 8), b"client %d" % i)
        self.assertEqual(u.accepted, 6)
        self.assertEqual(d.log().count(f"upstream {dead} is down (connect: Connection refused); skipping it for 30s"),
                         1, d.log())
        d.assert_exits_cleanly()

    def test_every_upstream_down_closes_the_client_promptly(self):
        d, port = self.proxy([tcp(closed_port()), tcp(closed_port())])
        for _ in range(3):  # the first finds both refused, the next ones find both marked down
            started = time.monotonic()
            with connect(port) as c:
                c.sendall(b"anyone?")
                # A FIN, or a reset when the close overtook "anyone?" (then unread in ringd's socket): closed either way.
                try:
                    self.assertEqual(recv_until_eof(c, timeout=5), b"")
                except ConnectionResetError:
                    pass
            self.assertLess(time.monotonic() - started, scaled(0.5, 2.0))
        d.assert_exits_cleanly()

    def test_a_hanging_upstream_is_given_up_after_connect_timeout(self):
        # A loopback listener with a full accept queue: the kernel drops further SYNs, so connects hang.
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        filler = socket.create_connection(full.getsockname(), timeout=2)
        self.cleanups += [full.close, filler.close]
        u = self.upstream()
        d, port = self.proxy([tcp(full.getsockname()[1]), u.url], connect_timeout="300ms", balance="round_robin")
        for _ in range(2):  # round robin starts one of them at the hanging upstream
            started = time.monotonic()
            with connect(port) as c:
                c.sendall(b"ping")
                self.assertEqual(recv_exactly(c, 4), b"ping")
            self.assertLess(time.monotonic() - started, 0.3 + scaled(0.7, 2.0))
        self.assertIn("is down (connect: Connection timed out)", d.log())
        d.assert_exits_cleanly()


class Balancing(ProxyCase):
    def test_least_connections_sends_new_clients_to_the_emptier_upstream(self):
        def named(name):
            def serve(conn, _index):
                while conn.recv(4096):
                    conn.sendall(name)
            return serve

        a, b = self.upstream(named(b"a")), self.upstream(named(b"b"))
        d, port = self.proxy([a.url, b.url], balance="least_connections")

        def open_client():
            c = connect(port)
            c.sendall(b"?")
            return c, recv_exactly(c, 1)

        held = [open_client() for _ in range(4)]
        self.assertEqual(sorted(name for _, name in held), [b"a", b"a", b"b", b"b"])
        # The two on `a` leave. The next two clients both go to `a` (0 open against 2); round robin would split
        # them.
        for c, name in held:
            if name == b"a":
                c.close()
        wait_until(lambda: a.open == 0, what="a's connections to close")
        later = [open_client() for _ in range(2)]
        self.assertEqual([name for _, name in later], [b"a", b"a"])
        for c, _ in held + later:
            c.close()
        d.assert_exits_cleanly()


class Scale(ProxyCase):
    def test_1000_proxied_connections_add_no_thread_and_leave_no_descriptor(self):
        n = scaled(1000, 400)
        u = self.upstream()
        d, port = self.proxy([u.url])

        def threads():
            with open(f"/proc/{d.pid}/status") as f:
                return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))

        with connect(port) as c:  # the first connection is served: workers are up
            c.sendall(b"0")
            recv_exactly(c, 1)
        wait_until(lambda: u.open == 0, what="the first upstream connection to close")
        threads_before, fds_before = threads(), d.open_fds()
        clients = []
        try:
            for i in range(n):
                clients.append(connect(port))
            for i, c in enumerate(clients):
                c.sendall(b"%04d" % i)
            for i, c in enumerate(clients):
                self.assertEqual(recv_exactly(c, 4), b"%04d" % i)
            self.assertEqual(u.open, n)
            self.assertEqual(d.open_fds(), fds_before + 2 * n)
            self.assertEqual(threads(), threads_before)
        finally:
            for c in clients:
                c.close()
        wait_until(lambda: d.open_fds() == fds_before, timeout=scaled(10, 30), what="ringd's descriptors to go back")
        wait_until(lambda: u.open == 0, what="every upstream connection to close")
        self.assertEqual(threads(), threads_before)
        d.assert_exits_cleanly()


V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def read_proxy_header(conn):
    """Reads one PROXY header (v1 or v2, TCP over IPv4) off `conn`, parsed by hand from the spec; returns
    (version, (source ip, port), (destination ip, port)) and leaves the bytes after it unread."""
    first = recv_exactly(conn, 16)
    if first.startswith(b"PROXY "):
        line = first
        while not line.endswith(b"\r\n"):
            line += recv_exactly(conn, 1)
            assert len(line) <= 107, line
        proto, src, dst, sport, dport = line[6:-2].decode("ascii").split(" ")
        assert proto == "TCP4", line
        return 1, (src, int(sport)), (dst, int(dport))
    assert first[:12] == V2_SIGNATURE, first
    assert first[12] == 0x21 and first[13] == 0x11, first  # v2 PROXY, TCP over IPv4
    body = recv_exactly(conn, struct.unpack("!H", first[14:16])[0])
    src, dst, sport, dport = struct.unpack("!4s4sHH", body[:12])
    return 2, (socket.inet_ntoa(src), sport), (socket.inet_ntoa(dst), dport)


class SendProxy(ProxyCase):
    def check_header_first(self, version):
        headers = []

        def header_then_echo(conn, _index):
            headers.append(read_proxy_header(conn))
            serve_echo(conn, _index)

        u = self.upstream(header_then_echo)
        d, port = self.proxy([u.url], send_proxy=version)
        for source in ("127.0.0.2", "127.0.0.3"):
            with socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0)) as c:
                c.sendall(b"after the header")
                self.assertEqual(recv_exactly(c, 16), b"after the header")
                want = (int(version[1]), c.getsockname(), ("127.0.0.1", port))
            self.assertEqual(headers[-1], want)
        self.assertEqual(len(headers), 2)
        d.assert_exits_cleanly()

    def test_v1_header_names_the_client_and_comes_first(self):
        self.check_header_first("v1")

    def test_v2_header_names_the_client_and_comes_first(self):
        self.check_header_first("v2")

    def test_without_send_proxy_the_upstream_gets_only_the_client_bytes(self):
        u = self.upstream()
        d, port = self.proxy([u.url])
        with connect(port) as c:
            c.sendall(b"PLAIN")
            self.assertEqual(recv_exactly(c, 5), b"PLAIN")
        d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
