"""A real Prometheus (Debian's `prometheus` binary) scrapes ringd's admin listener: the test starts it on loopback
with a temporary config (scrape_interval 1s) and data directory, and asks its HTTP API for up{job="ringd"} == 1
and for ringd_connections_accepted_total growing as the test makes connections. Bounded in time; skipped when
the binary is absent. Label `prometheus` (it takes some seconds), so it can be left out like `systemd`/`bench`."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

from admin_client import admin_config
from ringd_harness import Ringd, connect, free_ports, listener, main, recv_exactly, tcp, wait_until


def query(prometheus_port, expr):
    """The result vector of an instant query, as [(labels dict, float value)]."""
    url = f"http://127.0.0.1:{prometheus_port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return [(item["metric"], float(item["value"][1])) for item in doc["data"]["result"]]


class RealPrometheus(unittest.TestCase):
    def test_prometheus_scrapes_ringd(self):
        binary = shutil.which("prometheus")
        if binary is None:
            self.skipTest("prometheus not installed (Debian package prometheus; `make test` installs it)")
        admin, echo, web = free_ports(3)
        with Ringd(listeners=[listener("echo", tcp(echo), "echo-upper")], config=admin_config(admin)) as d, \
                tempfile.TemporaryDirectory(prefix="ringd-prometheus-") as tmp:
            config = os.path.join(tmp, "prometheus.yml")
            with open(config, "w") as f:
                f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        "scrape_configs:\n  - job_name: ringd\n    static_configs:\n"
                        f"      - targets: ['127.0.0.1:{admin}']\n")
            log = open(os.path.join(tmp, "prometheus.log"), "wb")
            prom = subprocess.Popen([binary, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                                     f"--web.listen-address=127.0.0.1:{web}", "--storage.tsdb.retention.time=1h"],
                                    stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            try:
                def prometheus_log():
                    with open(os.path.join(tmp, "prometheus.log"), "rb") as f:
                        return f.read().decode(errors="replace")[-4000:]

                def up():
                    try:
                        return [v for _, v in query(web, 'up{job="ringd"}')] == [1.0]
                    except OSError:
                        return False

                try:
                    wait_until(up, timeout=30, interval=0.5, what='up{job="ringd"} == 1')
                except AssertionError:
                    raise AssertionError("Prometheus never saw ringd up:\n" + prometheus_log())

                def accepted():
                    got = query(web, 'ringd_connections_accepted_total{job="ringd",listener="echo"}')
                    return got[0][1] if got else None

                first = wait_until(lambda: accepted() is not None, timeout=15, interval=0.5,
                                   what="a scraped accepted counter") and accepted()
                for _ in range(5):
                    with connect(echo) as s:
                        s.sendall(b"abc")
                        self.assertEqual(recv_exactly(s, 3), b"ABC")
                wait_until(lambda: (accepted() or 0) >= first + 5, timeout=15, interval=0.5,
                           what="Prometheus to see 5 more accepted connections")
                # What Prometheus stored went through its own parser: a metric of every kind made it.
                self.assertTrue(query(web, 'ringd_build_info{job="ringd"}'))
                self.assertTrue(query(web, 'ringd_connection_duration_seconds_bucket{job="ringd",le="+Inf"}'))
                self.assertTrue(query(web, 'process_open_fds{job="ringd"}'))
                self.assertEqual(query(web, 'scrape_samples_post_metric_relabeling{job="ringd"}')[0][1] > 50, True)
            finally:
                prom.send_signal(signal.SIGTERM)
                try:
                    prom.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    prom.kill()
                    prom.wait()
                log.close()
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
