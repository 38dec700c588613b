"""The C plugin in ringd-plugin(3)'s EXAMPLES works as printed: it is cut out of the page, compiled against
sdk/include with warnings as errors, exports the entry symbol, and echoes bytes when the real ringd serves it.
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import unittest

import ringd_harness as h

SOURCE_DIR = os.environ.get("RINGD_SOURCE_DIR", ".")
PAGE = os.path.join(SOURCE_DIR, "sdk", "ringd-plugin.3")
CC = os.environ.get("CC") or "cc"


def example_source():
    """The .Bd -literal block that follows "A stream plugin in C", with roff's escapes undone."""
    with open(PAGE, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"A stream plugin in C.*?\n\.Bd -literal[^\n]*\n(.*?)\n\.Ed\n", text, re.S)
    if not m:
        raise AssertionError(f"no C example in {PAGE}")
    return m.group(1).replace("\\&", "").replace("\\e", "\\")


class PluginExample(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="ringd-man-example-")
        src = os.path.join(cls.tmp.name, "echo.c")
        cls.so = os.path.join(cls.tmp.name, "echo.so")
        with open(src, "w") as f:
            f.write(example_source())
        r = subprocess.run([CC, "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-fvisibility=hidden",
                            "-I", os.path.join(SOURCE_DIR, "sdk", "include"), "-o", cls.so, src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError(f"the example does not compile:\n{r.stderr}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exports_only_the_entry_symbol(self):
        out = subprocess.run(["nm", "-D", "--defined-only", self.so], capture_output=True, text=True, check=True)
        functions = [line.split()[-1] for line in out.stdout.splitlines() if line.split()[1] in ("T", "W")]
        self.assertEqual(functions, ["ringd_plugin_entry_v1"])

    def test_ringd_serves_it(self):
        port = h.free_port()
        with h.Ringd(listeners=[h.listener("example", h.tcp(port), self.so)]) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"hello, ringd\n")
                received = b""
                while len(received) < 13:
                    chunk = s.recv(64)
                    if not chunk:
                        break
                    received += chunk
            self.assertEqual(received, b"hello, ringd\n")
            d.assert_exits_cleanly()


if __name__ == "__main__":
    sys.exit(0 if unittest.main(argv=[sys.argv[0], "-v"], exit=False).result.wasSuccessful() else 1)
