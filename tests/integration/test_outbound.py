"""Outbound connections (ABI 1.1 host->connect) against the real binary, through the relay test plugin: a
client's first line "CONNECT <addr> ..." makes ringd open a connection to a Python server on loopback (IPv4,
IPv6, a Unix socket) and relay both ways; "BURST <n> <addr>" opens many at once (tests/plugins/test-plugins/
relay.cpp). The relay tells the client "OK", "FAIL <error>", "ERR <error>" (connect() itself refused) and
"CLOSED <on_close reason>".

A connect that must hang goes to a loopback listener whose accept queue is full (backlog 0 and one connection
waiting), where the kernel drops further SYNs: it stays on the machine and ends with the connect timeout."""

import errno
import os
import signal
import socket
import struct
import tempfile
import threading
import time
import unittest

from ringd_harness import (Ringd, config_yaml, free_port, listener, main, recv_exactly, recv_until_eof, scaled,
                           socket_option_of, tcp, test_plugin, wait_until)

RELAY = test_plugin("relay")


class Upstream:
    """A loopback stream server in a thread: echoes what it reads (mode "echo") or only holds connections open
    (mode "hold"), closing its side at the client's EOF. Counts accepted and currently open connections."""

    def __init__(self, family=socket.AF_INET, mode="echo", path=None):
        self.family, self.mode = family, mode
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family == socket.AF_UNIX:
            self.sock.bind(path)
            self.address = "unix:" + path
        else:
            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            self.sock.bind((host, 0))
            port = self.sock.getsockname()[1]
            self.address = f"[::1]:{port}" if family == socket.AF_INET6 else f"127.0.0.1:{port}"
        self.sock.listen(1024)
        self.lock = threading.Lock()
        self.accepted = 0
        self.open = 0
        self.conns = []
        self.stopping = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.accepted += 1
                self.open += 1
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    break
                if self.mode == "echo":
                    conn.sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.open -= 1
            try:
                conn.close()
            except OSError:
                pass

    def close(self):
        self.sock.close()
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class FullBacklog:
    """A loopback TCP listener nobody accepts from, with its accept queue full: connects to it hang."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.address = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.filler = socket.create_connection(self.sock.getsockname(), timeout=2)

    def close(self):
        self.filler.close()
        self.sock.close()


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def reset(sock):
    """Closes `sock` with a reset (SO_LINGER 0), so ringd sees the client gone, not half-closed."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def read_line(sock, timeout=10.0):
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        c = sock.recv(1)
        if not c:
            raise AssertionError(f"EOF after {line!r}")
        line += c
    return line.decode().rstrip("\n")


class RelayCase(unittest.TestCase):
    workers = 2
    limits = None

    def setUp(self):
        self.port = free_port()
        extra = {"limits": self.limits} if self.limits else {}
        self.ringd = Ringd(listeners=[listener("relay", tcp(self.port), RELAY, **extra)], workers=self.workers)
        self.ringd.start()
        self.cleanups = []

    def tearDown(self):
        try:
            if self.ringd.alive():
                self.ringd.assert_exits_cleanly()
        finally:
            self.ringd.cleanup()
            for c in reversed(self.cleanups):
                c()

    def upstream(self, **kw):
        u = Upstream(**kw)
        self.cleanups.append(u.close)
        return u

    def client(self, line, extra=b""):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.cleanups.append(s.close)
        s.sendall(line.encode() + b"\n" + extra)
        return s


class TestRelay(RelayCase):
    def relay_roundtrip(self, upstream):
        c = self.client(f"CONNECT {upstream.address}", b"early bytes|")
        self.assertEqual(read_line(c), "OK")
        self.assertEqual(recv_exactly(c, 12), b"early bytes|")  # queued while connecting, sent once connected
        c.sendall(b"later")
        self.assertEqual(recv_exactly(c, 5), b"later")
        c.shutdown(socket.SHUT_WR)  # the relay half-closes upstream; the echo server closes; so does the relay
        self.assertEqual(recv_until_eof(c), b"CLOSED 0\n")  # RINGD_CLOSE_PEER
        wait_until(lambda: upstream.open == 0, what="upstream connection closed")

    def test_ipv4(self):
        self.relay_roundtrip(self.upstream())

    @unittest.skipUnless(ipv6_loopback(), "no IPv6 loopback here")
    def test_ipv6(self):
        self.relay_roundtrip(self.upstream(family=socket.AF_INET6))

    def test_unix_socket(self):
        tmp = tempfile.TemporaryDirectory(prefix="ringd-outbound-")
        self.cleanups.append(tmp.cleanup)
        self.relay_roundtrip(self.upstream(family=socket.AF_UNIX, path=os.path.join(tmp.name, "up.sock")))

    def test_outbound_tcp_sockets_send_without_nagle(self):
        up = self.upstream()
        c = self.client(f"CONNECT {up.address}")
        self.assertEqual(read_line(c), "OK")
        up_port = int(up.address.rsplit(":", 1)[1])
        nodelay = socket_option_of(self.ringd.pid, socket.IPPROTO_TCP, socket.TCP_NODELAY, up_port)
        self.assertIsNotNone(nodelay, "ringd's outbound socket not found")
        self.assertNotEqual(nodelay, 0, "Nagle's algorithm is on for the outbound socket, unlike accepted ones")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(c), b"CLOSED 0\n")

    def test_connect_from_a_timer(self):
        up = self.upstream()
        c = self.client(f"CONNECT {up.address} d=50", b"from the timer")
        self.assertEqual(read_line(c), "OK")
        self.assertEqual(recv_exactly(c, 14), b"from the timer")

    def test_sends_queued_before_the_connect_arrive_in_order(self):
        up = self.upstream()
        payload = bytes((i * 7 + i // 251) % 256 for i in range(scaled(1 << 20, 1 << 18)))
        c = self.client(f"CONNECT {up.address}", payload)
        self.assertEqual(read_line(c), "OK")
        self.assertEqual(recv_exactly(c, len(payload), timeout=30), payload)

    def test_refused(self):
        dead = free_port()  # nothing listens there
        c = self.client(f"CONNECT 127.0.0.1:{dead}")
        self.assertEqual(read_line(c), f"FAIL {-errno.ECONNREFUSED}")
        self.assertEqual(recv_until_eof(c), b"CLOSED 3\n")  # on_close(RINGD_CLOSE_ERROR) right after

    def test_connect_timeout(self):
        hole = FullBacklog()
        self.cleanups.append(hole.close)
        started = time.monotonic()
        c = self.client(f"CONNECT {hole.address} t=300")
        self.assertEqual(read_line(c), f"FAIL {-errno.ETIMEDOUT}")
        elapsed = time.monotonic() - started
        self.assertEqual(recv_until_eof(c), b"CLOSED 3\n")
        self.assertGreaterEqual(elapsed, 0.29)
        self.assertLess(elapsed, 3.0)

    def test_a_replaced_instance_opens_no_new_connections(self):
        up = self.upstream()
        old = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.cleanups.append(old.close)
        time.sleep(0.1)  # accepted by the first instance
        self.ringd.reload(config_yaml([listener("relay", tcp(self.port), RELAY, config={"generation": 2})],
                                      workers=self.workers))
        old.sendall(f"CONNECT {up.address}\n".encode())
        self.assertEqual(read_line(old), f"ERR {-errno.ESHUTDOWN}")
        self.assertEqual(recv_until_eof(old), b"")
        fresh = self.client(f"CONNECT {up.address}", b"new")
        self.assertEqual(read_line(fresh), "OK")
        self.assertEqual(recv_exactly(fresh, 3), b"new")


class TestOutboundLimit(RelayCase):
    limits = {"max_outbound_connections": 2}

    def test_max_outbound_connections(self):
        up = self.upstream(mode="hold")
        first = self.client(f"CONNECT {up.address}")
        second = self.client(f"CONNECT {up.address}")
        self.assertEqual(read_line(first), "OK")
        self.assertEqual(read_line(second), "OK")
        third = self.client(f"CONNECT {up.address}")
        self.assertEqual(read_line(third), f"ERR {-errno.EAGAIN}")
        first.close()  # its outbound connection closes too, and admits a successor
        deadline = time.monotonic() + 5
        while True:
            again = self.client(f"CONNECT {up.address}")
            line = read_line(again)
            if line == "OK" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(line, "OK")

    def test_a_cancelled_connect_frees_its_place_at_once(self):
        hole = FullBacklog()
        self.cleanups.append(hole.close)
        up = self.upstream()
        for _ in range(2):
            c = self.client(f"CONNECT {hole.address} t=60000")
            time.sleep(0.1)
            reset(c)  # the relay closes the outbound connection with its client: the connect is cancelled
        time.sleep(0.2)
        for _ in range(2):
            c = self.client(f"CONNECT {up.address}")
            self.assertEqual(read_line(c), "OK")


class TestIdle(RelayCase):
    limits = {"idle_timeout": "1s"}

    def busy_until(self, c, lines, timeout=5.0):
        """Keeps client `c` busy (its input is discarded in detach mode) until `lines` lines have arrived."""
        c.settimeout(0.2)
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and got.count(b"\n") < lines:
            c.sendall(b".")
            try:
                got += c.recv(100)
            except socket.timeout:
                pass
        return got

    def test_idle_timeout_closes_an_idle_outbound_connection(self):
        up = self.upstream()
        c = self.client(f"CONNECT {up.address} detach")  # the outbound side carries nothing from now on
        self.assertEqual(read_line(c), "OK")
        started = time.monotonic()
        self.assertEqual(self.busy_until(c, 1), b"CLOSED 2\n")  # RINGD_CLOSE_IDLE, for the outbound connection
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        wait_until(lambda: up.open == 0, what="the upstream server to see the close")

    def test_idle_timeout_also_ends_a_connect_that_takes_too_long(self):
        hole = FullBacklog()
        self.cleanups.append(hole.close)
        c = self.client(f"CONNECT {hole.address} t=60000 detach")
        started = time.monotonic()
        self.assertEqual(self.busy_until(c, 2), f"FAIL {-errno.ETIMEDOUT}\nCLOSED 2\n".encode())
        self.assertGreaterEqual(time.monotonic() - started, 0.9)
        self.assertLess(time.monotonic() - started, 4.0)


class TestShutdownAndScale(RelayCase):
    workers = 1  # every connection on one worker, whose thread count and descriptors are measured

    def test_sigterm_closes_outbound_connections_also_while_connecting(self):
        up = self.upstream(mode="hold")
        hole = FullBacklog()
        self.cleanups.append(hole.close)
        established = self.client(f"CONNECT {up.address}")
        self.assertEqual(read_line(established), "OK")
        connecting = self.client(f"CONNECT {hole.address} t=60000")
        time.sleep(0.2)
        self.assertEqual(up.open, 1)
        fds = self.ringd.open_fds()
        started = time.monotonic()
        self.ringd.proc.send_signal(signal.SIGTERM)
        # Both outbound sockets close while the clients are still open (they linger until the clients' FIN, up
        # to shutdown_timeout, 5 s): the established one after its FIN exchange, the connecting one at once.
        wait_until(lambda: up.open == 0, timeout=2, what="the upstream server to see the close")
        wait_until(lambda: self.ringd.open_fds() == fds - 2, timeout=2, what="both outbound sockets closed")
        for c in (established, connecting):
            recv_until_eof(c)
            c.close()
        self.ringd.assert_exits_cleanly()
        self.assertLess(time.monotonic() - started, 2.5)

    def burst(self, n, address, hold=False):
        c = self.client(f"BURST {n} {address}" + (" hold" if hold else ""))
        return c

    def test_no_descriptor_leak_over_500_connects(self):
        up = self.upstream()
        n = scaled(500, 200)
        warm = self.burst(20, up.address)
        self.assertEqual(read_line(warm), "DONE ok=20 fail=0")
        wait_until(lambda: up.accepted == 20 and up.open == 0, what="warm-up connections closed upstream")
        before = self.ringd.open_fds()
        c = self.burst(n, up.address)
        self.assertEqual(read_line(c, timeout=60), f"DONE ok={n} fail=0")
        self.assertEqual(recv_until_eof(c), b"")
        # Python accepts more slowly than ringd connects: the last ones may still wait in its accept queue.
        wait_until(lambda: up.accepted == 20 + n and up.open == 0, timeout=30,
                   what="every burst connection accepted and closed upstream")
        wait_until(lambda: self.ringd.open_fds() == before, timeout=10,
                   what=f"ringd back to {before} descriptors")

    def test_thread_count_unchanged_with_500_outbound_connections(self):
        up = self.upstream(mode="hold")
        n = scaled(500, 200)
        tasks = lambda: len(os.listdir(f"/proc/{self.ringd.pid}/task"))
        before = tasks()
        c = self.burst(n, up.address, hold=True)
        self.assertEqual(read_line(c, timeout=60), f"OPEN ok={n} fail=0")
        wait_until(lambda: up.open == n, timeout=20, what=f"{n} upstream connections")
        self.assertEqual(tasks(), before)
        self.assertGreaterEqual(self.ringd.open_fds(), n)
        c.sendall(b"RELEASE\n")
        self.assertEqual(read_line(c, timeout=60), f"DONE ok={n} fail=0")
        wait_until(lambda: up.open == 0, timeout=20, what="released connections closed upstream")


if __name__ == "__main__":
    main()
