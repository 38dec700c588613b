"""ringd.service and ringd.socket under a real systemd, end to end.

Boots a throwaway systemd (systemd-nspawn over the host's OS, see nspawn.py) with the files of the .deb that
test packaging_deb built (fixture ringd_deb) laid over /usr, then drives it the way an admin would:

  start -> every shipped listener answers (remote-cmd runs its commands inside the sandbox) -> reload adds a
  listener while a connection opened before it keeps working -> a plugin .so installed anew is loaded by a
  reload (new connections on it, the open one on the old build, then unloaded) -> the access log's journal
  entries carry their fields (RINGD_ACCESS=1, RINGD_LISTENER=, ...) -> a broken drop-in makes
  `systemctl reload` fail with file:line in the journal while the old listeners keep serving -> a reload that
  fails inside ringd (port taken) keeps serving too -> watchdog pings arrive -> stop is clean -> a drain
  longer than TimeoutStopSec= is not killed -> kill -9 is restarted -> socket activation through ringd.socket
  -> the package's maintainer scripts enable/stop/mask/purge.

Exit code 77 (ctest SKIP_RETURN_CODE) only if systemd-nspawn cannot boot a container on this machine at all.
"""

import contextlib
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nspawn import Container, NspawnUnavailable  # noqa: E402

SKIP = 77
BINARY_DIR = os.environ.get("RINGD_BINARY_DIR", "build")
DEB_DIR = os.environ.get("RINGD_DEB_DIR", os.path.join(BINARY_DIR, "test-packages"))
PROBE_PORT = 9900   # a listener of the test's own, there from the start
ADDED_PORT = 9901   # added by a reload
TAKEN_PORT = 9903   # held by another process: a reload that passes the check but cannot bind
REPLACED_PORT = 9904  # a listener whose plugin .so is replaced and reloaded
TEST_PRESET = "00-ringd-test.preset"
BOOT_TARGET = "ringd-test.target"
# What the container boots instead of multi-user.target: the host's installed services (haproxy, postgresql,
# rsyslog, ...; systemd-networkd-wait-online held such a boot in `starting` past 90 s) must not decide whether
# this test passes. sysinit.target is what every service with default dependencies requires anyway (ringd's
# Requires=sysinit.target), and it brings the journal; systemctl and systemd-run reach PID 1 over its private
# socket, so neither D-Bus nor logind is needed. Isolatable, so it can also be returned to by hand.
BOOT_TARGET_UNIT = f"""[Unit]
Description=ringd systemd e2e test: sysinit and the journal, nothing the host has installed
Requires=sysinit.target systemd-journald.socket
After=sysinit.target systemd-journald.socket
AllowIsolate=yes
"""
UNIX_SOCKET = "/run/ringd/echo.sock"
REMOTE_COMMANDS = [["ls", "/"], ["pwd"], ["date"], ["uptime"], ["whoami"], ["echo", "hello", "ringd"],
                   ["uname", "-a"], ["df", "/"]]

C = None  # the Container, booted once in main() for all tests (they run in name order and build on each other)


# -- endpoints and clients ----------------------------------------------------------------------------------

def parse_endpoint(text):
    """ringd `listen:` text -> (family, type, address) usable with socket.connect / sendto."""
    m = re.fullmatch(r"(tcp|udp)://(\[([^\]]+)\]|([^:]+)):(\d+)", text)
    if m:
        kind = socket.SOCK_STREAM if m.group(1) == "tcp" else socket.SOCK_DGRAM
        if m.group(3):
            return socket.AF_INET6, kind, (m.group(3), int(m.group(5)))
        host = m.group(4)
        if host == "0.0.0.0":
            host = "127.0.0.1"
        return socket.AF_INET, kind, (host, int(m.group(5)))
    if text.startswith("unix:@"):
        return socket.AF_UNIX, socket.SOCK_STREAM, "\0" + text[len("unix:@"):]
    if text.startswith("unix://"):
        return socket.AF_UNIX, socket.SOCK_STREAM, text[len("unix://"):]
    raise AssertionError(f"unexpected endpoint {text!r}")


def open_client(endpoint, timeout=10.0):
    """A connected socket to a listener inside the container (created in its network namespace; unix paths
    are reached through /proc/PID1/root)."""
    family, kind, address = parse_endpoint(endpoint)
    if family == socket.AF_UNIX and not address.startswith("\0"):
        address = C.path(address)
    deadline = time.monotonic() + timeout
    while True:
        with C.netns():
            s = socket.socket(family, kind)
        s.settimeout(timeout)
        try:
            s.connect(address)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def exchange_line(sock, line, timeout=10.0):
    sock.settimeout(timeout)
    sock.sendall(line)
    got = b""
    while not got.endswith(b"\n"):
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"connection closed after {got!r}")
        got += chunk
    return got


def echo_upper(endpoint, text=b"hello ringd\n"):
    with open_client(endpoint) as s:
        return exchange_line(s, text)


def refused(endpoint):
    try:
        with open_client(endpoint, timeout=0.5):
            return False
    except OSError:
        return True


# -- container helpers --------------------------------------------------------------------------------------

def journal_cursor():
    out = C.run(["journalctl", "-u", "ringd", "-n", "0", "--show-cursor", "--no-pager"], check=False).stdout
    m = re.search(r"-- cursor: (\S+)", out)
    return m.group(1) if m else None


def journal_since(cursor, max_priority=7):
    """MESSAGEs of ringd.service's journal entries after `cursor`, up to a syslog priority (3 = err).
    Filtered here rather than with journalctl -p: combined with --after-cursor, systemd 252's journalctl
    drops matching entries."""
    args = ["journalctl", "-u", "ringd", "--no-pager", "-o", "json"]
    if cursor:
        args.append(f"--after-cursor={cursor}")
    lines = []
    for line in C.run(args, check=False).stdout.splitlines():
        entry = json.loads(line)
        if int(entry.get("PRIORITY", 6)) <= max_priority and isinstance(entry.get("MESSAGE"), str):
            lines.append(entry["MESSAGE"])
    return "\n".join(lines)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def main_pid():
    return int(C.show("ringd", "MainPID")["MainPID"])


def shipped_listeners():
    """(name, endpoint, plugin) for every listener of the installed config, as ringd --check-config sees it."""
    out = C.run(["ringd", "--check-config", "-c", "/etc/ringd/ringd.yaml"]).stdout
    found = re.findall(r"^(\S+): (\S+) -> plugin (\S+) ", out, re.M)
    assert found, f"no listeners in --check-config output:\n{out}"
    return found


def packaged_by(packages):
    """Unit files the given Debian packages ship (the container's /usr is the host's)."""
    r = subprocess.run(["dpkg-query", "-L", *packages], capture_output=True, text=True)
    return {os.path.realpath(p) for p in r.stdout.splitlines() if "/systemd/system/" in p}


class RingdUnderSystemd(unittest.TestCase):
    maxDiff = None

    def test_00_boot_is_the_tests_own_target(self):
        # Only systemd's own units may run before the tests start ringd: nothing the host has installed
        # (a web server, a database, a syslog daemon), and not multi-user.target, which would pull them in.
        self.assertEqual(C.show(BOOT_TARGET, "ActiveState")["ActiveState"], "active")
        for target in ("multi-user.target", "network-online.target", "basic.target"):
            self.assertEqual(C.show(target, "ActiveState")["ActiveState"], "inactive", target)
        ours = packaged_by(["systemd", "udev"])
        listed = C.systemctl("list-units", "--no-legend", "--plain", "--state=active,activating,reloading",
                             "--type=service,socket,timer,path").stdout
        running = [line.split()[0] for line in listed.splitlines() if line.strip()]
        foreign = []
        for unit in running:
            fragment = C.show(unit, "FragmentPath")["FragmentPath"]
            if fragment and os.path.realpath(fragment) not in ours:
                foreign.append(f"{unit} ({fragment})")
        print(f"  active after boot: {' '.join(running)}", flush=True)
        self.assertEqual(foreign, [], "units of other packages started in the test's container")

    def test_01_start(self):
        # What the package does not do in a volatile container: /etc/ringd is copied from the staged package
        # (the container's /etc is an empty tmpfs); nsswitch.conf so that `whoami` can name the dynamic user.
        C.run(["cp", "-a", "/mnt/ringd/etc/ringd", "/etc/ringd"])
        C.write("/etc/nsswitch.conf", host_nsswitch())
        C.write("/etc/ringd/conf.d/00-probe.yaml",
                f"listeners:\n  - name: probe-echo\n    listen: tcp://127.0.0.1:{PROBE_PORT}\n"
                f"    plugin: echo-upper\n    access_log: on\n")
        C.systemctl("daemon-reload")
        started = time.monotonic()
        C.systemctl("start", "ringd")  # returns once ringd sent READY=1
        print(f"systemctl start ringd took {time.monotonic() - started:.2f}s", flush=True)
        props = C.show("ringd", "ActiveState", "SubState", "StatusText", "MainPID", "WatchdogUSec")
        self.assertEqual((props["ActiveState"], props["SubState"]), ("active", "running"), props)
        self.assertIn("listeners", props["StatusText"])
        self.assertEqual(echo_upper(f"tcp://127.0.0.1:{PROBE_PORT}"), b"HELLO RINGD\n")

        # The sandbox really applies: a dynamic (non-root) user, only CAP_NET_BIND_SERVICE, no new privileges,
        # a seccomp filter.
        status = C.run(["cat", f"/proc/{props['MainPID']}/status"]).stdout
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        self.assertNotEqual(fields["Uid"].split()[0], "0")
        self.assertEqual(int(fields["CapEff"], 16), 1 << 10, "CapEff should be CAP_NET_BIND_SERVICE only")
        self.assertEqual(fields["NoNewPrivs"].strip(), "1")
        self.assertEqual(fields["Seccomp"].strip(), "2")

        # Logging went to the journal natively: no timestamp in MESSAGE, priorities set, identifier "ringd".
        entries = C.run(["journalctl", "-u", "ringd", "-o", "export", "--no-pager", "SYSLOG_IDENTIFIER=ringd"]).stdout
        self.assertRegex(entries, r"(?m)^MESSAGE=ready: \d+ listeners")
        self.assertIn("PRIORITY=6", entries)
        self.assertNotRegex(entries, r"(?m)^MESSAGE=\d{4}-\d\d-\d\d ")

    def test_02_shipped_listeners_answer(self):
        listeners = [entry for entry in shipped_listeners() if entry[0] != "probe-echo"]
        self.assertTrue(listeners, "the shipped ringd.yaml has no listeners")
        for name, endpoint, plugin in listeners:
            with self.subTest(listener=name, endpoint=endpoint, plugin=plugin):
                probe = PROBES.get(plugin, probe_connects)
                probe(self, name, endpoint)
                print(f"  {name} ({plugin} on {endpoint}): answers", flush=True)
        # Messages a listener's plugin logs carry RINGD_LISTENER= (informational: not every plugin logs).
        tagged = C.run(["journalctl", "-u", "ringd", "-o", "cat", "--no-pager", "RINGD_LISTENER=" + listeners[0][0]],
                       check=False).stdout.strip()
        if tagged:
            print(f"  journal entries tagged RINGD_LISTENER={listeners[0][0]}: {len(tagged.splitlines())}")

    def test_03_reload_adds_listener_and_keeps_connections(self):
        pid = main_pid()
        with open_client(f"tcp://127.0.0.1:{PROBE_PORT}") as before:  # stays open across the reload
            self.assertEqual(exchange_line(before, b"before\n"), b"BEFORE\n")
            C.write("/etc/ringd/conf.d/50-added.yaml",
                    f"listeners:\n  - name: added-echo\n    listen: tcp://127.0.0.1:{ADDED_PORT}\n"
                    f"    plugin: echo-upper\n    config:\n      transform: none\n"
                    f"  - name: added-unix\n    listen: unix://{UNIX_SOCKET}\n    plugin: echo-upper\n")
            cursor = journal_cursor()
            C.systemctl("reload", "ringd")
            self.assertEqual(echo_upper(f"tcp://127.0.0.1:{ADDED_PORT}", b"added\n"), b"added\n")
            self.assertEqual(exchange_line(before, b"after\n"), b"AFTER\n")  # opened before the reload
        # A unix listener in RuntimeDirectory= is usable by an ordinary local user (not only by root).
        client = ("import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(5); "
                  f"s.connect('{UNIX_SOCKET}'); s.sendall(b'as nobody\\n'); print(s.recv(64).decode(), end='')")
        r = C.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "python3", "-c", client])
        self.assertEqual(r.stdout, "AS NOBODY\n")
        # ringd set the socket's bits itself (the default `mode:` 0666) under the unit's strict UMask=0077, which
        # is what the commands it runs inherit.
        self.assertEqual(C.run(["stat", "-c", "%a", UNIX_SOCKET]).stdout.strip(), "666")
        status = C.run(["cat", f"/proc/{pid}/status"]).stdout
        self.assertIn("Umask:\t0077", status)
        self.assertEqual(main_pid(), pid, "a reload must not restart ringd")
        self.assertEqual(C.show("ringd", "ActiveState")["ActiveState"], "active")
        self.assertIn("reload complete", journal_since(cursor))

    def test_03b_replaced_plugin_so_is_loaded_by_reload(self):
        # Plugins load through /proc/<pid>/fd/N of a descriptor ringd opened (docs/plugins.md, "Replacing a
        # plugin's .so"): that must work inside the sandbox (ProtectProc=invisible, DynamicUser=), and a build
        # installed over the old file must serve new connections after a reload while an open one finishes on
        # the old build, which is unloaded after it.
        shipped = C.run(["sh", "-c", "echo /usr/lib/*/ringd/plugins/echo-upper.so"]).stdout.strip()
        so = "/run/ringd-e2e/echo.so"
        C.run(["install", "-D", "-m", "0644", shipped, so])
        C.write("/etc/ringd/conf.d/55-replaced.yaml",
                f"listeners:\n  - name: replaced-echo\n    listen: tcp://127.0.0.1:{REPLACED_PORT}\n"
                f"    plugin: {so}\n")
        pid = main_pid()
        cursor = journal_cursor()
        C.systemctl("reload", "ringd")
        first = int(C.run(["stat", "-c", "%i", so]).stdout)
        log = journal_since(cursor)
        self.assertRegex(log, rf"loaded plugin echo-upper \S+ \(ABI 1\.\d+\) from {so}: build-id [0-9a-f]+, inode "
                              rf"{first}, mtime \S+, mapped as /proc/{pid}/fd/\d+")
        endpoint = f"tcp://127.0.0.1:{REPLACED_PORT}"
        try:
            with open_client(endpoint) as before:
                self.assertEqual(exchange_line(before, b"first\n"), b"FIRST\n")
                C.run(["install", "-m", "0644", shipped, so])  # the same bytes, a new file
                second = int(C.run(["stat", "-c", "%i", so]).stdout)
                self.assertNotEqual(second, first)
                cursor = journal_cursor()
                C.systemctl("reload", "ringd")
                log = journal_since(cursor)
                self.assertRegex(log, rf"reload: replaced-echo switches builds: new connections get plugin echo-upper "
                                      rf"\S+ \(build-id [0-9a-f]+, inode {second}, .*open ones finish on plugin "
                                      rf"echo-upper \S+ \(build-id [0-9a-f]+, inode {first}, ")
                self.assertEqual(echo_upper(endpoint, b"second\n"), b"SECOND\n")
                self.assertEqual(exchange_line(before, b"still\n"), b"STILL\n")
                self.assertIn(f" {first} ", C.run(["cat", f"/proc/{pid}/maps"]).stdout)
            wait_for(lambda: f"unloaded plugin echo-upper ({so}" in journal_since(cursor), 10, "the old build unloaded")
            self.assertNotIn(f" {first} ", C.run(["cat", f"/proc/{pid}/maps"]).stdout)
            self.assertEqual(main_pid(), pid, "a reload must not restart ringd")
        finally:
            C.remove("/etc/ringd/conf.d/55-replaced.yaml")
            C.systemctl("reload", "ringd")

    def test_03c_access_log_entries_in_the_journal(self):
        # probe-echo has `access_log: on`: each closed connection is one journal entry with ringd's fields, found
        # by field match as an admin would look for it.
        data = b"access log entry\n"
        with open_client(f"tcp://127.0.0.1:{PROBE_PORT}") as s:
            client = "%s:%d" % s.getsockname()[:2]
            self.assertEqual(exchange_line(s, data), data.upper())
        query = ["journalctl", "-u", "ringd", "--no-pager", "-o", "json", "RINGD_LISTENER=probe-echo", "RINGD_ACCESS=1"]

        def entry():
            for line in C.run(query, check=False).stdout.splitlines():
                fields = json.loads(line)
                if fields.get("RINGD_PEER") == client:
                    return fields
            return None

        e = wait_for(entry, 10, f"the access log entry of {client}")
        expected = {"RINGD_ACCESS": "1", "RINGD_LISTENER": "probe-echo", "RINGD_PLUGIN": "echo-upper",
                    "RINGD_DIRECTION": "accepted", "RINGD_PEER": client, "RINGD_LOCAL": f"127.0.0.1:{PROBE_PORT}",
                    "RINGD_BYTES_IN": str(len(data)), "RINGD_BYTES_OUT": str(len(data)),
                    "RINGD_CLOSE_REASON": "peer", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "ringd",
                    "_SYSTEMD_UNIT": "ringd.service"}
        self.assertEqual({k: e.get(k) for k in expected}, expected)
        self.assertRegex(e["RINGD_DURATION_MS"], r"^\d+\.\d{3}$")
        self.assertRegex(e["MESSAGE"], rf"^\[probe-echo\] access: {re.escape(client)} -> 127\.0\.0\.1:{PROBE_PORT} "
                                       rf"closed \(peer\) after \d+\.\d{{3}} ms, {len(data)} bytes in, {len(data)} bytes out$")
        print(f"  journal: {e['MESSAGE']}", flush=True)

    def test_04_broken_yaml_reload_fails_and_keeps_serving(self):
        pid = main_pid()
        C.write("/etc/ringd/conf.d/60-broken.yaml",
                "listeners:\n  - name: broken\n    listen: [tcp://127.0.0.1:9902\n    plugin: echo-upper\n")
        cursor = journal_cursor()
        r = C.systemctl("reload", "ringd", check=False)
        self.assertNotEqual(r.returncode, 0, "systemctl reload must report a broken configuration")
        props = C.show("ringd", "ActiveState", "SubState", "MainPID")
        self.assertEqual((props["ActiveState"], props["SubState"]), ("active", "running"), props)
        self.assertEqual(int(props["MainPID"]), pid)
        log = journal_since(cursor)
        self.assertRegex(log, r"/etc/ringd/conf\.d/60-broken\.yaml:\d+", f"journal after the failed reload:\n{log}")
        self.assertEqual(echo_upper(f"tcp://127.0.0.1:{PROBE_PORT}"), b"HELLO RINGD\n")
        self.assertEqual(echo_upper(f"tcp://127.0.0.1:{ADDED_PORT}", b"x\n"), b"x\n")
        self.assertTrue(refused("tcp://127.0.0.1:9902"))
        C.remove("/etc/ringd/conf.d/60-broken.yaml")
        C.systemctl("reload", "ringd")

    def test_05_reload_that_cannot_bind_keeps_serving(self):
        # Valid config, but the new port is held by another process: only ringd itself can find out.
        C.run(["systemd-run", "--unit=port-holder", "--", "python3", "-c",
               "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
               f"s.bind(('127.0.0.1', {TAKEN_PORT})); s.listen(); time.sleep(600)"])
        try:
            wait_for(lambda: not refused(f"tcp://127.0.0.1:{TAKEN_PORT}"), 10, "the port holder")
            C.write("/etc/ringd/conf.d/70-taken.yaml",
                    f"listeners:\n  - name: taken\n    listen: tcp://127.0.0.1:{TAKEN_PORT}\n    plugin: echo-upper\n")
            cursor = journal_cursor()
            C.systemctl("reload", "ringd")  # systemd 252 cannot see this failure (see README.systemd.md)
            errors = wait_for(lambda: journal_since(cursor, max_priority=3), 10, "ringd's error in the journal")
            self.assertRegex(errors, r"/etc/ringd/conf\.d/70-taken\.yaml:\d+:\d+: listener 'taken': cannot bind")
            self.assertEqual(C.show("ringd", "ActiveState")["ActiveState"], "active")
            self.assertEqual(echo_upper(f"tcp://127.0.0.1:{PROBE_PORT}"), b"HELLO RINGD\n")
        finally:
            C.remove("/etc/ringd/conf.d/70-taken.yaml")
            C.systemctl("stop", "port-holder", check=False)
        C.systemctl("reload", "ringd")

    def test_06_watchdog_pings_arrive(self):
        self.assertEqual(C.show("ringd", "WatchdogUSec")["WatchdogUSec"], "10s")
        first = int(C.show("ringd", "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"])
        later = wait_for(lambda: int(C.show("ringd", "WatchdogTimestampMonotonic")["WatchdogTimestampMonotonic"])
                         > first, 6, "a second watchdog ping")
        self.assertTrue(later)

    def test_07_stop_is_clean(self):
        cursor = journal_cursor()
        C.systemctl("stop", "ringd")
        props = C.show("ringd", "ActiveState", "Result", "ExecMainStatus")
        self.assertEqual(props, {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"})
        self.assertIn("stopped", journal_since(cursor))
        self.assertTrue(refused(f"tcp://127.0.0.1:{PROBE_PORT}"))

    def test_07b_drain_longer_than_TimeoutStopSec_is_not_killed(self):
        # shutdown_timeout 3s against TimeoutStopSec=1s: ringd's EXTEND_TIMEOUT_USEC with STOPPING=1 must keep
        # systemd from SIGKILLing the drain after 1 s (Result=timeout) while a peer that never reads holds it.
        config = C.path("/etc/ringd/ringd.yaml")
        with open(config) as f:
            shipped = f.read()
        self.assertIn("shutdown_timeout: 5s", shipped)
        C.write("/etc/ringd/ringd.yaml", shipped.replace("shutdown_timeout: 5s", "shutdown_timeout: 3s"))
        C.run(["mkdir", "-p", "/etc/systemd/system/ringd.service.d"])
        C.write("/etc/systemd/system/ringd.service.d/short-stop.conf", "[Service]\nTimeoutStopSec=1s\n")
        C.systemctl("daemon-reload")
        try:
            C.systemctl("start", "ringd")
            with open_client(f"tcp://127.0.0.1:{PROBE_PORT}") as hog:
                hog.setblocking(False)
                chunk, stalled_since, give_up = b"x" * 65536, None, time.monotonic() + 30
                while stalled_since is None or time.monotonic() - stalled_since < 0.3:  # both buffers full
                    self.assertLess(time.monotonic(), give_up, "ringd kept reading from a peer that never reads")
                    try:
                        hog.send(chunk)
                        stalled_since = None
                    except BlockingIOError:
                        stalled_since = stalled_since or time.monotonic()
                        time.sleep(0.02)
                started = time.monotonic()
                C.systemctl("stop", "ringd")
                took = time.monotonic() - started
            props = C.show("ringd", "Result", "ExecMainStatus")
            print(f"  systemctl stop with a 3 s drain and TimeoutStopSec=1s took {took:.1f}s: {props}")
            self.assertEqual(props, {"Result": "success", "ExecMainStatus": "0"})
            self.assertGreater(took, 2.5)
        finally:
            C.write("/etc/ringd/ringd.yaml", shipped)
            C.remove("/etc/systemd/system/ringd.service.d/short-stop.conf")
            C.systemctl("daemon-reload")
            C.systemctl("reset-failed", "ringd", check=False)

    def test_08_kill_9_is_restarted(self):
        C.systemctl("start", "ringd")
        before = C.show("ringd", "MainPID", "NRestarts")
        C.run(["kill", "-9", before["MainPID"]])
        wait_for(lambda: (lambda p: p["ActiveState"] == "active" and p["MainPID"] not in ("0", before["MainPID"]))(
            C.show("ringd", "ActiveState", "MainPID")), 20, "systemd to restart ringd")
        self.assertEqual(int(C.show("ringd", "NRestarts")["NRestarts"]), int(before["NRestarts"]) + 1)
        self.assertEqual(echo_upper(f"tcp://127.0.0.1:{PROBE_PORT}"), b"HELLO RINGD\n")

    def test_09_socket_activation(self):
        with open(C.path("/usr/lib/systemd/system/ringd.socket")) as f:
            unit = f.read()
        listen = re.search(r"(?m)^ListenStream=(\S+)", unit).group(1)
        fd_name = re.search(r"(?m)^FileDescriptorName=(\S+)", unit).group(1)
        by_name = {name: (endpoint, plugin) for name, endpoint, plugin in shipped_listeners()}
        self.assertIn(fd_name, by_name, f"ringd.socket passes '{fd_name}', but the shipped ringd.yaml has no "
                                        f"listener of that name: ringd would refuse to start")
        endpoint, plugin = by_name[fd_name]
        self.assertEqual(endpoint, f"tcp://{listen}", "ringd.socket and the shipped listener disagree")

        C.systemctl("stop", "ringd")
        C.systemctl("start", "ringd.socket")
        self.assertEqual(C.show("ringd", "ActiveState")["ActiveState"], "inactive")
        self.assertTrue(PROBES.get(plugin) is probe_echo_upper, "the activated listener should be echo-upper")
        for round_ in ("first connection starts ringd", "again after ringd stopped"):
            with self.subTest(round_):
                with open_client(endpoint) as s:  # queued in the socket's backlog until ringd is up
                    self.assertEqual(exchange_line(s, b"activated\n", timeout=30), b"ACTIVATED\n")
                props = C.show("ringd", "ActiveState", "TriggeredBy")
                self.assertEqual(props["ActiveState"], "active")
                self.assertIn("ringd.socket", props["TriggeredBy"])
                C.systemctl("stop", "ringd")  # the socket stays: the next connection starts ringd again
                self.assertEqual(C.show("ringd.socket", "ActiveState")["ActiveState"], "active")
        C.systemctl("stop", "ringd.socket", "ringd")
        self.assertTrue(refused(endpoint))

    def test_09b_socket_nobody_claims_is_refused(self):
        # A socket unit whose FileDescriptorName= matches no listener: ringd must refuse to start, naming it.
        C.run(["mkdir", "-p", "/etc/systemd/system/ringd.socket.d"])
        C.write("/etc/systemd/system/ringd.socket.d/test.conf", "[Socket]\nFileDescriptorName=nobody-here\n")
        C.systemctl("daemon-reload")
        cursor = journal_cursor()
        try:
            C.systemctl("start", "ringd.socket")
            with contextlib.suppress(OSError):
                open_client(self.socket_endpoint(), timeout=1).close()  # triggers ringd.service
            log = wait_for(lambda: (lambda text: text if "nobody-here" in text else "")(journal_since(cursor)), 15,
                           "ringd to refuse the unclaimed socket")
            print(f"  ringd said: {[line for line in log.splitlines() if 'nobody-here' in line][0]}")
            self.assertNotEqual(C.show("ringd", "ActiveState")["ActiveState"], "active")
        finally:
            C.systemctl("stop", "ringd.socket", "ringd", check=False)
            C.systemctl("reset-failed", "ringd", "ringd.socket", check=False)
            C.remove("/etc/systemd/system/ringd.socket.d/test.conf")
            C.systemctl("daemon-reload")

    @staticmethod
    def socket_endpoint():
        with open(C.path("/usr/lib/systemd/system/ringd.socket")) as f:
            return "tcp://" + re.search(r"(?m)^ListenStream=(\S+)", f.read()).group(1)

    def test_10_maintainer_scripts(self):
        def script(name, *args):  # with the environment dpkg gives maintainer scripts
            return C.run(["env", "DPKG_MAINTSCRIPT_PACKAGE=ringd", f"DPKG_MAINTSCRIPT_NAME={name}",
                          "sh", f"/mnt/ringd/DEBIAN/{name}", *args])

        def enabled():
            return C.systemctl("is-enabled", "ringd", check=False).stdout.strip()

        C.run(["mkdir", "-p", "/etc/systemd/system-preset"])
        C.write(f"/etc/systemd/system-preset/{TEST_PRESET}", "")  # hides the test's preset: Debian's defaults
        script("postinst", "configure")  # fresh install: enable + start
        self.assertEqual(enabled(), "enabled")
        self.assertEqual(C.show("ringd", "ActiveState")["ActiveState"], "active")
        self.assertEqual(C.show("ringd.socket", "ActiveState")["ActiveState"], "inactive", "socket is opt-in")
        script("postinst", "configure", "0.0.1-1")  # upgrade: restart
        self.assertEqual(C.show("ringd", "ActiveState")["ActiveState"], "active")
        script("prerm", "remove")
        self.assertEqual(C.show("ringd", "ActiveState")["ActiveState"], "inactive")
        script("postrm", "remove")
        self.assertEqual(enabled(), "masked")
        script("postrm", "purge")
        self.assertIn(enabled(), ("disabled", "enabled-runtime", ""), "purge must lift the mask")


# -- probes for the shipped plugins ---------------------------------------------------------------------------

def probe_echo_upper(test, name, endpoint):
    reply = echo_upper(endpoint)
    test.assertIn(reply, (b"HELLO RINGD\n", b"hello ringd\n"), f"{name}: unexpected reply {reply!r}")


def probe_udp_echo(test, name, endpoint):
    family, kind, address = parse_endpoint(endpoint)
    test.assertEqual(kind, socket.SOCK_DGRAM)
    with C.netns():
        s = socket.socket(family, kind)
    with s:
        s.settimeout(5)
        s.sendto(b"ping ringd", address)
        reply = s.recvfrom(4096)[0]
    test.assertIn(reply, (b"ping ringd", b"PING RINGD"), f"{name}: unexpected reply {reply!r}")


def probe_time_of_day(test, name, endpoint):
    family, kind, address = parse_endpoint(endpoint)
    if kind == socket.SOCK_DGRAM:
        with C.netns():
            s = socket.socket(family, kind)
        with s:
            s.settimeout(5)
            s.sendto(b"\n", address)
            reply = s.recvfrom(4096)[0]
    else:
        with open_client(endpoint) as s:
            reply = s.recv(4096)
    test.assertTrue(reply.strip(), f"{name}: empty time-of-day reply")


def probe_remote_cmd(test, name, endpoint):
    # The commands run as children of ringd, inside its sandbox: fork/exec, pidfd, /proc and NSS must work.
    protocol = None
    for candidate in ("json-header", "framed"):
        r = C.run(["ringd-cmd", "-c", endpoint, "-p", candidate, "--", "pwd"], check=False, timeout=30)
        if r.returncode == 0:
            protocol = candidate
            break
    test.assertIsNotNone(protocol, f"{name}: ringd-cmd could not run pwd with either protocol:\n{r.stderr}")
    for argv in REMOTE_COMMANDS:
        r = C.run(["ringd-cmd", "-c", endpoint, "-p", protocol, "--", *argv], check=False, timeout=30)
        test.assertEqual(r.returncode, 0, f"{name}: {' '.join(argv)} failed in the sandbox:\n{r.stdout}\n{r.stderr}")
        test.assertTrue(r.stdout.strip(), f"{name}: {' '.join(argv)} printed nothing")
        if argv[0] == "whoami":
            test.assertEqual(r.stdout.strip(), "ringd", "the dynamic user is named after the unit")


def probe_connects(test, name, endpoint):
    family, kind, _ = parse_endpoint(endpoint)
    if kind == socket.SOCK_STREAM:
        open_client(endpoint).close()


PROBES = {"echo-upper": probe_echo_upper, "udp-echo": probe_udp_echo, "time-of-day": probe_time_of_day,
          "remote-cmd": probe_remote_cmd}


def host_nsswitch():
    """The host's nsswitch.conf (Debian's lists `systemd`, which resolves DynamicUser= names), or the minimum."""
    try:
        with open("/etc/nsswitch.conf") as f:
            return f.read()
    except OSError:
        return "passwd: files systemd\ngroup: files systemd\nshadow: files\nhosts: files\n"


# -- staging and main ---------------------------------------------------------------------------------------

def stage_package(destdir):
    debs = sorted(glob.glob(os.path.join(DEB_DIR, "ringd_*.deb")), key=os.path.getmtime)
    if not debs:
        raise AssertionError(f"no ringd_*.deb in {DEB_DIR}: test packaging_deb (fixture ringd_deb) makes it")
    subprocess.run(["dpkg-deb", "-x", debs[-1], destdir], check=True)
    subprocess.run(["dpkg-deb", "-e", debs[-1], os.path.join(destdir, "DEBIAN")], check=True)
    # The container's empty /etc makes systemd apply presets at its first boot, and the default preset
    # enables everything: keep ringd's units disabled until a test starts them (as after a plain unpack).
    # test_10 masks this file again, for deb-systemd-helper (which enables through `systemctl preset`).
    # `disable *` too: Debian's default preset is `enable *`, which would pull the host's units into
    # sysinit.target and sockets.target (wherever their [Install] says) even in the test's own boot target.
    preset_dir = os.path.join(destdir, "usr/lib/systemd/system-preset")
    os.makedirs(preset_dir, exist_ok=True)
    with open(os.path.join(preset_dir, TEST_PRESET), "w") as f:
        f.write("disable ringd.service\ndisable ringd.socket\ndisable *\n")
    with open(os.path.join(destdir, "usr/lib/systemd/system", BOOT_TARGET), "w") as f:
        f.write(BOOT_TARGET_UNIT)
    # Build machines and CI images often ship a /usr/sbin/policy-rc.d that forbids starting services (exit
    # 101), which deb-systemd-invoke obeys; the container should behave like an ordinary installed system.
    policy = os.path.join(destdir, "usr/sbin/policy-rc.d")
    with open(policy, "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(policy, 0o755)
    print(f"staged {debs[-1]}", flush=True)


class Terminated(KeyboardInterrupt):
    """SIGTERM (e.g. ctest's timeout). A KeyboardInterrupt, because unittest records any other exception as a
    test error and carries on, while this must stop the run at once (and still tear the container down)."""


def on_sigterm(*_):
    raise Terminated()


def main():
    global C
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ringd-systemd-") as tmp:
        destdir = os.path.join(tmp, "root")
        stage_package(destdir)
        container = Container(destdir, os.path.join(tmp, "console.log"), boot_unit=BOOT_TARGET)
        try:
            try:
                container.start()
            except NspawnUnavailable as e:
                print(f"SKIP: systemd-nspawn cannot boot a container here: {e}", flush=True)
                return SKIP
            print(f"container booted in {container.boot_seconds:.2f}s (PID 1 = host pid {container.pid1})", flush=True)
            C = container
            try:
                result = unittest.main(argv=[sys.argv[0], "-v"], exit=False).result
            except Terminated:
                print("terminated (SIGTERM): stopping the container", flush=True)
                return 143
            if not result.wasSuccessful():
                print("---- journalctl -u ringd (last 80 lines) ----")
                print(C.run(["journalctl", "-u", "ringd", "--no-pager", "-n", "80"], check=False).stdout)
            return 0 if result.wasSuccessful() else 1
        finally:
            container.stop()
            print(f"container torn down; whole test {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
