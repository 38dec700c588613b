"""Starts the real ringd binary for integration tests and talks to it over real sockets.

Stdlib only. ctest passes the paths through the environment (see ringd_add_py_test in tests/CMakeLists.txt):
RINGD_BIN, RINGD_PLUGIN_DIR (shipped plugins), RINGD_TEST_PLUGIN_DIR (test-only plugins).

Readiness is ringd's own sd_notify READY=1: the harness listens on a private NOTIFY_SOCKET, exactly as systemd
does, so a test never sleeps hoping the daemon is up.

    with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
        s = socket.create_connection(("127.0.0.1", port))
"""

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

RINGD_BIN = os.environ.get("RINGD_BIN", "build/daemon/ringd")
PLUGIN_DIR = os.environ.get("RINGD_PLUGIN_DIR", "build/plugins")
TEST_PLUGIN_DIR = os.environ.get("RINGD_TEST_PLUGIN_DIR", "build/test-plugins")
SANITIZED = os.environ.get("RINGD_SANITIZE", "0") in ("1", "ON", "TRUE", "true")


def free_port(kind=socket.SOCK_STREAM, family=socket.AF_INET):
    """A port the kernel just handed out on loopback for `kind`, free at the time of the call."""
    host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def free_ports(n, kind=socket.SOCK_STREAM):
    """n distinct free ports (held open together so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, kind)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def tcp(port, host="127.0.0.1"):
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def udp(port, host="127.0.0.1"):
    return f"udp://[{host}]:{port}" if ":" in host else f"udp://{host}:{port}"


def listener(name, listen, plugin, config=None, **extra):
    """One `listeners:` entry. `extra` carries allow/deny/limits."""
    entry = {"name": name, "listen": listen, "plugin": plugin}
    if config is not None:
        entry["config"] = config
    entry.update(extra)
    return entry


def config_yaml(listeners=None, config=None, workers=2):
    """The config document Ringd(listeners=..., config=..., workers=...) generates, as text (for reloads)."""
    doc = {"workers": workers, "plugin_dir": PLUGIN_DIR, "log": {"level": "debug"}, "listeners": listeners or []}
    doc.update(config or {})
    return json.dumps(doc, indent=2)  # JSON is YAML


def test_plugin(name):
    """Absolute path of a test-only plugin .so (built by tests/plugins)."""
    return os.path.join(TEST_PLUGIN_DIR, name + ".so")


class RingdFailedToStart(Exception):
    pass


class Ringd:
    """A running ringd with a generated config. Use as a context manager; it is always stopped on exit.

    listeners: list of listener dicts; config: extra top-level keys (workers, limits, shutdown_timeout...);
    config_text: a raw YAML document instead of the generated one; args: extra command-line arguments;
    prefix: a command that execs ringd (e.g. setpriv with its options), so the pid is still ringd's.
    """

    def __init__(self, listeners=None, config=None, config_text=None, args=(), workers=2,
                 ready_timeout=20.0, env=None, expect_ready=True, prefix=()):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringd-test-")
        self.dir = self.tmp.name
        self.config_path = os.path.join(self.dir, "ringd.yaml")
        if config_text is None:
            config_text = config_yaml(listeners, config, workers)
        with open(self.config_path, "w") as f:
            f.write(config_text)
        self.args = list(args)
        self.prefix = list(prefix)
        self.ready_timeout = ready_timeout
        self.extra_env = env or {}
        self.expect_ready = expect_ready
        self.proc = None
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.notifications = []

    # -- lifecycle -----------------------------------------------------------------------------------------
    def start(self):
        self.notify_path = os.path.join(self.dir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self.notify_path
        env.pop("JOURNAL_STREAM", None)
        env.pop("LISTEN_FDS", None)
        env.update(self.extra_env)
        cmd = self.prefix + [RINGD_BIN, "-c", self.config_path] + self.args
        self._stderr = open(self.stderr_path, "wb")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._stderr, stderr=self._stderr,
                                     env=env)
        # Like systemd, keep reading the notify socket all the time: sd_notify blocks once the receiver's
        # datagram queue is full, so a test that stopped reading could wedge ringd's main thread.
        self._notify_cond = threading.Condition()
        self._notify_reader = threading.Thread(target=self._read_notifications, daemon=True)
        self._notify_reader.start()
        if self.expect_ready:
            self.wait_for_notification("READY=1", self.ready_timeout)
        return self

    def _read_notifications(self):
        while True:
            try:
                data = self.notify.recv(4096)
            except OSError:
                return
            if not data:  # cleanup() shut the socket down
                return
            msg = data.decode()
            with self._notify_cond:
                self.notifications.append(msg)
                self._notify_cond.notify_all()

    def wait_for_notification(self, text, timeout=10.0):
        """Block until ringd sends an sd_notify datagram containing `text`; returns the datagram."""
        deadline = time.monotonic() + timeout
        with self._notify_cond:
            while True:
                for msg in self.notifications:
                    if text in msg:
                        self.notifications.remove(msg)
                        return msg
                if self.proc.poll() is not None:
                    raise RingdFailedToStart(f"ringd exited with {self.proc.returncode} before {text!r}:\n" +
                                             self.log())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RingdFailedToStart(f"no {text!r} from ringd within {timeout}s:\n" + self.log())
                self._notify_cond.wait(min(left, 0.2))

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        """Send `sig` and wait for exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"ringd did not exit within {timeout}s after signal {sig}:\n" + self.log())

    def cleanup(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc is not None:
            # A sanitizer report or engine invariant failure is worth seeing whatever the test concluded.
            log = self.log()
            if any(marker in log for marker in BAD_LOG_MARKERS[:4]):
                sys.stderr.write(f"---- ringd (pid {self.proc.pid}, exit {self.proc.returncode}) log ----\n"
                                 f"{log}\n---- end of ringd log ----\n")
        if hasattr(self, "notify"):
            try:
                self.notify.shutdown(socket.SHUT_RDWR)  # wakes the reader thread
            except OSError:
                pass
            self.notify.close()
        if hasattr(self, "_stderr"):
            self._stderr.close()
        self.tmp.cleanup()

    # -- observation ---------------------------------------------------------------------------------------
    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def alive(self):
        return self.proc.poll() is None

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def reload(self, text=None, timeout=10.0):
        """Optionally rewrite the config, send SIGHUP and wait until ringd is READY again. Returns the log lines
        the reload wrote (from its "SIGHUP received" line on), so a test can tell success from failure."""
        if text is not None:
            self.write_config(text)
        before = len(self.log())
        self.proc.send_signal(signal.SIGHUP)
        self.wait_for_notification("READY=1", timeout)
        return self.log()[before:]

    def assert_exits_cleanly(self, sig=signal.SIGTERM, timeout=15.0):
        """Stop ringd and fail unless it exits 0 and its log shows no engine or sanitizer error."""
        code = self.stop(sig, timeout)
        if code != 0:
            raise AssertionError(f"ringd exited with {code}, expected 0:\n" + self.log())
        assert_clean_log(self.log())


def run_ringd(args, timeout=30.0, env=None):
    """Run ringd to completion (e.g. --check-config); returns CompletedProcess with text output."""
    full_env = dict(os.environ)
    full_env.pop("NOTIFY_SOCKET", None)
    full_env.update(env or {})
    return subprocess.run([RINGD_BIN] + list(args), capture_output=True, text=True, timeout=timeout, env=full_env)


def check_config_text(text, timeout=30.0):
    """`ringd --check-config` of a config file holding `text` (plain plugin names load from PLUGIN_DIR);
    returns (exit code, stdout + stderr). Messages name the file as .../ringd.yaml:LINE:COL."""
    with tempfile.TemporaryDirectory(prefix="ringd-check-") as tmp:
        path = os.path.join(tmp, "ringd.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = run_ringd(["-c", path, "--plugin-dir", PLUGIN_DIR, "--check-config"], timeout=timeout)
        return r.returncode, r.stdout + r.stderr


# -- small socket helpers ----------------------------------------------------------------------------------

def recv_exactly(sock, n, timeout=10.0):
    sock.settimeout(timeout)
    chunks = []
    got = 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise AssertionError(f"connection closed after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def recv_until_eof(sock, timeout=10.0, limit=1 << 26):
    sock.settimeout(timeout)
    chunks = []
    total = 0
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise AssertionError("peer sent more than the limit")


def connect(port, host="127.0.0.1", timeout=10.0):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect((host, port))
    return s


def main():
    """Entry point for test scripts: unittest with verbose output (ctest shows it on failure)."""
    unittest.main(verbosity=2)


# -- added for the core integration tests (tests/integration/test_*.py) -------------------------------------

# Log lines that mean a bug whatever the test was doing: engine invariant violations and sanitizer reports.
BAD_LOG_MARKERS = ("completion for a stale connection slot", "ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "runtime error:", "[critical]")


def assert_clean_log(log):
    for marker in BAD_LOG_MARKERS:
        if marker in log:
            raise AssertionError(f"ringd's log contains {marker!r}:\n{log}")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Polls `predicate` until it returns a truthy value (returned) or `timeout` passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last value {value!r})")
        time.sleep(interval)


def upper(data):
    """echo-upper's transform: ASCII a-z to A-Z, every other byte unchanged."""
    return data.upper()  # bytes.upper() touches ASCII letters only


def echo_roundtrip(sock, data, timeout=10.0):
    """Sends `data` and returns exactly len(data) bytes of reply."""
    sock.sendall(data)
    return recv_exactly(sock, len(data), timeout)


def closed_by_peer(sock, timeout=3.0):
    """True if the peer closed (EOF) or reset the connection within `timeout`; False if it is still open and
    silent then. Data received meanwhile counts as "not closed" (raises, because that is never expected)."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False
    if data:
        raise AssertionError(f"expected the connection to be closed, got data {data[:64]!r}")
    return True


def connection_refused_at_once(port, host="127.0.0.1", payload=b"hello?", timeout=3.0):
    """Connects and sends `payload`; True if ringd closes or resets the connection within `timeout` (at
    connect, on send or on read), False if it is still open and silent by then."""
    try:
        sock = connect(port, host, timeout)
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    with sock:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            return True
        return closed_by_peer(sock, timeout)


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN",
              "0B": "CLOSING"}


def tcp_sockets(port):
    """Every TCP socket of this network namespace whose local or remote port is `port`, from /proc/net/tcp{,6}:
    dicts with local_port, remote_port, state (name), tx_queue, rx_queue. For an established socket rx_queue is
    what its owner has not read yet; for a listening one it is the accept backlog."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, remote, state, queues = fields[1], fields[2], fields[3], fields[4]
            lport = int(local.rsplit(":", 1)[1], 16)
            rport = int(remote.rsplit(":", 1)[1], 16)
            if port not in (lport, rport):
                continue
            tx, rx = (int(x, 16) for x in queues.split(":"))
            out.append({"local_port": lport, "remote_port": rport, "state": TCP_STATES.get(state, state),
                        "tx_queue": tx, "rx_queue": rx})
    return out


def scaled(normal, sanitized):
    """A load size or time limit: `sanitized` when ringd is built with ASan/UBSan (much slower), else `normal`."""
    return sanitized if SANITIZED else normal


def socket_option_of(pid, level, option, peer_port):
    """The value of a socket option on a socket of process `pid` (ringd's) whose peer is on loopback port
    `peer_port`, read from a duplicate of its descriptor (pidfd_getfd(2): Linux 5.6, ptrace rights over the
    process, which a test starting ringd as root or as the same user has). None if no such socket exists."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd_getfd = 438  # the same number on every architecture
    pidfd = os.pidfd_open(pid)
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
            except OSError:
                continue  # closed meanwhile
            fd = libc.syscall(pidfd_getfd, pidfd, int(name), 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), f"pidfd_getfd of ringd's descriptor {name}")
            with socket.socket(fileno=fd) as s:
                try:
                    if s.type != socket.SOCK_STREAM or s.family not in (socket.AF_INET, socket.AF_INET6):
                        continue
                    if s.getpeername()[1] == peer_port:
                        return s.getsockopt(level, option)
                except OSError:  # a listening socket has no peer
                    continue
        return None
    finally:
        os.close(pidfd)
