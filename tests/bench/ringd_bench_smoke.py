"""Smoke test of ringd-bench: ~2 s of echo load, the report's last line, and that verification bites.

Stdlib only. The server comes from the environment, in this order:
  RINGD_BENCH_CONNECT=tcp://H:P (or unix:///path)   a running upper-casing echo server; RINGD_BENCH_EXPECT
                                                    (upper|same, default upper) says what it returns and
                                                    RINGD_BENCH_SERVER_PID, if set, adds server CPU figures;
  RINGD_BIN + RINGD_PLUGIN_DIR with echo-upper.so   ringd itself, started here (workers: 1), READY=1 awaited;
  neither                                           a small upper-casing echo server in this process, so the
                                                    tool's own mechanics are still tested.
ringd-bench is RINGD_BENCH_BIN, else $RINGD_BINARY_DIR/bench/ringd-bench, else build/bench/ringd-bench.
"""

import json
import os
import socket
import socketserver
import subprocess
import tempfile
import threading
import time
import unittest

BINARY_DIR = os.environ.get("RINGD_BINARY_DIR", "build")
BENCH = os.environ.get("RINGD_BENCH_BIN", os.path.join(BINARY_DIR, "bench", "ringd-bench"))


class UpperEcho(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            while True:
                data = self.request.recv(65536)
                if not data:
                    return
                self.request.sendall(data.upper())
        except ConnectionError:  # ringd-bench drops a client whose reply failed verification
            return


class ThreadedServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def start_ringd(ringd, plugin_dir, workdir):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = os.path.join(workdir, "ringd.yaml")
    with open(config, "w") as f:
        f.write(f'workers: 1\nplugin_dir: {json.dumps(plugin_dir)}\nlog: {{ level: warn }}\nlisteners:\n'
                f'  - {{ name: echo, listen: "tcp://127.0.0.1:{port}", plugin: echo-upper }}\n')
    notify_path = os.path.join(workdir, "notify.sock")
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    proc = subprocess.Popen([ringd, "-c", config, "--plugin-dir", plugin_dir], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            notify.settimeout(0.2)
            try:
                if b"READY=1" in notify.recv(4096):
                    return proc, port
            except socket.timeout:
                pass
    finally:
        notify.close()
    proc.kill()
    proc.wait()
    raise AssertionError(f"ringd did not become ready (exit {proc.returncode})")


class RingdBenchSmoke(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ringd-bench-smoke-")
        cls.proc = cls.server = None
        cls.pid = os.environ.get("RINGD_BENCH_SERVER_PID")
        cls.expect = os.environ.get("RINGD_BENCH_EXPECT", "upper")
        cls.connect = os.environ.get("RINGD_BENCH_CONNECT")
        ringd = os.environ.get("RINGD_BIN", "")
        plugin_dir = os.environ.get("RINGD_PLUGIN_DIR", "")
        if cls.connect:
            cls.what = "the server at " + cls.connect
        elif os.access(ringd, os.X_OK) and os.path.exists(os.path.join(plugin_dir, "echo-upper.so")):
            cls.proc, port = start_ringd(ringd, plugin_dir, cls.tmp.name)
            cls.connect, cls.pid, cls.expect, cls.what = f"tcp://127.0.0.1:{port}", str(cls.proc.pid), "upper", "ringd"
        else:
            cls.server = ThreadedServer(("127.0.0.1", 0), UpperEcho)
            threading.Thread(target=cls.server.serve_forever, daemon=True).start()
            cls.connect = f"tcp://127.0.0.1:{cls.server.server_address[1]}"
            cls.expect, cls.what = "upper", "an in-process upper-casing echo server"
        print(f"ringd-bench smoke against {cls.what} ({cls.connect})", flush=True)

    @classmethod
    def tearDownClass(cls):
        if cls.proc is not None:
            cls.proc.terminate()
            try:
                cls.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                cls.proc.kill()
                cls.proc.wait()
        if cls.server is not None:
            cls.server.shutdown()
            cls.server.server_close()
        cls.tmp.cleanup()

    def bench(self, *args):
        argv = [BENCH, "echo", "--connect", self.connect, "--clients", "8", "--size", "128", *args]
        if self.pid:
            argv += ["--server-pid", self.pid]
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    def test_echo_two_seconds(self):
        p = self.bench("--duration", "2", "--expect", self.expect)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        last = p.stdout.strip().splitlines()[-1]
        fields = dict(kv.split("=", 1) for kv in last.split())
        self.assertEqual(fields["mode"], "echo")
        self.assertEqual(fields["errors"], "0")
        self.assertGreater(float(fields["requests_per_s"]), 0)
        for key in ("p50_us", "p99_us", "p999_us"):
            self.assertGreater(float(fields[key]), 0, last)
        self.assertLessEqual(float(fields["p50_us"]), float(fields["p999_us"]), last)
        if self.pid:
            self.assertIn("server_cpu_us_per_req", fields)
        print(last, flush=True)

    def test_json_report(self):
        p = self.bench("--duration", "0.5", "--expect", self.expect, "--json")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        result = json.loads(p.stdout.strip().splitlines()[-1])
        self.assertEqual(result["mode"], "echo")
        self.assertEqual(result["errors"], 0)
        self.assertGreater(result["requests"], 0)

    def test_wrong_expectation_fails(self):
        wrong = "same" if self.expect == "upper" else "upper"
        p = self.bench("--duration", "0.5", "--expect", wrong)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("expected", p.stderr)

    def test_refuses_too_many_connections(self):
        p = self.bench("--duration", "0.5", "--clients", "18001")
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
