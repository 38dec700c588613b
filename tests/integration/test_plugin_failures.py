"""When a plugin fails in ways ringd cannot catch: a callback that blocks its worker (the stall detector logs
listener, plugin, callback and duration from outside the worker) and a callback that crashes the process (the
fatal-signal reporter names the .so and callback on stderr, then ringd dies of that very signal so that systemd
restarts it). Exceptions are covered by test_robustness.py (ThrowingPlugins)."""

import os
import re
import shutil
import signal
import socket
import time
import unittest

from ringd_harness import (SANITIZED, Ringd, echo_roundtrip, free_port, listener, main, tcp, test_plugin,
                           wait_until)

# No core files from the crashes on purpose: prlimit execs ringd, so the pid is still ringd's.
NO_CORE = ("prlimit", "--core=0", "--") if shutil.which("prlimit") else ()


class Stalls(unittest.TestCase):
    def test_a_blocking_callback_is_reported_while_it_blocks_and_when_it_returns(self):
        port = free_port()
        with Ringd(listeners=[listener("slow", tcp(port), test_plugin("staller"))], workers=1) as d:
            # Normal traffic for longer than the threshold (1 s) trips nothing: only a single call counts.
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                deadline = time.monotonic() + 1.5
                rounds = 0
                while time.monotonic() < deadline and rounds < 20000:
                    self.assertEqual(echo_roundtrip(s, b"quick"), b"quick")
                    rounds += 1
            self.assertGreater(rounds, 50)
            self.assertNotIn("has been running for", d.log(), "the stall detector fired for normal traffic")

            victim = socket.create_connection(("127.0.0.1", port), timeout=10)
            sent_at = time.monotonic()
            victim.sendall(b"please stall")
            line = wait_until(lambda: re.search(r".*has been running for.*", d.log()), timeout=5,
                              what="the stall reported").group(0)
            reported_after = time.monotonic() - sent_at
            # Seen from outside while the worker is still stuck (the call takes 3 s).
            self.assertLess(reported_after, 2.8, line)
            for part in ("[slow]", "plugin staller", test_plugin("staller"), "on_data", "worker 0"):
                self.assertIn(part, line)
            so_far = float(re.search(r"running for ([0-9.]+) s", line).group(1))
            self.assertTrue(1.0 <= so_far < 2.0, line)

            done = wait_until(lambda: re.search(r".*on_data returned after ([0-9.]+) s.*", d.log()), timeout=10,
                              what="the stall's end reported")
            self.assertIn("[slow]", done.group(0))
            self.assertTrue(2.7 <= float(done.group(1)) <= 3.6, done.group(0))
            self.assertEqual(victim.recv(64), b"please stall")  # the call did finish its work
            victim.close()
            self.assertEqual(d.log().count("has been running for"), 1, "a stall must be reported once")
            d.assert_exits_cleanly()


@unittest.skipIf(SANITIZED, "ASan installs its own SEGV handler and reports crashes itself; ours is not "
                            "installed in sanitizer builds (see daemon/plugin_host/fatal_signals.hpp)")
class Crashes(unittest.TestCase):
    def _crash(self, trigger, sig):
        port = free_port()
        with Ringd(listeners=[listener("boom", tcp(port), test_plugin("crasher"))], prefix=NO_CORE) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                self.assertEqual(echo_roundtrip(s, b"fine"), b"fine")
                s.sendall(trigger)
                code = d.proc.wait(timeout=20)
            self.assertEqual(code, -sig, f"ringd should die of {sig.name}:\n" + d.log())
            log = d.log()
            line = re.search(r"ringd: fatal .*", log)
            self.assertIsNotNone(line, log)
            line = line.group(0)
            for part in (f"fatal {sig.name}", "in plugin crasher", test_plugin("crasher"), "callback on_data",
                         "listener boom"):
                self.assertIn(part, line)
            return line

    def test_a_null_write_in_a_plugin_names_the_plugin_and_callback(self):
        line = self._crash(b"segv", signal.SIGSEGV)
        self.assertIn("fault address 0x0", line)

    def test_abort_in_a_plugin_names_the_plugin_and_callback(self):
        self._crash(b"abort", signal.SIGABRT)

    def test_a_stack_overflow_in_a_plugin_is_reported_on_the_alternate_stack(self):
        self._crash(b"overflow", signal.SIGSEGV)

    def test_a_crash_outside_any_plugin_call_says_so(self):
        port = free_port()
        with Ringd(listeners=[listener("boom", tcp(port), test_plugin("crasher"))], prefix=NO_CORE) as d:
            os.kill(d.pid, signal.SIGSEGV)
            self.assertEqual(d.proc.wait(timeout=20), -signal.SIGSEGV, d.log())
            self.assertRegex(d.log(), r"ringd: fatal SIGSEGV \(sent by pid \d+\) outside any plugin call")


if __name__ == "__main__":
    main()
