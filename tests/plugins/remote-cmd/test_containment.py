"""No command leaves processes behind, not even one that left its process group with setsid or double-forked:
whether the command exits by itself or times out, every descendant is killed, and ringd reaps them (no zombies
left as its children). Also: a run_as command runs with the user's groups, not ringd's (needs root)."""

import os
import time
import unittest

from ringd_harness import Ringd, connect, free_ports, main, tcp
from rc_client import children_of, framed_request, remote_cmd_listener, wait_until


def alive(pid):
    """True while `pid` runs (a zombie no longer counts)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def kill_if_alive(pids):
    for pid in pids:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


# Waits until the background process $! has its own session: until then, the kill of the command's process group
# as it exits would still reach it, and the test would prove nothing.
WAIT_SETSID = 'until [ "$(cut -d" " -f6 /proc/$!/stat 2>/dev/null)" = "$!" ]; do sleep 0.01; done'
# Prints the pid of a `sleep 30` that left the command's process group, and does not hold the output pipes.
ESCAPE_SETSID = "setsid sleep 30 </dev/null >/dev/null 2>&1 & " + WAIT_SETSID + "; echo $!"
# Double fork: the intermediate shell exits at once, so the sleeper is orphaned while the command still runs.
ESCAPE_DOUBLE_FORK = "(setsid sh -c 'echo $$; exec sleep 30' </dev/null 2>/dev/null &) | head -n1"


class Containment(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        (cls.port,) = free_ports(1)
        cls.ringd = Ringd(listeners=[
            remote_cmd_listener("cmd", tcp(cls.port), protocol="framed", allow=["*"], shell=True, timeout="1s"),
        ]).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.cleanup()

    def run_cmd(self, line):
        with connect(self.port) as s:
            start = time.monotonic()
            header, out, _ = framed_request(s, {"cmd": line}, timeout=10)
            return header, out, time.monotonic() - start

    def check_escapee_killed(self, header, out):
        pids = [int(p) for p in out.split()]
        self.assertEqual(len(pids), 1, (header, out))
        try:
            # Killed when the command ended: before, it was still running 4 s after the reply.
            self.assertTrue(wait_until(lambda: not alive(pids[0]), timeout=1.0), f"pid {pids[0]} survived")
            # And reaped by ringd, which it was handed to: no zombie left behind.
            self.assertTrue(wait_until(lambda: pids[0] not in children_of(self.ringd.pid), timeout=2.0))
        finally:
            kill_if_alive(pids)

    def test_setsid_descendant_dies_when_the_command_exits(self):
        header, out, took = self.run_cmd(ESCAPE_SETSID)
        self.assertEqual(header["exit_code"], 0, header)
        self.assertFalse(header["timed_out"])
        self.assertLess(took, 0.9)  # it ran to its end, well before the timeout
        self.check_escapee_killed(header, out)

    def test_double_forked_descendant_dies_when_the_command_exits(self):
        header, out, _ = self.run_cmd(ESCAPE_DOUBLE_FORK)
        self.assertEqual(header["exit_code"], 0, header)
        self.check_escapee_killed(header, out)

    def test_setsid_descendant_dies_when_the_command_times_out(self):
        header, out, took = self.run_cmd(ESCAPE_SETSID + "; sleep 30")
        self.assertTrue(header["timed_out"], header)
        self.check_escapee_killed(header, out)

    def test_descendant_holding_the_output_pipe_does_not_delay_the_reply(self):
        # Before, the reply waited a second for the escaped writer (then gave up on the pipe, leaving it running).
        # Waits until the escapee has printed its pid and become `sleep` (same pid, after the echo).
        wait_exec = 'until [ "$(cat /proc/$!/comm 2>/dev/null)" = sleep ]; do sleep 0.01; done'
        header, out, took = self.run_cmd("setsid sh -c 'echo $$; exec sleep 30' & " + wait_exec)
        self.assertEqual(header["exit_code"], 0, header)
        self.assertLess(took, 0.9)
        self.check_escapee_killed(header, out)

    def test_no_zombies_accumulate(self):
        for _ in range(5):
            self.run_cmd("setsid sleep 0.05 </dev/null >/dev/null 2>&1 & true")
        time.sleep(0.3)
        zombies = []
        for pid in children_of(self.ringd.pid):
            if not alive(pid):
                zombies.append(pid)
        self.assertEqual(zombies, [])


if __name__ == "__main__":
    main()
