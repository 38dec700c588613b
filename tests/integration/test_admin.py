"""The admin listener against the real binary: /healthz through a drain (SIGUSR2), /status, moving the admin
listener by reload, every refused request with its status (and no harm to other clients), the request timeout
against a slow client, its `admin:` configuration checks, and `promtool check metrics` on a real scrape."""

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import threading
import time
import unittest

from admin_client import admin_config, get, parse_response, raw_request, scrape, value
from ringd_harness import (Ringd, check_config_text, config_yaml, connect, free_port, free_ports, listener, main,
                           recv_exactly, scaled, tcp, test_plugin, udp, wait_until)

GOOD = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def refused(port):
    """True if a TCP connect to 127.0.0.1:port is refused (nothing listens there)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def echoes(port):
    with connect(port) as s:
        s.sendall(b"ping")
        return recv_exactly(s, 4) == b"PING"


class Drain(unittest.TestCase):
    def test_healthz_turns_503_at_sigusr2_and_listeners_stop_after_drain_grace(self):
        admin, echo = free_ports(2)
        config = admin_config(admin)
        config["drain_grace"] = "1500ms"
        listeners = [listener("echo", tcp(echo), "echo-upper")]
        with Ringd(listeners=listeners, config=config) as d:
            self.assertEqual(get(admin, "/healthz")[:3:2], (200, b"ok\n"))
            held = connect(echo)  # open before the drain: it goes on
            held.sendall(b"a")
            self.assertEqual(recv_exactly(held, 1), b"A")
            os.kill(d.pid, signal.SIGUSR2)
            signalled = time.monotonic()
            wait_until(lambda: get(admin, "/healthz")[0] == 503, timeout=2, what="/healthz 503")
            status, _, body = get(admin, "/healthz")
            self.assertEqual((status, body), (503, b"draining\n"))
            if time.monotonic() - signalled < 1.0:
                self.assertTrue(echoes(echo), "listeners accept during drain_grace")
            wait_until(lambda: refused(echo), timeout=10, what="the echo listener to stop accepting")
            self.assertGreaterEqual(time.monotonic() - signalled, 1.4)
            # The admin listener still answers, and says why.
            self.assertEqual(json.loads(get(admin, "/status")[2])["state"], "draining")
            self.assertEqual(value(scrape(admin), "ringd_state", state="draining"), 1)
            held.sendall(b"b")
            self.assertEqual(recv_exactly(held, 1), b"B")  # open connections go on
            # A reload keeps it draining, and its listeners stopped.
            log = d.reload()
            self.assertIn("reload complete", log)
            self.assertEqual(get(admin, "/healthz")[0], 503)
            self.assertTrue(refused(echo))
            os.kill(d.pid, signal.SIGUSR2)  # a second one changes nothing
            held.sendall(b"c")
            self.assertEqual(recv_exactly(held, 1), b"C")
            held.close()
            d.assert_exits_cleanly()
            self.assertIn("already draining", d.log())


class Status(unittest.TestCase):
    def test_status_document_and_reload_outcomes(self):
        admin, echo, dns = free_ports(3)
        listeners = [listener("echo", tcp(echo), "echo-upper"), listener("dns", udp(dns), "udp-echo")]
        with Ringd(listeners=listeners, config=admin_config(admin)) as d:
            self.assertTrue(echoes(echo))
            status, headers, body = get(admin, "/status")
            self.assertEqual(status, 200)
            self.assertEqual(headers["content-type"], "application/json")
            self.assertEqual(headers["connection"], "close")
            doc = json.loads(body)
            self.assertEqual(doc["pid"], d.pid)
            self.assertEqual(doc["version"], "0.1.0")
            self.assertEqual(doc["abi"], "1.1")
            self.assertEqual(doc["state"], "serving")
            self.assertEqual(doc["workers"], 2)
            self.assertGreater(doc["uptime_seconds"], 0)
            self.assertEqual(doc["config"]["file"], d.config_path)
            self.assertEqual(doc["config"]["files"], [d.config_path])
            self.assertIsNone(doc["config"]["last_reload"])
            by_name = {l["name"]: l for l in doc["listeners"]}
            self.assertEqual(sorted(by_name), ["admin", "dns", "echo"])
            e = by_name["echo"]
            self.assertEqual(e["address"], tcp(echo))
            self.assertEqual(e["transport"], "tcp")
            self.assertEqual(e["plugin"]["name"], "echo-upper")
            self.assertEqual(e["plugin"]["abi"], "1.1")
            self.assertTrue(e["plugin"]["file"].endswith("/echo-upper.so"))
            self.assertEqual(e["accepted_total"], 1)
            self.assertEqual(e["bytes_received_total"], 4)
            self.assertEqual(by_name["dns"]["transport"], "udp")
            self.assertEqual(by_name["admin"]["plugin"]["name"], "admin")
            for field in ("active_connections", "refused_total", "bytes_sent_total", "datagrams_received_total",
                          "datagrams_sent_total"):
                self.assertIn(field, e)

            d.reload()
            last = json.loads(get(admin, "/status")[2])["config"]["last_reload"]
            self.assertEqual(last["result"], "ok")
            self.assertEqual(last["errors"], [])
            self.assertRegex(last["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

            broken = listeners + [listener("bad", "tcp://127.0.0.1:0", "echo-upper")]
            d.reload(config_yaml(broken, admin_config(admin)))
            last = json.loads(get(admin, "/status")[2])["config"]["last_reload"]
            self.assertEqual(last["result"], "error")
            self.assertEqual(len(last["errors"]), 1)
            self.assertRegex(last["errors"][0], "^" + d.config_path + r":\d+:\d+: listener 'bad': ")
            m = scrape(admin)
            self.assertEqual(value(m, "ringd_reloads_total", result="ok"), 1)
            self.assertEqual(value(m, "ringd_reloads_total", result="error"), 1)
            self.assertEqual(value(m, "ringd_config_last_reload_successful"), 0)
            self.assertEqual(get(admin, "/healthz")[0], 200)  # a failed reload is not unhealthy: the old config serves
            d.assert_exits_cleanly()


class AdminReload(unittest.TestCase):
    def test_the_admin_listener_moves_goes_and_comes_back_by_reload(self):
        first, second, echo = free_ports(3)
        listeners = [listener("echo", tcp(echo), "echo-upper")]
        with Ringd(listeners=listeners, config=admin_config(first)) as d:
            self.assertEqual(get(first, "/healthz")[0], 200)
            self.assertIn("reload complete", d.reload(config_yaml(listeners, admin_config(second))))
            self.assertEqual(get(second, "/healthz")[0], 200)
            wait_until(lambda: refused(first), timeout=5, what="the old admin port to close")
            self.assertIn("reload complete", d.reload(config_yaml(listeners, {})))
            wait_until(lambda: refused(second), timeout=5, what="the admin listener to go")
            self.assertTrue(echoes(echo))
            self.assertIn("reload complete", d.reload(config_yaml(listeners, admin_config(first))))
            self.assertEqual(get(first, "/healthz")[0], 200)
            d.assert_exits_cleanly()

    def test_a_unix_admin_listener_with_its_mode(self):
        echo = free_port()
        with Ringd(listeners=[listener("echo", tcp(echo), "echo-upper")]) as d:
            path = os.path.join(d.dir, "admin.sock")
            d.reload(config_yaml([listener("echo", tcp(echo), "echo-upper")],
                                 {"admin": {"listen": "unix://" + path}}))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o660)
            status, _, body = get(path, "/healthz")
            self.assertEqual((status, body), (200, b"ok\n"))
            d.reload(config_yaml([listener("echo", tcp(echo), "echo-upper")],
                                 {"admin": {"listen": "unix://" + path, "mode": "0600"}}))
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            d.assert_exits_cleanly()


class BadRequests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.admin, cls.echo = free_ports(2)
        config = admin_config(cls.admin, request_timeout="500ms")
        cls.ringd = Ringd(listeners=[listener("echo", tcp(cls.echo), "echo-upper")], config=config).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.assert_exits_cleanly()
        cls.ringd.cleanup()

    def answer(self, data, **kw):
        return parse_response(raw_request(("127.0.0.1", self.admin), data, **kw))

    def test_each_refusal_gets_its_status_and_others_are_unharmed(self):
        cases = [
            (b"GARBAGE\r\n\r\n", 400),
            (b"GET /healthz HTTP/1.1\nHost: x\n\n", 400),
            (b"GET /healthz HTTP/1.1\r\n\r\n", 400),  # no Host
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", 405),
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 9000 + b"\r\n\r\n", 413),
            (b"GET /healthz HTTP/2.0\r\n\r\n", 505),
            (b"GET /nothing-here HTTP/1.1\r\nHost: x\r\n\r\n", 404),
        ]
        with connect(self.echo) as bystander:
            for request, expected in cases:
                with self.subTest(expected=expected, request=request[:40]):
                    status, headers, body = self.answer(request)
                    self.assertEqual(status, expected, body)
                    self.assertEqual(headers["connection"], "close")
                    if expected == 405:
                        self.assertEqual(headers["allow"], "GET")
                    # Another client is unharmed: an echo connection open throughout, a good request right after.
                    bystander.sendall(b"ok")
                    self.assertEqual(recv_exactly(bystander, 2), b"OK")
                    self.assertEqual(self.answer(GOOD)[0], 200)
        self.assertTrue(self.ringd.alive())

    def test_a_request_cut_short_by_the_client_gets_400(self):
        status, _, _ = self.answer(b"GET /healthz HTTP/1.1\r\nHost: x\r\n", shutdown_write=True)
        self.assertEqual(status, 400)

    def test_a_slow_client_is_cut_at_the_request_timeout(self):
        # Slow loris: a byte every 100 ms never completes the head; the timeout (500 ms) ends it with 408.
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.admin), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            got = b""
            s.settimeout(0.1)
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                try:
                    s.sendall(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    break
                try:
                    chunk = s.recv(4096)
                except socket.timeout:
                    continue
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                got += chunk
        elapsed = time.monotonic() - started
        self.assertTrue(got.startswith(b"HTTP/1.1 408 "), got[:100])
        self.assertGreaterEqual(elapsed, 0.45)
        self.assertLess(elapsed, scaled(2.5, 5))
        # One that sends nothing at all is cut the same way; meanwhile others are served.
        silent = socket.create_connection(("127.0.0.1", self.admin), timeout=10)
        self.assertEqual(self.answer(GOOD)[0], 200)
        silent.settimeout(5)
        self.assertTrue(silent.recv(100).startswith(b"HTTP/1.1 408 "))
        silent.close()

    def test_many_slow_clients_do_not_block_a_good_one(self):
        slow = [socket.create_connection(("127.0.0.1", self.admin), timeout=10) for _ in range(20)]
        try:
            for s in slow:
                s.sendall(b"GET /metrics HTTP/1.1\r\n")
            started = time.monotonic()
            status, _, body = self.answer(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(status, 200)
            self.assertLess(time.monotonic() - started, scaled(0.4, 2))
            self.assertIn(b"ringd_build_info", body)
        finally:
            for s in slow:
                s.close()


class ConfigChecks(unittest.TestCase):
    def check(self, admin_section, listeners=None, extra=""):
        doc = json.loads(config_yaml(listeners or [listener("echo", tcp(free_port()), "echo-upper")]))
        if admin_section is not None:
            doc["admin"] = admin_section
        return check_config_text(json.dumps(doc, indent=2) + extra)

    def test_admin_settings_are_checked_like_listeners(self):
        code, out = self.check({"listen": "udp://127.0.0.1:9180"})
        self.assertEqual(code, 1)
        self.assertRegex(out, r"ringd\.yaml:\d+:\d+: listener 'admin': the admin listener speaks HTTP over a stream")
        code, out = self.check({"allow": ["127.0.0.0/8"]})
        self.assertEqual(code, 1)
        self.assertIn("missing required key 'listen' in admin", out)
        code, out = self.check({"listen": "tcp://127.0.0.1:9180", "alow": []})
        self.assertEqual(code, 1)
        self.assertIn("alow", out)
        code, out = self.check({"listen": "tcp://127.0.0.1:9180", "request_timeout": "1ms"})
        self.assertEqual(code, 1)
        self.assertIn("request_timeout from 10ms to 10m", out)
        code, out = self.check({"listen": "unix:///run/ringd/admin.sock", "allow": ["127.0.0.1"]})
        self.assertEqual(code, 1)
        self.assertIn("cannot be used on a unix socket admin listener", out)
        code, out = self.check({"listen": "tcp://127.0.0.1:9180", "mode": "0600"})
        self.assertEqual(code, 1)
        self.assertIn("'mode' applies only to a unix:///path admin listener", out)

    def test_a_non_loopback_admin_address_is_a_warning(self):
        code, out = self.check({"listen": "tcp://0.0.0.0:9180"})
        self.assertEqual(code, 0, out)
        self.assertRegex(out, r"warning: listener 'admin': the admin listener binds tcp://0\.0\.0\.0:9180, not a "
                              r"loopback address")
        self.assertIn("admin: tcp://0.0.0.0:9180 -> built-in admin handler", out)
        code, out = self.check({"listen": "tcp://127.0.0.1:9180"})
        self.assertEqual(code, 0, out)
        self.assertNotIn("warning", out)

    def test_the_name_admin_is_reserved_and_the_address_must_be_free(self):
        port = free_port()
        code, out = self.check(None, [listener("admin", tcp(port), "echo-upper")])
        self.assertEqual(code, 1)
        self.assertIn("the name 'admin' is reserved for the admin listener", out)
        code, out = self.check({"listen": tcp(port)}, [listener("echo", tcp(port), "echo-upper")])
        self.assertEqual(code, 1)
        self.assertIn(f"listener 'admin': listen address \"{tcp(port)}\" is already used by listener 'echo'", out)


class Promtool(unittest.TestCase):
    def test_promtool_accepts_a_real_scrape(self):
        promtool = shutil.which("promtool")
        if promtool is None:
            self.skipTest("promtool not installed (Debian package prometheus; `make test` installs it)")
        admin, echo, dns, cross = free_ports(4)
        listeners = [listener("echo", tcp(echo), "echo-upper"), listener("dns", udp(dns), "udp-echo"),
                     listener("cross", tcp(cross), test_plugin("crossworker"))]
        with Ringd(listeners=listeners, config=admin_config(admin)) as d:
            self.assertTrue(echoes(echo))
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(5)
                s.sendto(b"x", ("127.0.0.1", dns))
                s.recvfrom(100)
            status, _, body = get(admin, "/metrics")
            self.assertEqual(status, 200)
            self.assertIn(b"ringd_plugin_ticks_total{listener=\"cross\"}", body)
            r = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stdout.decode() + r.stderr.decode())
            self.assertEqual(r.stdout.strip() + r.stderr.strip(), b"", "promtool found problems")
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
