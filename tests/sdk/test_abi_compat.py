"""ABI 1.0 plugins in this (ABI 1.1) ringd, through real sockets, and what ringd says about ABI versions.

abi10-echo is written in C against the frozen 1.0 header (tests/sdk/abi-1.0/ringd/plugin.h): it must load
and serve unchanged, with its timers, user pointer and close-after-flush. `ringd --version` names the host's
plugin ABI; the load log line and `--check-config` name each plugin's.
"""
import os
import re
import unittest

import ringd_harness as h


def abi_header_minor():
    with open(os.path.join(os.environ["RINGD_SOURCE_DIR"], "sdk", "include", "ringd", "plugin.h")) as f:
        return int(re.search(r"#define RINGD_PLUGIN_ABI_MINOR (\d+)u", f.read()).group(1))


class Abi10PluginServes(unittest.TestCase):
    def test_a_1_0_plugin_works_unchanged(self):
        port = h.free_port()
        with h.Ringd(listeners=[h.listener("old", h.tcp(port), h.test_plugin("abi10-echo"))]) as d:
            with h.connect(port) as s:
                s.sendall(b"host?")
                answer = b"host table covers 1.0: yes\n"
                self.assertEqual(h.recv_exactly(s, len(answer)), answer)
                s.sendall(b"ping")
                self.assertEqual(h.recv_exactly(s, len(b"abi-1.0 #1: ping")), b"abi-1.0 #1: ping")
                s.sendall(b"later")
                self.assertEqual(h.recv_exactly(s, len(b"abi-1.0 timer\n")), b"abi-1.0 timer\n")
                s.sendall(b"pong")
                self.assertEqual(h.recv_exactly(s, len(b"abi-1.0 #2: pong")), b"abi-1.0 #2: pong")
                s.sendall(b"bye")
                self.assertEqual(h.recv_until_eof(s), b"bye\n")
            # A second connection has its own user pointer (count starts again).
            with h.connect(port) as s:
                s.sendall(b"x")
                self.assertEqual(h.recv_exactly(s, len(b"abi-1.0 #1: x")), b"abi-1.0 #1: x")
            log = d.log()
            self.assertRegex(log, r"loaded plugin abi10-echo 1\.0\.0 \(ABI 1\.0\) from \S+abi10-echo\.so: "
                                  r"build-id [0-9a-f]{16,}, inode \d+, mtime \d{4}-\d\d-\d\dT[0-9:.]+Z")
            self.assertIn("plugin abi10-echo 1.0.0 (ABI 1.0, ", log)  # the "listening:" line
            d.assert_exits_cleanly()

    def test_check_config_names_each_plugins_abi(self):
        port = h.free_port()
        text = h.config_yaml([h.listener("old", h.tcp(port), h.test_plugin("abi10-echo")),
                              h.listener("new", h.tcp(h.free_port()), "echo-upper")])
        code, out = h.check_config_text(text)
        self.assertEqual(code, 0, out)
        self.assertIn(f"old: tcp://127.0.0.1:{port} -> plugin abi10-echo 1.0.0 (ABI 1.0, ", out)
        self.assertRegex(out, r"new: \S+ -> plugin echo-upper \S+ \(ABI 1\.\d+, ")
        self.assertNotIn("loaded plugin", out)  # the load and unload lines are the daemon's, not --check-config's
        self.assertNotIn("unloaded plugin", out)


class Version(unittest.TestCase):
    def test_version_names_the_host_plugin_abi(self):
        r = h.run_ringd(["--version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.strip(), rf"^ringd \d+\.\d+\.\d+, plugin ABI 1\.{abi_header_minor()}$")


if __name__ == "__main__":
    h.main()
