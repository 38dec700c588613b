"""A datagram listener whose recvmsg fails for good must not spin its worker, nor flood the log.

The udp-breaker test plugin makes recvmsg on ringd's UDP socket fail with ENOTCONN every time (nothing from
outside the process can: see tests/plugins/test-plugins/udp_breaker.cpp). Without a back-off the worker
re-armed at once and burnt a whole CPU, logging a line per failure. What this proves: ringd's CPU time while
the error persists stays small, the other listener (on the same worker) keeps serving, and the log has one
line at once and then one per 10 s whose count (~100) shows the retries are paced at about 10 a second.
RearmBackoff's decisions themselves are unit-tested in tests/engine/datagram_sender_test.cpp.
"""
import os
import re
import socket
import time
import unittest

from ringd_harness import Ringd, free_port, listener, main, test_plugin, udp


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def udp_roundtrip(port, data, timeout=5.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, ("127.0.0.1", port))
        return s.recvfrom(65536)[0]


class PersistentRecvmsgError(unittest.TestCase):
    def test_worker_does_not_spin_and_logs_with_a_count(self):
        broken = free_port(socket.SOCK_DGRAM)
        healthy = free_port(socket.SOCK_DGRAM)
        with Ringd([listener("broken", udp(broken), test_plugin("udp-breaker")),
                    listener("healthy", udp(healthy), test_plugin("udp-breaker"))], workers=1) as d:
            self.assertEqual(udp_roundtrip(broken, b"ping"), b"ping")
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(f"break {broken}".encode(), ("127.0.0.1", broken))
            deadline = time.monotonic() + 5
            while "replaced" not in d.log():
                self.assertLess(time.monotonic(), deadline, d.log())
                time.sleep(0.02)
            time.sleep(0.2)  # the first errors are in
            before = cpu_seconds(d.pid)
            time.sleep(2.0)
            used = cpu_seconds(d.pid) - before
            print(f"ringd CPU time over 2 s of persistent errors: {used:.3f} s")
            # Spinning costs ~2 s of CPU here (one core, or what the machine leaves of it); the back-off, 20
            # re-arms. 0.3 s leaves room for a loaded machine and a sanitizer build.
            self.assertLess(used, 0.3, f"ringd used {used:.2f} s of CPU in 2 s")
            self.assertEqual(udp_roundtrip(healthy, b"still here"), b"still here")
            # The first error (the plugin's one-shot ECONNREFUSED) is logged at once; the persistent ENOTCONN
            # that follows only once the 10 s interval is over, with a count: ~10 retries a second.
            deadline = time.monotonic() + 15
            while "not connected (" not in d.log():
                self.assertLess(time.monotonic(), deadline, d.log()[-2000:])
                time.sleep(0.1)
            lines = [l for l in d.log().splitlines() if "[broken] recvmsg" in l]
            self.assertIn("Connection refused", lines[0])
            self.assertEqual(len(lines), 2, "\n".join(lines[:10]))
            m = re.search(r"not connected \((\d+) errors in the last 10 s; retrying every 100 ms\)", lines[1])
            self.assertIsNotNone(m, lines[1])
            self.assertTrue(50 <= int(m.group(1)) <= 110, lines[1])

if __name__ == "__main__":
    main()
