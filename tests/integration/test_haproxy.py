"""A real HAProxy (Debian's `haproxy`, 2.6 here) in front of two ringd processes, over loopback: HAProxy runs in
`mode tcp` with `send-proxy-v2` on both server lines and `option httpchk GET /healthz` against each ringd's admin
port; the ringds run the `whoami` test plugin on listeners with `proxy_protocol: v2` and
`proxy_trusted: [127.0.0.1/32]` (HAProxy connects from 127.0.0.1). Clients bind distinct loopback sources
(127.0.0.2, 127.0.0.3, ...) so that what ringd decides per client can be told apart: the address a plugin sees,
`deny:`, `max_connections_per_source`, a forged header from outside proxy_trusted, and a drain (SIGUSR2) under
load moving traffic to the other ringd. Every process is ended by PID; every wait is bounded. Skipped when
haproxy is absent. Label `haproxy`."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from admin_client import admin_config, scrape, value
from ringd_harness import Ringd, closed_by_peer, free_ports, listener, main, recv_exactly, tcp, test_plugin, wait_until

HAPROXY = shutil.which("haproxy")
DENIED = "127.0.0.4"


def connect_from(source, port, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def read_line(sock, timeout=10.0):
    """One line, or None when the connection ends (closed or reset) before a newline."""
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        try:
            chunk = sock.recv(1)
        except ConnectionResetError:
            return None
        if not chunk:
            return None
        line += chunk
    return line.decode()


def haproxy_config(stats_path, frontends, ringds):
    """`frontends`: [(port, balance)]; each gets a backend of every ringd as (listener port, admin port)."""
    text = ("global\n  maxconn 1000\n  stats socket " + stats_path + " level admin\n"
            "defaults\n  mode tcp\n  timeout connect 2s\n  timeout client 20s\n  timeout server 20s\n"
            "  timeout check 1s\n")
    for i, (port, balance) in enumerate(frontends):
        text += f"frontend fe{i}\n  bind 127.0.0.1:{port}\n  default_backend be{i}\n"
        text += f"backend be{i}\n  balance {balance}\n  option httpchk GET /healthz\n"
        for j, (app, admin) in enumerate(ringds):
            text += (f"  server r{j} 127.0.0.1:{app} send-proxy-v2 check port {admin} inter 200ms fall 1 rise 2\n")
    return text


class HAProxy:
    """haproxy in the foreground (-db) with a temp config; stop() ends it by PID."""

    def __init__(self, config_text, tmp):
        self.tmp = tmp
        self.stats = os.path.join(tmp, "haproxy.sock")
        self.config = os.path.join(tmp, "haproxy.cfg")
        with open(self.config, "w") as f:
            f.write(config_text.replace("@STATS@", self.stats))
        self.log_path = os.path.join(tmp, "haproxy.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config], stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)

    def command(self, line):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.stats)
            s.sendall(line.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def server_status(self):
        """{(backend, server): status} from `show stat` ("UP", "DOWN", "UP 1/2", ...)."""
        rows = self.command("show stat").splitlines()
        header = rows[0].lstrip("# ").split(",")
        status = {}
        for row in rows[1:]:
            fields = dict(zip(header, row.split(",")))
            if fields.get("svname") not in (None, "FRONTEND", "BACKEND"):
                status[(fields["pxname"], fields["svname"])] = fields["status"]
        return status

    def wait_servers(self, want, timeout=20.0):
        def reached():
            try:
                return all(s == want for s in self.server_status().values())
            except OSError:
                return False
        try:
            wait_until(reached, timeout=timeout, interval=0.1, what=f"every haproxy server {want}")
        except AssertionError:
            raise AssertionError(f"haproxy servers never all {want}; log:\n{self.log_text()}")

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # by PID: Popen.terminate sends SIGTERM to this process only
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@unittest.skipIf(HAPROXY is None, "haproxy not installed (Debian package haproxy; `make test` installs it)")
class BehindHAProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ringd-haproxy-")
        (app0, app1, admin0, admin1, cls.by_source, cls.round_robin) = free_ports(6)
        cls.admins = (admin0, admin1)
        cls.ringds = []
        for app, admin in ((app0, admin0), (app1, admin1)):
            entry = listener("app", tcp(app), test_plugin("whoami"), proxy_protocol="v2",
                             proxy_trusted=["127.0.0.1/32"], deny=[f"{DENIED}/32"],
                             limits={"max_connections_per_source": 1})
            config = admin_config(admin)
            config["drain_grace"] = "1s"
            d = Ringd(listeners=[entry], config=config)
            cls.ringds.append(d)
            d.start()
        cls.apps = (app0, app1)
        cls.haproxy = HAProxy(haproxy_config("@STATS@", [(cls.by_source, "source"), (cls.round_robin, "roundrobin")],
                                             list(zip(cls.apps, cls.admins))), cls.tmp.name)
        try:
            cls.haproxy.wait_servers("UP")
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.haproxy.stop()
        for d in cls.ringds:
            d.cleanup()
        cls.tmp.cleanup()

    def served_line(self, source, port=None):
        s = connect_from(source, port or self.by_source)
        line = read_line(s)
        return line, s

    def test_a_plugin_sees_the_client_address_haproxy_names(self):
        line, s = self.served_line("127.0.0.2")
        with s:
            self.assertEqual(line, f"peer=127.0.0.2:{s.getsockname()[1]} local=127.0.0.1:{self.by_source}\n")
            s.sendall(b"through haproxy")
            self.assertEqual(recv_exactly(s, 15), b"through haproxy")

    def test_deny_refuses_exactly_the_denied_client(self):
        denied = connect_from(DENIED, self.by_source)
        with denied:
            self.assertIsNone(read_line(denied, timeout=5), f"{DENIED} was served although denied")
        for source in ("127.0.0.6", "127.0.0.7"):
            line, s = self.served_line(source)
            s.close()
            self.assertTrue(line and line.startswith(f"peer={source}:"), line)

    def test_max_connections_per_source_limits_one_source_while_another_is_served(self):
        # `balance source`: every connection of one client source goes to the same ringd.
        line, first = self.served_line("127.0.0.8")
        with first:
            self.assertTrue(line and line.startswith("peer=127.0.0.8:"), line)
            second = connect_from("127.0.0.8", self.by_source)
            with second:
                self.assertIsNone(read_line(second, timeout=5), "a second connection of one source was served")
            line, other = self.served_line("127.0.0.9")
            other.close()
            self.assertTrue(line and line.startswith("peer=127.0.0.9:"), line)
        # The limit counts open connections: with the first closed, the source is served again.
        def served_again():
            line, s = self.served_line("127.0.0.8")
            s.close()
            return line is not None
        wait_until(served_again, timeout=10, what="127.0.0.8 to be served again")

    def test_a_forged_header_from_outside_proxy_trusted_is_refused(self):
        header = (b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11, 0, 12]) + socket.inet_aton("203.0.113.7") +
                  socket.inet_aton("192.0.2.1") + (40000).to_bytes(2, "big") + (80).to_bytes(2, "big"))
        for app in self.apps:
            s = connect_from("127.0.0.5", app)
            with s:
                try:
                    s.sendall(header + b"forged")
                except (BrokenPipeError, ConnectionResetError):
                    continue
                self.assertTrue(closed_by_peer(s, 5), "a header from 127.0.0.5 (not in proxy_trusted) was read")

    def test_zz_drain_moves_traffic_to_the_other_ringd_without_client_errors(self):
        """Runs last (it drains ringd 0 for good): a bounded load through the round-robin frontend, SIGUSR2 to
        ringd 0 midway; HAProxy's /healthz check marks it down before its listeners stop accepting."""
        def accepted(i):
            return value(scrape(self.admins[i]), "ringd_connections_accepted_total", listener="app")

        errors, done = [], []
        stop, stop_at = threading.Event(), time.monotonic() + 30  # bounded: 2,000 connections or 30 s per client

        def client(source):
            n = 0
            while n < 2000 and not stop.is_set() and time.monotonic() < stop_at:
                try:
                    s = connect_from(source, self.round_robin, timeout=5)
                    with s:
                        line = read_line(s, timeout=5)
                        if line is None or not line.startswith(f"peer={source}:"):
                            raise AssertionError(f"{source}: {line!r}")
                        s.sendall(b"ping")
                        recv_exactly(s, 4, timeout=5)
                except (OSError, AssertionError) as e:
                    errors.append(repr(e))
                n += 1
                time.sleep(0.01)
            done.append(n)

        threads = [threading.Thread(target=client, args=(f"127.0.1.{i}",)) for i in range(1, 5)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        before = (accepted(0), accepted(1))
        os.kill(self.ringds[0].pid, signal.SIGUSR2)
        wait_until(lambda: all(s != "UP" for (_, name), s in self.haproxy.server_status().items() if name == "r0"),
                   timeout=5, what="haproxy to mark the draining ringd down")
        time.sleep(2.0)  # past drain_grace: ringd 0's listener no longer accepts
        mid = (accepted(0), accepted(1))
        time.sleep(1.0)
        after = (accepted(0), accepted(1))
        stop.set()
        for t in threads:
            t.join(timeout=40)
        self.assertEqual(errors, [], "clients saw errors during the drain")
        self.assertEqual(after[0], mid[0], "the drained ringd still took connections after drain_grace")
        self.assertGreater(after[1], mid[1], "the other ringd took no traffic after the drain")
        self.assertGreater(before[0], 0, "ringd 0 took no traffic before the drain")
        self.assertEqual(len(done), 4, "a client thread did not finish")


if __name__ == "__main__":
    main()
