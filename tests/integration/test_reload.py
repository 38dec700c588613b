"""SIGHUP reload: listeners added, removed and changed while connections stay up, and a broken config that
must leave the running configuration serving."""

import os
import re
import socket
import time
import unittest

from ringd_harness import (Ringd, closed_by_peer, config_yaml, connect, connection_refused_at_once, echo_roundtrip,
                           free_ports, listener, main, recv_exactly, scaled, tcp, tcp_sockets, test_plugin,
                           wait_until)


def unix_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)
    return s


def reload_ok(testcase, d, text):
    out = d.reload(text)
    testcase.assertIn("reload complete", out, "reload did not complete:\n" + out)
    testcase.assertNotIn("reload failed", out, out)
    return out


def refused(port, timeout=1.0):
    """Nothing accepts on `port` any more: connect is refused, or the connection is closed within `timeout`
    (a connection the kernel completes but nobody serves, left hanging, is not refused)."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
    except (ConnectionRefusedError, ConnectionResetError):
        return True
    with s:
        try:
            s.sendall(b"anyone?")
        except (BrokenPipeError, ConnectionResetError):
            return True
        try:
            return closed_by_peer(s, timeout=timeout)
        except AssertionError:  # it answered: served
            return False


class Reload(unittest.TestCase):
    def test_add_a_listener(self):
        a, b = free_ports(2)
        one = [listener("a", tcp(a), "echo-upper")]
        with Ringd(listeners=one) as d:
            old = connect(a)
            self.assertEqual(echo_roundtrip(old, b"before"), b"BEFORE")
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", b), timeout=3).close()
            reload_ok(self, d, config_yaml(one + [listener("b", tcp(b), "echo-upper")]))
            with connect(b) as s:
                self.assertEqual(echo_roundtrip(s, b"new listener"), b"NEW LISTENER")
            self.assertEqual(echo_roundtrip(old, b"after"), b"AFTER", "a connection from before the reload broke")
            with connect(a) as s:
                self.assertEqual(echo_roundtrip(s, b"a again"), b"A AGAIN")
            old.close()
            d.assert_exits_cleanly()

    def test_remove_a_listener_with_no_connections(self):
        a, b = free_ports(2)
        both = [listener("a", tcp(a), "echo-upper"), listener("b", tcp(b), "echo-upper")]
        with Ringd(listeners=both) as d:
            with connect(b) as s:
                self.assertEqual(echo_roundtrip(s, b"b"), b"B")
            keep = connect(a)
            self.assertEqual(echo_roundtrip(keep, b"a"), b"A")
            reload_ok(self, d, config_yaml(both[:1]))
            # The removed listener's socket must be closed: a new client is refused, not left hanging.
            wait_until(lambda: not any(x["local_port"] == b and x["state"] == "LISTEN"
                                       for x in tcp_sockets(b)), timeout=3, what=f"port {b} to stop listening")
            self.assertTrue(refused(b), "the removed listener still accepts")
            self.assertEqual(echo_roundtrip(keep, b"kept"), b"KEPT")
            keep.close()
            d.assert_exits_cleanly()

    def test_remove_a_listener_while_a_connection_is_open(self):
        a, b = free_ports(2)
        both = [listener("a", tcp(a), "echo-upper"), listener("b", tcp(b), "echo-upper")]
        drain = 3.0
        with Ringd(listeners=both, config={"shutdown_timeout": "3s"}) as d:
            old_b = connect(b)
            self.assertEqual(echo_roundtrip(old_b, b"old b"), b"OLD B")
            t0 = time.monotonic()
            reload_ok(self, d, config_yaml(both[:1], {"shutdown_timeout": "3s"}))
            # The open connection drains: it keeps echoing for now...
            self.assertEqual(echo_roundtrip(old_b, b"still draining"), b"STILL DRAINING",
                             "a connection on a removed listener was cut before its drain time")
            # ...while new clients are not served on the removed address.
            t1 = time.monotonic()
            self.assertTrue(refused(b, timeout=1.0),
                            "a new client on the removed listener's address was served, or neither refused nor "
                            f"closed within 1 s (ports: {tcp_sockets(b)}): the address still accepts")
            self.assertLess(time.monotonic() - t1, drain - 1.0)
            # After the drain time (shutdown_timeout) the old connection is closed.
            left = drain - (time.monotonic() - t0)
            self.assertTrue(closed_by_peer(old_b, timeout=max(left, 0) + 2.0),
                            "the old connection outlived the drain time of a removed listener")
            old_b.close()
            with connect(a) as s:
                self.assertEqual(echo_roundtrip(s, b"a fine"), b"A FINE")
            d.assert_exits_cleanly()

    def test_unix_listener_removed_and_added_back_while_draining_keeps_its_socket_file(self):
        # The re-added listener binds a new socket file at the same path while the removed one still drains
        # a connection. When that drain ends, the old sockets must not unlink the new listener's file.
        d = Ringd(listeners=[])
        path = os.path.join(d.dir, "u.sock")
        settings = {"shutdown_timeout": "2s"}
        keep = listener("keep", tcp(free_ports(1)[0]), "echo-upper")  # a config needs one listener
        with_unix = config_yaml([keep, listener("u", "unix://" + path, "echo-upper")], settings)
        d.write_config(with_unix)
        with d:
            old = unix_connect(path)
            self.assertEqual(echo_roundtrip(old, b"old"), b"OLD")
            reload_ok(self, d, config_yaml([keep], settings))
            reload_ok(self, d, with_unix)
            self.assertTrue(closed_by_peer(old, timeout=5.0), "the removed listener's connection never drained")
            old.close()
            time.sleep(0.2)  # the old generation lets go of its sockets after its last connection
            self.assertTrue(os.path.exists(path), "the drained old listener removed the new listener's socket file")
            with unix_connect(path) as s:
                self.assertEqual(echo_roundtrip(s, b"new"), b"NEW")
            d.assert_exits_cleanly()

    def test_a_reloaded_shutdown_timeout_bounds_the_next_close(self):
        # Started with 30 s, reloaded to 1 s: a connection whose close waits on a peer that never reads must be
        # reset about 1 s after its close request, not 30 s.
        (port,) = free_ports(1)
        blast = [listener("blast", tcp(port), test_plugin("blaster"), {"bytes": 32 * 1024 * 1024, "close": True})]
        with Ringd(listeners=blast, config={"shutdown_timeout": "30s"}) as d:
            reload_ok(self, d, config_yaml(blast, {"shutdown_timeout": "1s"}))
            with connect(port) as s:
                recv_exactly(s, 1)
                t0 = time.monotonic()
                me = s.getsockname()[1]
                wait_until(lambda: not [x for x in tcp_sockets(port) if x["local_port"] == port
                                        and x["remote_port"] == me], timeout=10,
                           what="the close to time out (the reloaded shutdown_timeout is 1 s)")
                self.assertLess(time.monotonic() - t0, 5.0)
            d.assert_exits_cleanly()

    def test_broken_config_keeps_the_old_listeners_serving(self):
        (a,) = free_ports(1)
        one = [listener("a", tcp(a), "echo-upper")]
        with Ringd(listeners=one) as d:
            old = connect(a)
            self.assertEqual(echo_roundtrip(old, b"x"), b"X")
            broken = ("workers: 2\n"
                      "listeners:\n"
                      "  - name: a\n"
                      f"    listen: tcp://127.0.0.1:{a}\n"
                      "    plugin: echo-upper\n"
                      "    limits: {max_connections: many}\n")  # line 6
            out = d.reload(broken)
            self.assertIn("reload failed", out, "a broken config was not reported as a failed reload:\n" + out)
            self.assertRegex(out, re.escape(d.config_path) + r":6:\d+: ",
                             "the reload error does not name file:line of the bad value:\n" + out)
            self.assertTrue(d.alive())
            self.assertEqual(echo_roundtrip(old, b"old conn"), b"OLD CONN")
            with connect(a) as s:
                self.assertEqual(echo_roundtrip(s, b"new conn"), b"NEW CONN")
            # A broken plugin config fails the same way.
            out = d.reload(config_yaml([listener("a", tcp(a), "echo-upper", {"transform": "sideways"})]))
            self.assertIn("reload failed", out, out)
            self.assertIn("sideways", out)
            self.assertRegex(out, re.escape(d.config_path) + r":\d+:\d+: ")
            with connect(a) as s:
                self.assertEqual(echo_roundtrip(s, b"upper still"), b"UPPER STILL",
                                 "a failed reload changed the running plugin config")
            # And a good config after a bad one applies normally.
            reload_ok(self, d, config_yaml([listener("a", tcp(a), "echo-upper", {"transform": "none"})]))
            with connect(a) as s:
                self.assertEqual(echo_roundtrip(s, b"now plain"), b"now plain")
            old.close()
            d.assert_exits_cleanly()

    def test_a_reload_that_cannot_bind_changes_nothing(self):
        a, b = free_ports(2)
        holder = socket.socket()
        holder.bind(("127.0.0.1", b))
        holder.listen()
        with holder, Ringd(listeners=[listener("a", tcp(a), "echo-upper")]) as d:
            out = d.reload(config_yaml([listener("a", tcp(a), "echo-upper", {"transform": "none"}),
                                        listener("b", tcp(b), "echo-upper")]))
            self.assertIn("reload failed", out, out)
            self.assertIn(f"tcp://127.0.0.1:{b}", out)
            self.assertRegex(out, re.escape(d.config_path) + r":\d+:\d+: listener 'b'")
            with connect(a) as s:
                self.assertEqual(echo_roundtrip(s, b"unchanged"), b"UNCHANGED",
                                 "part of a failed reload (transform: none for a) was applied")
            d.assert_exits_cleanly()

    def test_max_connections_still_holds_after_a_reload_that_changes_the_plugin_config(self):
        (a,) = free_ports(1)
        with Ringd(listeners=[listener("a", tcp(a), "echo-upper", limits={"max_connections": 1})]) as d:
            old = connect(a)
            self.assertEqual(echo_roundtrip(old, b"one"), b"ONE")
            self.assertTrue(connection_refused_at_once(a))
            reload_ok(self, d, config_yaml([listener("a", tcp(a), "echo-upper", {"transform": "none"},
                                                     limits={"max_connections": 1})]))
            self.assertEqual(echo_roundtrip(old, b"still one"), b"STILL ONE")
            try:
                refused_now = connection_refused_at_once(a)
            except AssertionError as e:  # it echoed: served
                refused_now = False
                detail = str(e)
            else:
                detail = ""
            self.assertTrue(refused_now, "listener 'a' (max_connections: 1) served a second connection while its "
                                         "first is open, after a reload that changed only its plugin config "
                                         + detail)
            old.close()
            d.assert_exits_cleanly()

    def test_changing_a_plugin_config_affects_new_connections_only(self):
        (a,) = free_ports(1)
        with Ringd(listeners=[listener("a", tcp(a), "echo-upper", {"transform": "upper"})]) as d:
            old = connect(a)
            self.assertEqual(echo_roundtrip(old, b"before"), b"BEFORE")
            reload_ok(self, d, config_yaml([listener("a", tcp(a), "echo-upper", {"transform": "none"})]))
            # (How soon after READY=1 the change must show is test_new_config_is_in_effect_once_ready's job;
            # here, allow the workers a moment.)
            time.sleep(0.2)
            # The address never stopped listening (same sockets handed over), and new connections use "none".
            for i in range(4):  # more connections than workers, so every worker's socket is exercised
                with connect(a) as s:
                    self.assertEqual(echo_roundtrip(s, b"new %d" % i), b"new %d" % i,
                                     "a connection made after the reload still upper-cases")
            self.assertEqual(echo_roundtrip(old, b"old one"), b"OLD ONE",
                             "the connection from before the reload changed behaviour (or broke)")
            old.close()
            d.assert_exits_cleanly()

    def test_new_config_is_in_effect_once_ready_and_no_connection_hangs(self):
        # READY=1 after a reload is what `systemctl reload` waits for: from then on, new connections must get
        # the new configuration, and a connection made across a reload must be served, never left in the
        # kernel's accept queue. Alternate the transform and connect the moment READY=1 arrives.
        (a,) = free_ports(1)
        rounds = scaled(100, 40)
        stale, hung = [], []
        with Ringd(listeners=[listener("a", tcp(a), "echo-upper", {"transform": "upper"})]) as d:
            for i in range(rounds):
                mode = "none" if i % 2 == 0 else "upper"
                reload_ok(self, d, config_yaml([listener("a", tcp(a), "echo-upper", {"transform": mode})]))
                for j in range(2):
                    with connect(a) as s:
                        try:
                            got = echo_roundtrip(s, b"abc", timeout=2.0)
                        except socket.timeout:
                            backlog = [x["rx_queue"] for x in tcp_sockets(a) if x["state"] == "LISTEN"]
                            hung.append((i, j, f"listen backlogs {backlog}"))
                            continue
                    if got != (b"abc" if mode == "none" else b"ABC"):
                        stale.append((i, j, mode, got))
                if len(stale) + len(hung) >= 3:
                    break
            self.assertEqual(hung, [], f"connections made right after a reload got no reply within 2 s "
                                       f"(reload round, connection, state); {len(stale)} more were served with "
                                       f"the previous config")
            self.assertEqual(stale, [], "connections made right after READY=1 were served with the previous "
                                        "plugin config (reload round, connection, expected transform, reply)")
            d.assert_exits_cleanly()

    def test_connections_arriving_during_reloads_are_all_served(self):
        import threading
        (a,) = free_ports(1)
        problems, served = [], [0]
        stop = threading.Event()

        def client():
            while not stop.is_set() and len(problems) < 3:
                try:
                    with connect(a, timeout=2.0) as s:
                        reply = echo_roundtrip(s, b"xyz", timeout=2.0)
                    if reply not in (b"xyz", b"XYZ"):
                        problems.append(f"bad reply {reply!r}")
                    served[0] += 1
                except OSError as e:
                    problems.append(f"after {served[0]} served: {e!r}; listen backlogs "
                                    f"{[x['rx_queue'] for x in tcp_sockets(a) if x['state'] == 'LISTEN']}")

        with Ringd(listeners=[listener("a", tcp(a), "echo-upper")]) as d:
            t = threading.Thread(target=client, daemon=True)
            t.start()
            for i in range(scaled(60, 25)):
                reload_ok(self, d, config_yaml([listener("a", tcp(a), "echo-upper",
                                                         {"transform": "none" if i % 2 == 0 else "upper"})]))
                time.sleep(0.01)
                if problems:
                    break
            time.sleep(0.2)
            stop.set()
            t.join(10)
            self.assertEqual(problems, [], "connections made while ringd reloaded were lost or left hanging")
            self.assertGreater(served[0], 20)
            d.assert_exits_cleanly()

    def test_unchanged_reload_keeps_everything(self):
        a, b = free_ports(2)
        cfg = config_yaml([listener("a", tcp(a), "echo-upper"),
                           listener("b", tcp(b), "echo-upper", limits={"max_connections": 1})])
        with Ringd(config_text=cfg) as d:
            old = connect(b)
            self.assertEqual(echo_roundtrip(old, b"b"), b"B")
            reload_ok(self, d, cfg)
            reload_ok(self, d, None)  # SIGHUP without a change
            self.assertEqual(echo_roundtrip(old, b"b again"), b"B AGAIN")
            # Still the same listener, so its connection count carried over: b is still full.
            self.assertTrue(connection_refused_at_once(b), "max_connections was reset by a no-op reload")
            old.close()
            d.assert_exits_cleanly()

    def test_many_reloads_under_traffic(self):
        a, b = free_ports(2)
        configs = [config_yaml([listener("a", tcp(a), "echo-upper")]),
                   config_yaml([listener("a", tcp(a), "echo-upper"), listener("b", tcp(b), "echo-upper")]),
                   config_yaml([listener("a", tcp(a), "echo-upper", {"transform": "none"})])]
        with Ringd(config_text=configs[0]) as d:
            old = connect(a)
            for i in range(12):
                reload_ok(self, d, configs[i % 3])
                self.assertEqual(echo_roundtrip(old, b"round %d" % i), b"ROUND %d" % i)
                with connect(a) as s:
                    expect = b"x%d" % i if i % 3 == 2 else b"X%d" % i
                    self.assertEqual(echo_roundtrip(s, b"x%d" % i), expect)
            old.close()
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
