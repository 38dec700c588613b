"""A throwaway systemd, booted with systemd-nspawn over the host's own OS, for end-to-end tests of ringd's units.

The container sees the host's /usr read-only with a staged install (DESTDIR) laid over it, so /usr/sbin/ringd
and /usr/lib/systemd/system/ringd.service are the files under test; everything else (/etc, /var, /run) is a
fresh tmpfs (--volatile=yes: nothing it writes reaches the host, in particular not the host's /tmp, which
systemd-tmpfiles would clean). It has its own network namespace with only loopback.

What the container boots is the caller's choice (`boot_unit`, passed as systemd.unit=). The default,
multi-user.target, starts whatever services the host has installed (the empty /etc makes systemd enable every
unit by preset at first boot), so a test that must not depend on the host boots a target of its own instead,
staged under the overlaid /usr (see test_systemd.py).

    with Container(destdir, log_path, boot_unit="my-test.target") as c:
        c.systemctl("start", "ringd")
        with c.netns():
            s = socket.create_connection(("127.0.0.1", 8080))   # a socket inside the container's network

Stdlib only. Needs root and the systemd-container package. Works without systemd on the host (--keep-unit,
--register=no: no machined, no D-Bus); the container's PID 1 is found as nspawn's child process.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import time

CLONE_NEWNET = 0x40000000
SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


class NspawnUnavailable(Exception):
    """systemd-nspawn cannot boot a container on this machine at all (the test is then skipped, not failed)."""


class Container:
    def __init__(self, destdir, log_path, name=None, boot_timeout=90.0, boot_unit="multi-user.target"):
        self.destdir = os.path.abspath(destdir)
        self.log_path = log_path
        self.boot_unit = boot_unit
        # Unique per run: nspawn keeps per-machine state under /run/systemd/nspawn/ on the host.
        self.name = name or f"ringd-test-{os.getpid()}"
        self.boot_timeout = boot_timeout
        self.proc = None
        self.pid1 = None
        self.boot_seconds = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        if shutil.which("systemd-nspawn") is None:
            raise NspawnUnavailable("systemd-nspawn is not installed (Debian package systemd-container)")
        if os.geteuid() != 0:
            raise NspawnUnavailable("systemd-nspawn needs root")
        if not os.path.isdir(os.path.join(self.destdir, "usr")):
            raise FileNotFoundError(f"{self.destdir}/usr does not exist: nothing to overlay")
        cmd = [
            "systemd-nspawn", "--quiet", "--keep-unit", "--register=no", f"--machine={self.name}",
            "--directory=/", "--volatile=yes", "--boot", "--private-network",
            f"--overlay-ro=/usr:{self.destdir}/usr:/usr", f"--bind-ro={self.destdir}:/mnt/ringd",
            "--console=read-only",
            # Kernel-command-line options for the container's systemd: an empty /etc would otherwise start
            # the interactive first-boot wizard and block the boot on a key press.
            "--", "systemd.firstboot=off", f"systemd.unit={self.boot_unit}",
        ]
        # The host's own service-manager variables must not leak into nspawn (it would notify the host).
        env = {k: v for k, v in os.environ.items()
               if k not in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "WATCHDOG_USEC")}
        self._log = open(self.log_path, "wb")
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, start_new_session=True)
        self.pid1 = self._find_pid1(started + 20.0)
        self._wait_booted(started + self.boot_timeout)
        self.boot_seconds = time.monotonic() - started

    def _find_pid1(self, deadline):
        """The container's init is nspawn's child whose command is 'systemd' (host PID)."""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise NspawnUnavailable(f"systemd-nspawn exited with {self.proc.returncode} before the container's "
                                        f"init started:\n{self.log_tail()}")
            for pid in _children(self.proc.pid):
                if _comm(pid) == "systemd":
                    return pid
            time.sleep(0.05)
        raise NspawnUnavailable("the container's systemd did not appear within 20 s:\n" + self.log_tail())

    def _wait_booted(self, deadline):
        state = ""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the container stopped during boot ({self.proc.returncode}):\n{self.log_tail()}")
            state = self.run(["systemctl", "is-system-running"], check=False, timeout=10).stdout.strip()
            if state in ("running", "degraded"):
                if state == "degraded":
                    failed = self.run(["systemctl", "--failed", "--no-legend", "--plain"], check=False).stdout
                    print(f"note: container booted degraded; failed units:\n{failed}", flush=True)
                return
            time.sleep(0.1)
        raise AssertionError(f"container did not finish booting (state {state!r}):\n{self.log_tail()}")

    def stop(self, timeout=20.0):
        """Always tears the container down: SIGTERM to nspawn (an orderly poweroff of the container), then
        SIGKILL to nspawn and to the container's PID 1, which takes the whole PID namespace with it."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.pid1 is not None and _comm(self.pid1) == "systemd":
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid1, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while _comm(self.pid1) is not None and time.monotonic() < deadline:
                time.sleep(0.05)
        if hasattr(self, "_log"):
            self._log.close()

    # -- driving it ------------------------------------------------------------------------------------------
    def run(self, argv, check=True, timeout=60, input=None):
        """Runs argv inside the container (all its namespaces) with a sane PATH; returns CompletedProcess."""
        cmd = ["nsenter", "-t", str(self.pid1), "-a", "env", "-i", f"PATH={SAFE_PATH}", "LANG=C.UTF-8",
               "SYSTEMD_PAGER=", "SYSTEMD_COLORS=0"] + list(argv)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, input=input)
        if check and r.returncode != 0:
            raise AssertionError(f"in container: {' '.join(argv)} exited {r.returncode}\nstdout:\n{r.stdout}\n"
                                 f"stderr:\n{r.stderr}")
        return r

    def systemctl(self, *args, check=True, timeout=90):
        return self.run(["systemctl", "--no-pager", *args], check=check, timeout=timeout)

    def show(self, unit, *props):
        """systemctl show values, as a dict."""
        out = self.systemctl("show", unit, "--property=" + ",".join(props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def path(self, inside):
        """Host path of a file inside the container (through /proc/PID/root)."""
        return f"/proc/{self.pid1}/root{inside}"

    def write(self, inside, text):
        with open(self.path(inside), "w") as f:
            f.write(text)

    def remove(self, inside):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path(inside))

    @contextlib.contextmanager
    def netns(self):
        """Runs the block in the container's network namespace: sockets created inside stay there (and stay
        usable after the block). Only this thread switches; it is switched back even on errors."""
        libc = ctypes.CDLL(None, use_errno=True)
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        theirs = os.open(f"/proc/{self.pid1}/ns/net", os.O_RDONLY)
        try:
            if libc.setns(theirs, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns into the container's network namespace")
            try:
                yield
            finally:
                if libc.setns(own, CLONE_NEWNET) != 0:
                    os._exit(99)  # cannot continue in the wrong network namespace
        finally:
            os.close(own)
            os.close(theirs)

    def log_tail(self, n=60):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        pass
    out = []  # kernels without CONFIG_PROC_CHILDREN: scan every process's parent
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None
