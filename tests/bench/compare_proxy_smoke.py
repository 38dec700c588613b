"""Smoke test of bench/compare's tcp-proxy scenarios: one 1-second run of proxy-50x512 and proxy-1000x128, ringd's
tcp-proxy against HAProxy, both relaying to the shared limit_echo. Checks that compare runs them to the end, that
ringd's side verified every reply, and that HAProxy's side did too and a ratio came out (or that HAProxy is
honestly reported n/a where it cannot run here). Figures are not judged: one second on a shared machine says
nothing about them (docs/benchmarks.md has the measured ones).

Stdlib only. Paths from the environment (tests/bench/CMakeLists.txt): RINGD_SOURCE_DIR (bench/compare, and the
instruments in ../shared/bench next to the tree), RINGD_BIN, RINGD_PLUGIN_DIR, RINGD_BENCH_BIN."""

import json
import os
import subprocess
import sys
import tempfile
import unittest

SOURCE = os.environ.get("RINGD_SOURCE_DIR", ".")
SHARED = os.path.join(os.path.dirname(os.path.abspath(SOURCE)), "shared", "bench")
SCENARIOS = ("proxy-50x512", "proxy-1000x128")


class CompareProxySmoke(unittest.TestCase):
    def test_proxy_scenarios_run_and_verify(self):
        if not os.path.exists(os.path.join(SHARED, "Makefile")):
            self.skipTest(f"no reference instruments at {SHARED}")
        with tempfile.TemporaryDirectory(prefix="compare-proxy-smoke-") as tmp:
            out = os.path.join(tmp, "results.json")
            argv = [sys.executable, os.path.join(SOURCE, "bench", "compare"), "--only", ",".join(SCENARIOS),
                    "--runs", "1", "--duration", "1", "--out", out, "--shared", SHARED,
                    "--ringd", os.environ["RINGD_BIN"], "--plugin-dir", os.environ["RINGD_PLUGIN_DIR"],
                    "--bench", os.environ["RINGD_BENCH_BIN"]]
            p = subprocess.run(argv, capture_output=True, text=True, timeout=240)
            print(p.stdout, p.stderr, sep="\n", flush=True)
            self.assertEqual(p.returncode, 0, "compare reported errors")
            with open(out) as f:
                results = json.load(f)["scenarios"]
        for name in SCENARIOS:
            sides = results[name]["sides"]
            ringd = sides["ringd"]
            self.assertEqual(ringd["status"], "ok", f"{name}: {ringd}")
            self.assertGreater(ringd["median"]["requests_per_s"], 0)
            self.assertIn("server_cpu_us_per_req", ringd["median"])  # the proxy's CPU per request
            haproxy = sides["haproxy"]
            if haproxy["status"] == "n/a":
                print(f"{name}: haproxy n/a here: {haproxy.get('reason')}", flush=True)
                continue
            self.assertEqual(haproxy["status"], "ok", f"{name}: {haproxy}")
            self.assertIn("requests_per_s", results[name]["ratios"]["haproxy"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
