"""Start and stop: SIGTERM delivers queued output and exits 0, plugins that cannot be loaded stop the start
with a clear message, --check-config, restarting on the same port, and a second ringd on a taken port."""

import os
import re
import signal
import socket
import time
import unittest

from ringd_harness import (PLUGIN_DIR, Ringd, config_yaml, connect, echo_roundtrip, free_port, listener, main,
                           recv_exactly, recv_until_eof, run_ringd, scaled, tcp, tcp_sockets, test_plugin, udp, upper,
                           wait_until)


def pattern(n, start=0):
    """blaster's output: byte i is i % 251."""
    base = bytes(range(251)) * (n // 251 + 2)
    off = start % 251
    return base[off:off + n]


class SigtermDelivery(unittest.TestCase):
    def test_sigterm_flushes_everything_a_plugin_queued_then_exits_0(self):
        size = 8 * 1024 * 1024
        port = free_port()
        with Ringd(listeners=[listener("blast", tcp(port), test_plugin("blaster"), {"bytes": size, "close": False})],
                   config={"shutdown_timeout": "10s"}) as d:
            s = connect(port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            first = recv_exactly(s, 1)  # ringd has accepted us and the plugin has queued all 8 MB
            # Let the kernel buffers fill so most of the 8 MB is still in ringd's own queue at SIGTERM.
            time.sleep(0.3)
            d.proc.send_signal(signal.SIGTERM)
            t0 = time.monotonic()
            rest = recv_until_eof(s, timeout=15, limit=size + 1)
            s.close()  # our FIN completes ringd's lingering close
            got = first + rest
            self.assertEqual(len(got), size, f"received {len(got)} of the {size} bytes queued before SIGTERM")
            self.assertTrue(got == pattern(size), "the bytes delivered after SIGTERM are not the queued stream")
            code = d.proc.wait(timeout=15)
            self.assertEqual(code, 0, d.log())
            self.assertLess(time.monotonic() - t0, 10.0, "ringd took longer than shutdown_timeout to stop")

    def test_sigterm_flushes_echo_output_ringd_had_read_but_not_sent(self):
        # The client sends data and reads nothing. With a large max_output_buffer ringd reads it all (so it
        # owes all of it back) while the kernel buffers towards the client are full; then SIGTERM.
        size = scaled(8 * 1024 * 1024, 4 * 1024 * 1024)
        port = free_port()
        data = os.urandom(size)
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper",
                                       limits={"max_output_buffer": "64MiB"})],
                   config={"shutdown_timeout": "10s"}) as d:
            s = connect(port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            client_port = s.getsockname()[1]
            s.setblocking(False)
            sent = 0
            deadline = time.monotonic() + 20
            while sent < size and time.monotonic() < deadline:
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    time.sleep(0.001)
            self.assertEqual(sent, size, "ringd stopped reading although max_output_buffer is 64MiB")

            def ringd_read_everything():
                for sk in tcp_sockets(port):
                    if sk["local_port"] == port and sk["remote_port"] == client_port:
                        return sk["state"] == "ESTABLISHED" and sk["rx_queue"] == 0 and sk
                return False
            sk = wait_until(ringd_read_everything, timeout=15, what="ringd to read all the client sent")
            # And our side holds unread data, i.e. ringd was blocked sending when we stopped it.
            self.assertTrue(any(x["local_port"] == client_port and x["rx_queue"] > 0 for x in tcp_sockets(port)),
                            f"expected our receive queue to be full, sockets: {tcp_sockets(port)}")
            del sk
            d.proc.send_signal(signal.SIGTERM)
            s.setblocking(True)
            got = recv_until_eof(s, timeout=15, limit=size + 1)
            s.close()
            self.assertEqual(len(got), size, f"got {len(got)} of the {size} bytes ringd had read before SIGTERM")
            self.assertTrue(got == upper(data), "the echo delivered after SIGTERM is not upper(request)")
            self.assertEqual(d.proc.wait(timeout=15), 0, d.log())

    def test_sigterm_with_a_peer_that_never_reads_exits_0_after_shutdown_timeout(self):
        port = free_port()
        with Ringd(listeners=[listener("blast", tcp(port), test_plugin("blaster"),
                                       {"bytes": 32 * 1024 * 1024, "close": False})],
                   config={"shutdown_timeout": "1s"}) as d:
            s = connect(port)
            recv_exactly(s, 1)
            t0 = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            try:
                code = d.proc.wait(timeout=6)
            except Exception:
                raise AssertionError("ringd still running 6 s after SIGTERM with shutdown_timeout 1s and a peer "
                                     "that does not read; its sockets: " + repr(tcp_sockets(port)) + "\n" + d.log())
            took = time.monotonic() - t0
            self.assertEqual(code, 0, d.log())
            self.assertGreater(took, 0.8, "ringd gave up on the queued output before shutdown_timeout")
            self.assertLess(took, 3.0, f"ringd needed {took:.1f}s to stop with shutdown_timeout 1s")
            s.close()
            # systemd must not cut the drain short: STOPPING=1 comes with a request for shutdown_timeout + 5 s.
            self.assertIn("STOPPING=1", d.wait_for_notification("STOPPING=1", timeout=1))
            self.assertEqual(d.wait_for_notification("EXTEND_TIMEOUT_USEC=", timeout=1), "EXTEND_TIMEOUT_USEC=6000000")

    def test_sigint_also_stops_cleanly_and_idle_clients_see_eof(self):
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            clients = [connect(port) for _ in range(10)]
            for c in clients:
                self.assertEqual(echo_roundtrip(c, b"x"), b"X")
            d.proc.send_signal(signal.SIGINT)
            for c in clients:
                self.assertEqual(recv_until_eof(c, timeout=10), b"")
                c.close()
            self.assertEqual(d.proc.wait(timeout=10), 0, d.log())


class PluginLoadFailures(unittest.TestCase):
    def _start_fails(self, plugin, config=None):
        port = free_port()
        d = Ringd(listeners=[listener("broken", tcp(port), plugin, config),
                             listener("fine", tcp(free_port()), "echo-upper")], expect_ready=False)
        d.start()
        try:
            code = d.proc.wait(timeout=20)
        except Exception:
            d.cleanup()
            raise
        log = d.log()
        text = read_text(d.config_path)
        path = d.config_path
        d.cleanup()
        self.assertNotEqual(code, 0, f"ringd started with plugin {plugin}:\n{log}")
        # It must not have got as far as serving anything.
        self.assertNotIn("ready:", log)
        return log, text, path

    def test_wrong_abi_version(self):
        so = test_plugin("bad-abi")
        log, _, _ = self._start_fails(so)
        self.assertIn(so, log)
        self.assertIn("999", log)
        self.assertRegex(log, r"ABI 1\b")

    def test_no_entry_symbol(self):
        so = test_plugin("no-entry")
        log, _, _ = self._start_fails(so)
        self.assertIn(so, log)
        self.assertIn("ringd_plugin_entry_v1", log)

    def test_missing_plugin_file(self):
        so = os.path.join(os.path.dirname(test_plugin("x")), "does-not-exist.so")
        log, text, path = self._start_fails(so)
        self.assertIn(so, log)
        line = _line_of(text, '"plugin": "' + so)
        self.assertRegex(log, re.escape(path) + rf":{line}:\d+: .*not found")

    def test_missing_plugin_by_name(self):
        log, _, _ = self._start_fails("no-such-plugin")
        self.assertIn(os.path.join(os.path.abspath(PLUGIN_DIR), "no-such-plugin.so"), log)

    def test_plugin_rejecting_its_config_is_placed_at_the_key(self):
        log, text, path = self._start_fails(test_plugin("fails-create"), {"level": 3, "mode": "fast"})
        line = _line_of(text, '"mode"')
        col = text.splitlines()[line - 1].index('"mode"') + 1
        self.assertIn(f"{path}:{line}:{col}:", log, f"expected the error at `mode` ({path}:{line}:{col})")
        self.assertIn("listener 'broken'", log)
        self.assertIn("mode", log)
        self.assertIn("fails-create refuses every mode (test plugin)", log)

    def test_all_plugin_failures_are_reported_together(self):
        port = free_port()
        listeners = [listener("abi", tcp(port), test_plugin("bad-abi")),
                     listener("entry", tcp(free_port()), test_plugin("no-entry")),
                     listener("create", tcp(free_port()), test_plugin("fails-create"), {"mode": "x"})]
        d = Ringd(listeners=listeners, expect_ready=False)
        with d:
            code = d.proc.wait(timeout=20)
            log = d.log()
        self.assertNotEqual(code, 0)
        for name in ("'abi'", "'entry'", "'create'"):
            self.assertIn(f"listener {name}", log)


class CheckConfig(unittest.TestCase):
    def test_good_file(self):
        d = Ringd(listeners=[listener("one", tcp(free_port()), "echo-upper"),
                             listener("two", tcp(free_port()), "echo-upper", {"transform": "none"}),
                             listener("three", "unix:@ringd-check-%d" % os.getpid(), test_plugin("blaster"))],
                  expect_ready=False)
        try:
            r = run_ringd(["-c", d.config_path, "--check-config"])
        finally:
            d.cleanup()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        for name, plugin in (("one", "echo-upper"), ("two", "echo-upper"), ("three", "blaster")):
            matching = [ln for ln in lines if ln.startswith(name + ":")]
            self.assertEqual(len(matching), 1, f"expected one line for listener {name}:\n{r.stdout}")
            self.assertIn(plugin, matching[0])
        self.assertIn("configuration OK", r.stdout)

    def test_check_config_does_not_bind(self):
        # A port someone else holds is not a config error: --check-config validates, it does not bind.
        holder = socket.socket()
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with holder:
            d = Ringd(listeners=[listener("one", tcp(port), "echo-upper")], expect_ready=False)
            try:
                r = run_ringd(["-c", d.config_path, "--check-config"])
            finally:
                d.cleanup()
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_bad_file_reports_every_error_with_its_position(self):
        d = Ringd(listeners=[], expect_ready=False)
        port = free_port()
        text = (
            "workers: 2\n"                                           # 1
            f"plugin_dir: {PLUGIN_DIR}\n"                            # 2
            "colour: blue\n"                                         # 3  unknown top-level key
            "listeners:\n"                                           # 4
            "  - name: first\n"                                      # 5
            "    listen: tcp://127.0.0.1:0\n"                        # 6  port 0
            "    plugin: echo-upper\n"                               # 7
            "  - name: second\n"                                     # 8
            f"    listen: tcp://127.0.0.1:{port}\n"                  # 9
            "    plugin: no-such-plugin\n"                           # 10 missing .so
            "    limits: {idle_timeout: soon}\n"                     # 11 bad duration
            "  - name: third\n"                                      # 12
            f"    listen: tcp://127.0.0.1:{port + 1}\n"              # 13
            "    plugin: echo-upper\n"                               # 14
            "    allow: [300.1.2.3/8]\n"                             # 15 bad CIDR
        )
        d.write_config(text)
        try:
            r = run_ringd(["-c", d.config_path, "--check-config"])
        finally:
            d.cleanup()
        self.assertNotEqual(r.returncode, 0)
        out = r.stdout + r.stderr
        path = re.escape(d.config_path)
        expected = {3: 1, 6: 13, 10: 13, 11: 28, 15: 13}  # line -> column of the offending key or value
        for line, col in expected.items():
            self.assertRegex(out, rf"{path}:{line}:{col}: ", f"no error reported at line {line} col {col}:\n{out}")
        reported = re.findall(rf"{path}:(\d+):(\d+): ", out)
        self.assertEqual(sorted({int(l) for l, _ in reported}), sorted(expected),
                         f"unexpected set of error lines:\n{out}")
        self.assertIn("colour", out)
        self.assertIn("no-such-plugin.so", out)
        self.assertIn("soon", out)
        self.assertIn("300.1.2.3", out)

    def test_bad_plugin_config_reported_by_check_config(self):
        d = Ringd(listeners=[listener("echo", tcp(free_port()), "echo-upper", {"transform": "sideways"}),
                             listener("create", tcp(free_port()), test_plugin("fails-create"), {"mode": 1})],
                  expect_ready=False)
        text = read_text(d.config_path)
        try:
            r = run_ringd(["-c", d.config_path, "--check-config"])
        finally:
            d.cleanup()
        self.assertNotEqual(r.returncode, 0)
        out = r.stdout + r.stderr
        tline = _line_of(text, '"transform"')
        mline = _line_of(text, '"mode"')
        self.assertRegex(out, rf"{re.escape(d.config_path)}:{tline}:\d+: .*transform.*sideways")
        self.assertRegex(out, rf"{re.escape(d.config_path)}:{mline}:\d+: .*mode")

    def test_unreadable_config_file(self):
        r = run_ringd(["-c", "/nonexistent/ringd.yaml", "--check-config"])
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("/nonexistent/ringd.yaml", r.stdout + r.stderr)


class SamePort(unittest.TestCase):
    def test_restart_right_after_stop_reuses_the_port(self):
        port = free_port()
        listeners = [listener("echo", tcp(port), "echo-upper")]
        for round_ in range(3):
            with Ringd(listeners=listeners) as d:
                clients = [connect(port) for _ in range(5)]
                for c in clients:
                    self.assertEqual(echo_roundtrip(c, b"round %d" % round_), b"ROUND %d" % round_)
                # Stop with clients connected: ringd closes first, so its side of each connection is left in
                # TIME_WAIT on the listening port, which must not stop the next start.
                d.proc.send_signal(signal.SIGTERM)
                for c in clients:
                    self.assertEqual(recv_until_eof(c, timeout=10), b"")
                    c.close()
                self.assertEqual(d.proc.wait(timeout=10), 0, d.log())
            self.assertTrue(any(s["local_port"] == port and s["state"] == "TIME_WAIT" for s in tcp_sockets(port)),
                            "no TIME_WAIT left on the port: this test did not test what it means to")

    def test_restart_right_after_kill_9_waits_for_its_predecessors_sockets(self):
        # After SIGKILL the kernel closes a ringd's listening sockets only once its rings are torn down, 6-60 ms
        # after its exit with 0-5,000 connections open. A restart at that moment used to fail with "Address
        # already in use" (5 of 5 tries with 5,000 connections); it must wait for them instead.
        port, udp_port = free_port(), free_port(socket.SOCK_DGRAM)
        first = Ringd(listeners=[])
        path = os.path.join(first.dir, "echo.sock")
        listeners = [listener("echo", tcp(port), "echo-upper"), listener("u", udp(udp_port), "udp-echo"),
                     listener("unix", "unix://" + path, "echo-upper")]
        first.write_config(config_yaml(listeners))
        with first:
            clients = [connect(port) for _ in range(scaled(5000, 2000))]
            first.proc.kill()
            first.proc.wait()
            with Ringd(config_text=config_yaml(listeners)) as second:
                with connect(port) as s:
                    self.assertEqual(echo_roundtrip(s, b"tcp"), b"TCP")
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(10)
                    s.connect(path)
                    self.assertEqual(echo_roundtrip(s, b"unix"), b"UNIX")
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(10)
                    s.sendto(b"udp", ("127.0.0.1", udp_port))
                    self.assertEqual(s.recv(64), b"UDP")
                print("\n".join(line for line in second.log().splitlines() if "was in use" in line))
                second.assert_exits_cleanly()
            for c in clients:
                c.close()

    def test_second_ringd_on_the_same_port_fails_clearly(self):
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as first:
            second = Ringd(listeners=[listener("echo", tcp(port), "echo-upper")], expect_ready=False)
            with second:
                code = second.proc.wait(timeout=20)
                log = second.log()
                text = read_text(second.config_path)
                path = second.config_path
            self.assertNotEqual(code, 0, "a second ringd started on a port the first one serves")
            self.assertIn(f"tcp://127.0.0.1:{port}", log)
            self.assertIn("Address already in use", log)
            self.assertRegex(log, rf"{re.escape(path)}:\d+:\d+: listener 'echo': .*{port}")
            del text
            # The first one is unaffected.
            with connect(port) as s:
                self.assertEqual(echo_roundtrip(s, b"first still"), b"FIRST STILL")
            first.assert_exits_cleanly()

    def test_second_ringd_on_the_same_unix_path_fails_and_leaves_the_first_alone(self):
        first = Ringd(listeners=[])
        path = os.path.join(first.dir, "echo.sock")
        first.write_config(config_yaml([listener("u", "unix://" + path, "echo-upper")]))
        with first:
            second = Ringd(config_text=config_yaml([listener("u", "unix://" + path, "echo-upper")]),
                           expect_ready=False)
            with second:
                code = second.proc.wait(timeout=20)
                log = second.log()
            self.assertNotEqual(code, 0, "a second ringd took over a live unix socket path")
            self.assertIn(path, log)
            self.assertIn("Address already in use", log)
            self.assertTrue(os.path.exists(path), "the second ringd removed the first one's socket file")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(path)
                self.assertEqual(echo_roundtrip(s, b"first"), b"FIRST")
            first.assert_exits_cleanly()

    def test_a_foreign_reuseport_socket_on_the_port_is_not_silently_shared(self):
        # Any process of the same user with SO_REUSEPORT could join a SO_REUSEPORT group; ringd must refuse
        # to start instead of silently splitting the port's connections with it.
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with holder:
            d = Ringd(listeners=[listener("echo", tcp(port), "echo-upper")], expect_ready=False)
            with d:
                code = d.proc.wait(timeout=20)
                log = d.log()
            self.assertNotEqual(code, 0, "ringd shared a port with a foreign SO_REUSEPORT listener")
            self.assertIn("Address already in use", log)


def read_text(path):
    with open(path) as f:
        return f.read()


def _line_of(text, needle):
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} not in the generated config")


if __name__ == "__main__":
    main()
