"""Config warnings through the real binary: `--check-config` prints each as file:line:col: warning: ... and exits
0, `--check-config --strict` exits 1 on any warning, errors keep exit 1, and a daemon started or reloaded with
such a config serves it and logs every warning at warn level."""

import os
import re
import tempfile
import unittest

from ringd_harness import PLUGIN_DIR, Ringd, connect, echo_roundtrip, free_port, main, run_ringd

# Three warnings: a range with host bits set (line 7), and remote-cmd's default queue_timeout (10s) at least as
# long as the listener's idle_timeout (line 14); shutdown_timeout 0 (line 2).
WARNED = """\
plugin_dir: {plugin_dir}
shutdown_timeout: 0
listeners:
  - name: echo
    listen: tcp://127.0.0.1:{port1}
    plugin: echo-upper
    allow: [10.1.2.3/8, 127.0.0.1]
  - name: cmd
    listen: tcp://127.0.0.1:{port2}
    plugin: remote-cmd
    config:
      protocol: framed
      allow: [echo]
    limits: {{ idle_timeout: 5s }}
"""

EXPECTED = [  # (line:col, listener part and message start)
    ("2:19", "shutdown_timeout 0 resets every closing connection at once"),
    ("7:13", "listener 'echo': 10.1.2.3/8 has host bits set; it matches 10.0.0.0/8"),
    ("14:29", "listener 'cmd': idle_timeout 5s is not longer than remote-cmd's queue_timeout 10s (its default)"),
]

CLEAN = """\
plugin_dir: {plugin_dir}
listeners:
  - name: echo
    listen: tcp://127.0.0.1:{port1}
    plugin: echo-upper
    allow: [10.0.0.0/8, 127.0.0.1]
"""

# An error (line 6) and a warning (line 5) in one file.
BROKEN = """\
plugin_dir: {plugin_dir}
listeners:
  - name: echo
    listen: tcp://127.0.0.1:{port1}
    allow: [10.1.2.3/8]
    plugin: no-such-plugin
"""


class CheckConfigWarnings(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="ringd-warn-")
        self.path = os.path.join(self.tmp.name, "ringd.yaml")

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, template, *extra):
        with open(self.path, "w") as f:
            f.write(template.format(plugin_dir=PLUGIN_DIR, port1=free_port(), port2=free_port()))
        r = run_ringd(["-c", self.path, "--check-config", *extra])
        return r.returncode, r.stdout, r.stderr

    def assert_warnings(self, stderr):
        for where, message in EXPECTED:
            self.assertIn(f"{self.path}:{where}: warning: {message}", stderr)
        self.assertEqual(len(re.findall(r": warning: ", stderr)), len(EXPECTED), stderr)

    def test_warnings_are_printed_and_exit_0(self):
        code, out, err = self.check(WARNED)
        self.assertEqual(code, 0, out + err)
        self.assert_warnings(err)
        self.assertIn(f"{self.path}: configuration OK with 3 warnings (2 listeners", out)
        self.assertIn("echo: tcp://127.0.0.1:", out)  # the listener lines are still printed

    def test_strict_exits_1_on_warnings(self):
        code, out, err = self.check(WARNED, "--strict")
        self.assertEqual(code, 1, out + err)
        self.assert_warnings(err)
        self.assertIn(f"{self.path}: configuration has 3 warnings, refused by --strict", err)
        self.assertNotIn("configuration OK", out)

    def test_strict_passes_a_clean_config(self):
        for extra in ((), ("--strict",)):
            code, out, err = self.check(CLEAN, *extra)
            self.assertEqual(code, 0, out + err)
            self.assertNotIn("warning", out + err)
            self.assertIn(f"{self.path}: configuration OK (1 listeners", out)

    def test_errors_keep_exit_1_and_warnings_come_along(self):
        for extra in ((), ("--strict",)):
            code, out, err = self.check(BROKEN, *extra)
            self.assertEqual(code, 1, out + err)
            self.assertIn(f"{self.path}:6:13: listener 'echo': plugin file not found", err)
            self.assertIn(f"{self.path}:5:13: warning: listener 'echo': 10.1.2.3/8 has host bits set", err)
            self.assertIn("configuration has 1 error(s) and 1 warning", err)

    def test_strict_needs_check_config(self):
        r = run_ringd(["-c", self.path, "--strict"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("--check-config", r.stdout + r.stderr)


class DaemonLogsWarnings(unittest.TestCase):
    def test_start_and_reload_log_warnings_and_serve(self):
        port = free_port()
        text = CLEAN.format(plugin_dir=PLUGIN_DIR, port1=port).replace("10.0.0.0/8", "10.1.2.3/8")
        with Ringd(config_text=text) as d:
            line = rf"\[warning\] {re.escape(d.config_path)}:6:13: warning: listener 'echo': 10.1.2.3/8 has host bits"
            self.assertEqual(len(re.findall(line, d.log())), 1, d.log())
            with connect(port) as s:  # a warning never refuses the config
                self.assertEqual(echo_roundtrip(s, b"still served\n"), b"STILL SERVED\n")
            after = d.reload(text + "shutdown_timeout: 0\n")
            self.assertIn("reload complete", after)
            self.assertEqual(len(re.findall(line, after)), 1, after)
            self.assertRegex(after, rf"\[warning\] {re.escape(d.config_path)}:7:19: warning: shutdown_timeout 0")
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
