"""ringdctl against an admin listener, over TCP and over a unix socket.

AdminContract holds the tests of the documented interface; each backend class runs all of them:
  - Fake*: fake_admin.py, a stand-in HTTP server serving the documented /status, /metrics and /healthz;
  - Real*: the real ringd with an `admin:` section. They are skipped, saying so, while `ringd --check-config`
    refuses `admin:` (the admin listener is built on another branch); after the merge they run as they are.
The contract tests compare what ringdctl prints with what the server answers to a plain GET made here, so
they hold for canned and live documents alike. FakeFailures covers what only a stand-in can do: misbehave.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import ringd_harness as h

RINGDCTL = os.environ.get("RINGDCTL_BIN", "build/tools/ringdctl/ringdctl")
FAKE_ADMIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake_admin.py")


def ringdctl(*args, env=None, timeout=30):
    """Runs ringdctl; returns CompletedProcess (text). RINGD_ADMIN is cleared unless `env` sets it."""
    full_env = {k: v for k, v in os.environ.items() if k != "RINGD_ADMIN"}
    full_env.update(env or {})
    return subprocess.run([RINGDCTL, *args], capture_output=True, text=True, timeout=timeout, env=full_env)


def http_get(url, path):
    """A plain GET to an admin URL (tcp://H:P or unix:///path), independent of ringdctl: (status, body)."""
    if url.startswith("unix://"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(url[len("unix://"):])
    else:
        host, port = url[len("tcp://"):].rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)))
    with s:
        s.settimeout(10)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def admin_supported():
    """Whether this ringd accepts `admin:` (ringd --check-config says), with the reason when it does not."""
    with tempfile.TemporaryDirectory(prefix="ringdctl-check-") as tmp:
        path = os.path.join(tmp, "ringd.yaml")
        with open(path, "w") as f:
            f.write(h.config_yaml([h.listener("e", h.tcp(h.free_port()), "echo-upper")],
                                  {"admin": {"listen": h.tcp(h.free_port())}}))
        r = h.run_ringd(["--check-config", "-c", path])
    if r.returncode != 0 and "unknown key 'admin'" in r.stderr:
        return False, "this ringd has no admin listener yet (`admin:` is refused by --check-config)"
    if r.returncode != 0:
        raise AssertionError(f"ringd --check-config refused an admin: section:\n{r.stderr}")
    return True, ""


# ---- backends: something serving the admin interface, as a context manager that yields its URL -------------

class FakeAdmin:
    def __init__(self, unix=False, behaviour="normal"):
        self.unix, self.behaviour = unix, behaviour

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringdctl-fake-")
        where = ["--unix", os.path.join(self.tmp.name, "admin.sock")] if self.unix else ["--tcp", "0"]
        self.proc = subprocess.Popen([sys.executable, FAKE_ADMIN, *where, "--behaviour", self.behaviour],
                                     stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            self.proc.kill()
            raise AssertionError("fake_admin.py did not start")
        self.pid = self.proc.pid
        return self

    def alive(self):
        return self.proc.poll() is None

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.tmp.cleanup()
        return False


class RealAdmin:
    """ringd with an echo-upper and a udp-echo listener, and the admin listener; some traffic on both."""

    def __init__(self, unix=False):
        self.unix = unix

    def __enter__(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringdctl-real-")
        self.url = f"unix://{self.tmp.name}/admin.sock" if self.unix else h.tcp(h.free_port())
        tcp_port, udp_port = h.free_port(), h.free_port(socket.SOCK_DGRAM)
        self.ringd = h.Ringd(listeners=[h.listener("echo-upper", h.tcp(tcp_port), "echo-upper"),
                                        h.listener("udp-echo", h.udp(udp_port), "udp-echo")],
                             config={"admin": {"listen": self.url}})
        self.ringd.__enter__()
        self.pid = self.ringd.pid
        with socket.create_connection(("127.0.0.1", tcp_port), timeout=5) as s:
            s.sendall(b"hello")
            s.recv(16)
        return self

    def alive(self):
        return self.ringd.alive()

    def __exit__(self, *exc):
        self.ringd.__exit__(*exc)
        self.tmp.cleanup()
        return False


# ---- the contract -------------------------------------------------------------------------------------------

class AdminContract:
    backend = None  # a callable returning a fresh backend (context manager)

    @classmethod
    def setUpClass(cls):
        cls.server = cls.backend()
        cls.url = cls.server.__enter__().url

    @classmethod
    def tearDownClass(cls):
        cls.server.__exit__(None, None, None)

    def ctl(self, *args, **kw):
        return ringdctl("--admin", self.url, *args, **kw)

    def status_document(self):
        code, body = http_get(self.url, "/status")
        self.assertEqual(code, 200)
        return json.loads(body)

    def test_health_answers_ok_while_serving(self):
        r = self.ctl("health")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "ok\n", ""))

    def test_status_shows_the_daemon_and_every_listener(self):
        doc = self.status_document()
        r = self.ctl("status")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].startswith(f"ringd {doc['version']} (ABI {doc['abi']}), pid {doc['pid']}, serving,"),
                        lines[0])
        self.assertTrue(lines[1].startswith(f"config {doc['config']['file']}"), lines[1])
        header = next(i for i, line in enumerate(lines) if line.startswith("NAME "))
        rows = {line.split()[0]: line.split() for line in lines[header + 1:]}
        self.assertEqual(sorted(rows), sorted(l["name"] for l in doc["listeners"]))
        for listener in doc["listeners"]:
            row = rows[listener["name"]]
            self.assertEqual(row[1], listener["address"])
            if listener["transport"] != "udp":
                # The admin listener counts its own requests: ringdctl's came after the test's.
                accepted = listener["accepted_total"] + (1 if listener["name"] == "admin" else 0)
                self.assertEqual(row[5], str(accepted), r.stdout)

    def test_status_json_is_the_document(self):
        doc = self.status_document()
        r = self.ctl("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        printed = json.loads(r.stdout)
        for live in (doc, printed):  # the only fields that move by themselves
            live.pop("uptime_seconds", None)
        self.assertEqual(printed["pid"], doc["pid"])
        self.assertEqual([l["name"] for l in printed["listeners"]], [l["name"] for l in doc["listeners"]])

    def test_listeners_table_and_json(self):
        doc = self.status_document()
        r = self.ctl("listeners")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "TRANSPORT", "ADDRESS", "PLUGIN", "VERSION", "ABI", "FILE"])
        for listener, line in zip(doc["listeners"], lines[1:], strict=True):
            self.assertEqual(line.split()[:4], [listener["name"], listener["transport"], listener["address"],
                                                listener["plugin"]["name"]])
        # Global options after the command work too.
        r = ringdctl("listeners", "--json", "--admin", self.url)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l["name"] for l in json.loads(r.stdout)], [l["name"] for l in doc["listeners"]])

    def test_metrics_prints_the_exposition(self):
        code, scraped = http_get(self.url, "/metrics")
        self.assertEqual(code, 200)
        r = self.ctl("metrics")
        self.assertEqual(r.returncode, 0, r.stderr)
        families = [line.split()[2] for line in scraped.splitlines() if line.startswith("# TYPE ")]
        self.assertIn("ringd_connections_accepted_total", families)
        for family in families:
            self.assertIn(f"# TYPE {family} ", r.stdout)

    def test_metrics_grep(self):
        r = self.ctl("metrics", "--grep", "connections_accepted")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertIn("# TYPE ringd_connections_accepted_total counter", lines)
        self.assertTrue(any(line.startswith('ringd_connections_accepted_total{listener="echo-upper"} ')
                            for line in lines), r.stdout)
        self.assertTrue(all("ringd_connections_accepted_total" in line for line in lines), r.stdout)

    def test_address_from_the_environment_and_from_the_config_file(self):
        r = ringdctl("health", env={"RINGD_ADMIN": self.url})
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
            config.write(f"admin:\n  listen: {self.url}\nlisteners: []\n")
            config.flush()
            r = ringdctl("-c", config.name, "health")
        self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)

    def test_drain_then_health_and_status_say_draining(self):
        with self.backend() as fresh:
            r = ringdctl("--admin", fresh.url, "drain", "--timeout", "10s")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"ringd (pid {fresh.pid}) is draining", r.stdout)
            r = ringdctl("--admin", fresh.url, "health")
            self.assertEqual((r.returncode, r.stdout), (1, "draining\n"))
            r = ringdctl("--admin", fresh.url, "status")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(", draining,", r.stdout.splitlines()[0])
            # Draining again is harmless.
            self.assertEqual(ringdctl("--admin", fresh.url, "drain").returncode, 0)
            self.assertTrue(fresh.alive())


class FakeTcp(AdminContract, unittest.TestCase):
    backend = staticmethod(lambda: FakeAdmin(unix=False))


class FakeUnix(AdminContract, unittest.TestCase):
    backend = staticmethod(lambda: FakeAdmin(unix=True))


class RealTcp(AdminContract, unittest.TestCase):
    backend = staticmethod(lambda: RealAdmin(unix=False))

    @classmethod
    def setUpClass(cls):
        supported, why = admin_supported()
        if not supported:
            raise unittest.SkipTest(why)
        super().setUpClass()


class RealUnix(RealTcp):
    backend = staticmethod(lambda: RealAdmin(unix=True))


# ---- what only a misbehaving stand-in can show --------------------------------------------------------------

class FakeFailures(unittest.TestCase):
    def test_unreachable_is_3_and_says_where_the_address_came_from(self):
        port = h.free_port()
        r = ringdctl("--admin", h.tcp(port), "status")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, f"ringdctl: cannot connect to tcp://127.0.0.1:{port}: Connection refused "
                                   "(address from --admin)\n")
        with tempfile.TemporaryDirectory() as tmp:
            r = ringdctl("health", env={"RINGD_ADMIN": f"unix://{tmp}/none.sock"})
        self.assertEqual(r.returncode, 3)
        self.assertIn("No such file or directory (address from RINGD_ADMIN)", r.stderr)

    def test_usage_errors_are_2(self):
        with tempfile.TemporaryDirectory() as tmp:
            cases = [
                [],                                                   # no command
                ["frobnicate"],                                       # unknown command
                ["status", "--bogus"],                                # unknown option
                ["--admin", "udp://127.0.0.1:9180", "status"],        # not tcp/unix
                ["--admin", "tcp://localhost:9180", "status"],        # names are not resolved
                ["--request-timeout", "5", "status"],                 # a duration needs its unit
                ["--request-timeout", "0", "status"],
                ["--admin", "tcp://127.0.0.1:1", "drain", "--timeout", "soon"],
                ["-c", os.path.join(tmp, "missing.yaml"), "status"],  # a file named on purpose must be there
            ]
            for args in cases:
                with self.subTest(args=args):
                    r = ringdctl(*args)
                    self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                    self.assertTrue(r.stderr, "a usage error says what is wrong")

    def test_version_and_help(self):
        r = ringdctl("--version")
        self.assertEqual((r.returncode, r.stdout), (0, "ringdctl 0.1.0\n"))
        r = ringdctl("--help")
        self.assertEqual(r.returncode, 0)
        for command in ("status", "listeners", "metrics", "drain", "health", "Exit status"):
            self.assertIn(command, r.stdout)

    def test_a_wildcard_admin_listen_is_reached_through_loopback(self):
        with FakeAdmin() as fake, tempfile.NamedTemporaryFile("w", suffix=".yaml") as config:
            config.write(f"admin: {{listen: 'tcp://0.0.0.0:{fake.url.rsplit(':', 1)[1]}'}}\n")
            config.flush()
            r = ringdctl("-c", config.name, "health")
            self.assertEqual((r.returncode, r.stdout), (0, "ok\n"), r.stderr)

    def test_not_http_is_3(self):
        with FakeAdmin(behaviour="garbage") as fake:
            r = ringdctl("--admin", fake.url, "health")
        self.assertEqual(r.returncode, 3)
        self.assertIn('/healthz: not an HTTP response: "SSH-2.0-not-http\\x0d\\x0a"', r.stderr)

    def test_a_silent_server_times_out(self):
        with FakeAdmin(behaviour="silent") as fake:
            started = time.monotonic()
            r = ringdctl("--admin", fake.url, "--request-timeout", "500ms", "status")
            elapsed = time.monotonic() - started
        self.assertEqual(r.returncode, 3)
        self.assertIn("/status: no complete response within 500 ms", r.stderr)
        self.assertLess(elapsed, 5)

    def test_bad_documents_are_3(self):
        for behaviour, message in (("bad-json", "/status is not valid JSON"),
                                   ("chunked", "Transfer-Encoding: chunked, which ringdctl does not support")):
            with self.subTest(behaviour=behaviour), FakeAdmin(behaviour=behaviour) as fake:
                r = ringdctl("--admin", fake.url, "status")
                self.assertEqual(r.returncode, 3)
                self.assertIn(message, r.stderr)

    def test_close_delimited_bodies(self):
        with FakeAdmin(behaviour="close-delimited", unix=True) as fake:
            self.assertEqual(ringdctl("--admin", fake.url, "health").stdout, "ok\n")
            r = ringdctl("--admin", fake.url, "listeners", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(json.loads(r.stdout)), 2)

    def test_an_error_status_is_1(self):
        with FakeAdmin(behaviour="status-500") as fake:
            r = ringdctl("--admin", fake.url, "status")
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr, f"ringdctl: {fake.url}/status answered 500 Internal Server Error: "
                                       "internal error\n")
            self.assertEqual(ringdctl("--admin", fake.url, "drain").returncode, 1)
            self.assertTrue(fake.alive())

    def test_drain_that_does_not_take_is_1_after_the_timeout(self):
        with FakeAdmin(behaviour="ignore-drain") as fake:
            started = time.monotonic()
            r = ringdctl("--admin", fake.url, "drain", "--timeout", "700ms")
            elapsed = time.monotonic() - started
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"sent SIGUSR2 to ringd (pid {fake.pid}), but /healthz still answers 200 OK after 700 ms",
                          r.stderr)
            self.assertGreaterEqual(elapsed, 0.7)
            self.assertLess(elapsed, 5)

    def test_drain_signals_nothing_but_a_ringd(self):
        # SIGUSR2 kills a process that does not handle it: the pid /status names must be a process called ringd.
        with FakeAdmin(behaviour="wrong-name") as fake:
            r = ringdctl("--admin", fake.url, "drain")
            self.assertEqual(r.returncode, 3)
            self.assertRegex(r.stderr, rf'/status names pid {fake.pid}, which is "[^"]+", not ringd: not signalling it')
            time.sleep(0.2)
            self.assertTrue(fake.alive(), "the stand-in was signalled")
        with FakeAdmin(behaviour="bad-pid") as fake:
            r = ringdctl("--admin", fake.url, "drain")
            self.assertEqual(r.returncode, 3)
            self.assertIn('/status has no valid "pid" (got 1)', r.stderr)

    def test_drain_of_a_pid_this_host_does_not_have(self):
        # What ringdctl sees when /status comes from a ringd in another PID namespace (a container).
        with FakeAdmin(behaviour="gone-pid") as fake:
            r = ringdctl("--admin", fake.url, "drain")
            self.assertEqual(r.returncode, 3)
            self.assertRegex(r.stderr, r"/status names pid \d+, but this host has no such process")

if __name__ == "__main__":
    sys.exit(0 if unittest.main(argv=[sys.argv[0], "-v"], exit=False).result.wasSuccessful() else 1)
