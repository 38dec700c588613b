"""Every shipped plugin exports the entry symbol and nothing else (dynamic symbol table, defined symbols)."""
import glob
import os
import subprocess
import unittest

from ringd_harness import PLUGIN_DIR, main


class PluginExports(unittest.TestCase):
    def test_only_the_entry_symbol_is_exported(self):
        plugins = sorted(glob.glob(os.path.join(PLUGIN_DIR, "*.so")))
        names = {os.path.basename(p) for p in plugins}
        self.assertTrue({"echo-upper.so", "time-of-day.so", "udp-echo.so", "remote-cmd.so"} <= names, names)
        for path in plugins:
            out = subprocess.run(["nm", "-D", "--defined-only", path], capture_output=True, text=True, check=True)
            symbols = [line.split()[-1] for line in out.stdout.splitlines() if line.strip()]
            self.assertEqual(symbols, ["ringd_plugin_entry_v1"], path)


if __name__ == "__main__":
    main()
