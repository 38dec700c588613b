"""remote-cmd limits against the real daemon: timeout (SIGTERM to the group, SIGKILL a second later, nothing
of the group survives, grandchildren included), max_output truncation, max_concurrent with its bounded wait
queue and "busy", and that 50 concurrent commands do not slow other traffic on the same daemon."""

import os
import signal
import socket
import statistics
import threading
import time
import unittest

from ringd_harness import Ringd, connect, free_ports, listener, main, recv_exactly, scaled, tcp
from rc_client import (framed_request, json_header_request, process_group_members, read_framed_reply,
                       frame, remote_cmd_listener, wait_until)


def leader_pid(out):
    """The first line a test command prints is its shell's $$: the process group id of the command."""
    return int(out.split(b"\n", 1)[0])


class Timeouts(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        (cls.port,) = free_ports(1)
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("cmd", tcp(cls.port), protocol="framed", allow=["sleep", "sh"], timeout="1s"),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def run_timed(self, argv):
        with connect(self.port) as s:
            start = time.monotonic()
            header, out, err = framed_request(s, {"argv": argv}, timeout=10)
            return header, out, err, time.monotonic() - start

    def test_sleep_times_out_within_two_seconds(self):
        header, _, _, elapsed = self.run_timed(["sleep", "30"])
        self.assertIs(header["timed_out"], True)
        self.assertEqual(header["signal"], 15)
        self.assertLess(elapsed, 2.0)
        self.assertGreaterEqual(elapsed, 0.9)

    def test_whole_group_is_gone_after_timeout(self):
        header, out, _, elapsed = self.run_timed(["sh", "-c", "echo $$; sleep 30 & sleep 30 & wait"])
        self.assertIs(header["timed_out"], True)
        self.assertLess(elapsed, 2.0)
        pgid = leader_pid(out)
        self.assertTrue(wait_until(lambda: not process_group_members(pgid), 2.0), process_group_members(pgid))

    def test_grandchild_ignoring_sigterm_is_killed(self):
        # The grandchild ignores SIGTERM and keeps the output pipe open: SIGKILL to the group a second later.
        script = "echo $$; (trap '' TERM; exec sleep 30) & wait"
        header, out, _, elapsed = self.run_timed(["sh", "-c", script])
        self.assertIs(header["timed_out"], True)
        self.assertLess(elapsed, 3.0)
        pgid = leader_pid(out)
        self.assertTrue(wait_until(lambda: not process_group_members(pgid), 2.0), process_group_members(pgid))

    def test_detached_grandchild_ignoring_sigterm_is_killed(self):
        # Same, but the grandchild does not hold the pipes: the reply may come as soon as the leader dies, yet
        # nothing of the group may outlive the SIGKILL that follows one second after the SIGTERM.
        script = "echo $$; (trap '' TERM; exec sleep 30 >/dev/null 2>&1) & wait"
        header, out, _, _ = self.run_timed(["sh", "-c", script])
        self.assertIs(header["timed_out"], True)
        pgid = leader_pid(out)
        self.assertTrue(wait_until(lambda: not process_group_members(pgid), 3.0), process_group_members(pgid))

    def test_a_writer_that_left_the_group_cannot_hold_the_reply_forever(self):
        # The leader exits at once; a process it started in a new session (out of reach of the group kill)
        # keeps writing to the output pipe. A second after the leader's exit the reply must go out with what
        # was collected. Before, a read that had data re-armed itself for ever: no reply, a busy worker, and a
        # ringd that did not stop on SIGTERM.
        script = "setsid sh -c 'echo $$; while :; do echo x; done' & sleep 0.3"
        writer = None
        try:
            with connect(self.port) as s:
                start = time.monotonic()
                header, out, _ = framed_request(s, {"argv": ["sh", "-c", script]}, timeout=10)
                elapsed = time.monotonic() - start
                writer = int(out.split(b"\n", 1)[0])
            self.assertIs(header["ok"], True, header)
            self.assertEqual(header["exit_code"], 0)
            self.assertLess(elapsed, 4.0)
        finally:
            if writer is not None:
                os.kill(writer, signal.SIGKILL)

    def test_requested_timeout_is_capped_by_the_listener(self):
        with connect(self.port) as s:
            start = time.monotonic()
            header, _, _ = framed_request(s, {"argv": ["sleep", "30"], "timeout_ms": 60000})
            self.assertIs(header["timed_out"], True)
            self.assertLess(time.monotonic() - start, 2.0)
            start = time.monotonic()
            header, _, _ = framed_request(s, {"argv": ["sleep", "30"], "timeout_ms": 200})
            self.assertIs(header["timed_out"], True)
            self.assertLess(time.monotonic() - start, 0.9)


class Output(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.jh, cls.fr, cls.small = free_ports(3)
        allow = ["head", "sh"]
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("jh", tcp(cls.jh), protocol="json-header", allow=allow),
            remote_cmd_listener("fr", tcp(cls.fr), protocol="framed", allow=allow),
            remote_cmd_listener("small", tcp(cls.small), protocol="framed", allow=allow, max_output="64KiB"),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def test_ten_megabytes_truncated_at_default_max_output(self):
        with connect(self.jh) as s:
            header, out, err = json_header_request(s, "head -c 10000000 /dev/zero")
            self.assertIs(header["truncated"], True)
            self.assertEqual(header["total_size"], 1024 * 1024)
            self.assertEqual(len(out) + len(err), 1024 * 1024)
            self.assertEqual(header["exit_code"], 0)

    def test_limit_spans_stdout_and_stderr(self):
        with connect(self.small) as s:
            header, out, err = framed_request(s, {"argv": ["sh", "-c",
                                                           "head -c 40000 /dev/zero; head -c 40000 /dev/zero >&2"]})
            self.assertIs(header["truncated"], True)
            self.assertEqual(len(out) + len(err), 64 * 1024)

    def test_exactly_at_the_limit_is_not_truncated(self):
        with connect(self.small) as s:
            header, out, _ = framed_request(s, {"argv": ["head", "-c", str(64 * 1024), "/dev/zero"]})
            self.assertIs(header["truncated"], False)
            self.assertEqual(len(out), 64 * 1024)


class Concurrency(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gate, cls.many, cls.echo = free_ports(3)
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("gate", tcp(cls.gate), protocol="framed", allow=["sleep"], max_concurrent=2,
                                max_queued=1),
            remote_cmd_listener("many", tcp(cls.many), protocol="framed", allow=["sleep"], max_concurrent=64),
            listener("echo", tcp(cls.echo), "echo-upper"),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def test_max_concurrent_queue_and_busy(self):
        socks = [connect(self.gate) for _ in range(4)]
        try:
            start = time.monotonic()
            for i, s in enumerate(socks):
                s.sendall(frame({"argv": ["sleep", "1"]}))
                time.sleep(0.05)  # arrival order: two run, one waits, one is busy
            header, _, _ = read_framed_reply(socks[3])
            self.assertIs(header["ok"], False)
            self.assertEqual(header["error_code"], "busy")
            self.assertLess(time.monotonic() - start, 0.9)
            for s in socks[:2]:
                header, _, _ = read_framed_reply(s)
                self.assertIs(header["ok"], True)
            header, _, _ = read_framed_reply(socks[2])
            self.assertIs(header["ok"], True)
            self.assertGreater(time.monotonic() - start, 1.9)  # it waited for a slot
        finally:
            for s in socks:
                s.close()

    def burst_of_sleeps(self, probe_seconds):
        """Starts 50 `sleep 1` at once and times echo-upper round trips on the same daemon meanwhile."""
        socks = [connect(self.many) for _ in range(50)]
        latencies = []
        try:
            start = time.monotonic()
            for s in socks:
                s.sendall(frame({"argv": ["sleep", "1"]}))
            with connect(self.echo) as e:
                e.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while time.monotonic() - start < probe_seconds:
                    t0 = time.perf_counter()
                    e.sendall(b"ping")
                    self.assertEqual(recv_exactly(e, 4), b"PING")
                    latencies.append(time.perf_counter() - t0)
                    time.sleep(0.002)
            for s in socks:
                header, _, _ = read_framed_reply(s)
                self.assertIs(header["ok"], True)
                self.assertEqual(header["exit_code"], 0)
            self.assertLess(time.monotonic() - start, 3.0)  # they ran concurrently (one after another: 50 s)
        finally:
            for s in socks:
                s.close()
        return latencies

    def test_fifty_sleeps_do_not_delay_other_traffic(self):
        bursts = [self.burst_of_sleeps(probe_seconds=1.5) for _ in range(3)]
        latencies = sorted(sample for burst in bursts for sample in burst)
        worst_per_burst = sorted(max(burst) for burst in bursts)
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(f"echo-upper round trips: {len(latencies)}, median {statistics.median(latencies) * 1e3:.3f} ms, "
              f"p99 {p99 * 1e3:.3f} ms, worst per burst {[round(w * 1e3, 3) for w in worst_per_burst]} ms")
        self.assertGreater(len(latencies), 300)
        # The bound is for the optimized build; ASan+UBSan makes every request several times dearer.
        self.assertLess(p99, scaled(0.005, 0.020))
        # A worker that started the commands itself froze once per burst for 16-36 ms (posix_spawn waits for
        # each exec): one round trip, invisible in the p99, so the worst of each burst is checked too. With the
        # launcher thread it is 1-7 ms here, even with both cores busy with other work. A single worst sample
        # also catches a VM's stolen time (16 ms once in CI), so the bound holds for the median burst: a worker
        # that blocks does so in every burst. Under ASan the workers' own parsing of 50 requests takes up to
        # ~45 ms, so there only a loop frozen until the commands end is caught.
        self.assertLess(worst_per_burst[1], scaled(0.012, 0.250))

if __name__ == "__main__":
    main()
