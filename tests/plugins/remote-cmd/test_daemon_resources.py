"""Running many commands leaves ringd's own resources flat: no kernel threads, fds or children pile up.

Regression test: every command's exit sends ringd a SIGCHLD, which can wake the supervisor's loop. The loop
used to arm a fresh io_uring READ on its signalfd at every wake-up, and io_uring parks each such read in an
io-wq worker thread, so ringd gained a kernel thread for a large share of the commands it ran (2,588 after
9 s of load; this test saw 158-189 after 800 commands).
"""
import os
import socket
import threading
import unittest

from rc_client import json_header_request, remote_cmd_listener
from ringd_harness import Ringd, free_port, main, scaled, tcp

COMMANDS = scaled(800, 240)
CLIENTS = 8


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def parent_of(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


class DaemonResources(unittest.TestCase):
    def test_many_commands_leave_threads_fds_and_children_flat(self):
        port = free_port()
        with Ringd(listeners=[remote_cmd_listener("cmd", tcp(port), protocol="json-header", allow=["echo"])],
                   workers=2) as d:
            threads_before = thread_count(d.pid)
            fds_before = d.open_fds()
            # Concurrent clients, as in production: SIGCHLDs then also land on the main thread, not only on
            # the workers (the bug needed the main thread's loop to wake).
            failures = []

            def client(k):
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
                        for i in range(COMMANDS // CLIENTS):
                            header, out, _ = json_header_request(s, f"echo {k}-{i}")
                            if (header["exit_code"], out) != (0, f"{k}-{i}\n".encode()):
                                failures.append((k, i, header, out))
                except Exception as e:  # reported below, on the test's thread
                    failures.append((k, repr(e)))

            threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
            self.assertEqual(failures, [])
            threads_after = thread_count(d.pid)
            # One launcher per worker (ringd-spawnN, started by its first command), plus up to two the kernel
            # adds transiently; never one per command.
            self.assertLessEqual(threads_after, threads_before + 4,
                                 f"{threads_after} threads after {COMMANDS} commands (started with {threads_before})")
            self.assertLessEqual(d.open_fds(), fds_before + 2)
            children = [p for p in os.listdir("/proc") if p.isdigit() and parent_of(p) == d.pid]
            self.assertEqual(children, [], "unreaped or leftover children")
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
