"""Per-source connection limits (max_connections_per_source, connection_rate_per_source, source_prefix_v4) against
the real binary: clients connect from distinct loopback addresses (127.0.0.2, 127.0.0.3, ... bound before connect),
so each is a source of its own unless a prefix puts them together. Every refusal is checked in the metrics, exactly
(admin_client.wait_for_diff), and in the access log."""

import socket
import time
import unittest

from admin_client import admin_config, key, scrape, wait_for_diff
from ringd_harness import (Ringd, closed_by_peer, config_yaml, echo_roundtrip, free_port, listener, main,
                           recv_until_eof, tcp, wait_until)
from test_access_log import records_of


def connect_from(source, port, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def served(source, port):
    """A connection from `source` that echoes (so ringd has accepted and counted it). Returns the socket."""
    s = connect_from(source, port)
    assert echo_roundtrip(s, b"hello") == b"HELLO", f"a connection from {source} was not served"
    return s


def refused_at_once(source, port):
    """True if ringd closes or resets a connection from `source` at once instead of serving it."""
    try:
        s = connect_from(source, port, timeout=3.0)
    except (ConnectionResetError, ConnectionAbortedError):
        return True
    with s:
        try:
            s.sendall(b"hello?")
        except (BrokenPipeError, ConnectionResetError):
            return True
        return closed_by_peer(s, 3.0)


def close_gracefully(sock):
    """Half-close and read to EOF: ringd then has torn the connection down and released its source."""
    sock.shutdown(socket.SHUT_WR)
    recv_until_eof(sock)
    sock.close()


def refused(name, reason, n):
    return {key("ringd_connections_refused_total", listener=name, reason=reason): n}


def accepted_and_closed(name, accepted, closed=0):
    out = {key("ringd_connections_accepted_total", listener=name): accepted,
           key("ringd_connections_active", listener=name): accepted - closed}
    if closed:
        out[key("ringd_connections_closed_total", listener=name, reason="peer")] = closed
        out[key("ringd_connection_duration_seconds_count", listener=name)] = closed
    return out


def moved_bytes(name, received, sent):
    return {key("ringd_bytes_received_total", listener=name): received,
            key("ringd_bytes_sent_total", listener=name): sent}


def merged(*parts):
    out = {}
    for p in parts:
        for k, v in p.items():
            out[k] = out.get(k, 0) + v
    return {k: v for k, v in out.items() if v}


class PerSourceCount(unittest.TestCase):
    def test_the_third_connection_of_one_source_is_refused_while_another_source_is_served(self):
        port, admin = free_port(), free_port()
        config = admin_config(admin)
        config["access_log"] = True
        entry = listener("echo", tcp(port), "echo-upper", limits={"max_connections_per_source": 2})
        with Ringd(listeners=[entry], config=config) as d:
            before = scrape(admin)
            two = [served("127.0.0.2", port), served("127.0.0.2", port)]
            for attempt in range(3):
                self.assertTrue(refused_at_once("127.0.0.2", port), f"attempt {attempt}: a third one was served")
            other = served("127.0.0.3", port)  # another source is not affected
            for s in two:
                self.assertEqual(echo_roundtrip(s, b"still"), b"STILL", "an open connection stopped echoing")
            wait_for_diff(admin, before, merged(refused("echo", "max_connections_per_source", 3),
                                                accepted_and_closed("echo", 3),
                                                moved_bytes("echo", 3 * 5 + 2 * 5, 3 * 5 + 2 * 5)))
            # A closed connection gives its place back: the source gets one more, and no more.
            close_gracefully(two.pop())
            two.append(served("127.0.0.2", port))
            self.assertTrue(refused_at_once("127.0.0.2", port))
            for s in two + [other]:
                close_gracefully(s)
            served("127.0.0.2", port).close()
            records = wait_until(lambda: len(records_of(d, reason="max_connections_per_source")) == 4 and
                                 records_of(d, reason="max_connections_per_source"), what="4 refusal records")
            for r in records:
                self.assertTrue(r["peer"].startswith("127.0.0.2:"), r)
                self.assertEqual((r["bytes_in"], r["bytes_out"]), ("0", "0"), r)
            d.assert_exits_cleanly()

    def test_a_v4_prefix_makes_neighbours_one_source(self):
        port = free_port()
        limits = {"max_connections_per_source": 2, "source_prefix_v4": 24}
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper", limits=limits)]) as d:
            a = served("127.0.0.2", port)
            b = served("127.0.0.3", port)
            self.assertTrue(refused_at_once("127.0.0.4", port), "127.0.0.4 is in the same /24: its third is refused")
            c = served("127.0.1.4", port)  # another /24: another source
            for s in (a, b, c):
                s.close()
            d.assert_exits_cleanly()

    def test_without_a_prefix_each_address_is_its_own_source(self):
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper",
                                       limits={"max_connections_per_source": 1})]) as d:
            socks = [served(f"127.0.0.{i}", port) for i in range(2, 6)]
            self.assertTrue(refused_at_once("127.0.0.5", port))
            for s in socks:
                s.close()
            d.assert_exits_cleanly()

    def test_a_reload_applies_a_changed_limit_and_keeps_counting_open_connections(self):
        port = free_port()
        first = [listener("echo", tcp(port), "echo-upper", limits={"max_connections_per_source": 1})]
        with Ringd(listeners=first) as d:
            kept = served("127.0.0.2", port)
            self.assertTrue(refused_at_once("127.0.0.2", port))
            raised = [listener("echo", tcp(port), "echo-upper", limits={"max_connections_per_source": 3})]
            lines = "".join(d.reload(config_yaml(raised)))
            self.assertNotIn("reload failed", lines)
            self.assertIn("echo (tcp://127.0.0.1:%d) takes new settings" % port, lines, "same_service() missed it")
            # The open one still counts: two more, not three.
            more = [served("127.0.0.2", port), served("127.0.0.2", port)]
            self.assertTrue(refused_at_once("127.0.0.2", port), "the connection open across the reload was forgotten")
            for s in more + [kept]:
                s.close()
            d.assert_exits_cleanly()


class PerSourceRate(unittest.TestCase):
    def test_a_burst_then_refusals_then_a_refill(self):
        port, admin = free_port(), free_port()
        limits = {"connection_rate_per_source": {"rate": "4/s", "burst": 3}}
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper", limits=limits)],
                   config=admin_config(admin)) as d:
            before = scrape(admin)
            started = time.monotonic()
            for i in range(3):  # the burst; closing gives no token back
                close_gracefully(served("127.0.0.2", port))
            self.assertTrue(refused_at_once("127.0.0.2", port), "a fourth connection within the burst was served")
            fast = time.monotonic() - started < 0.25  # else a token may have come back meanwhile
            close_gracefully(served("127.0.0.3", port))  # another source has its own bucket
            if fast:
                wait_for_diff(admin, before, merged(refused("echo", "connection_rate_per_source", 1),
                                                    accepted_and_closed("echo", 4, 4),
                                                    moved_bytes("echo", 4 * 5, 4 * 5)))
            time.sleep(0.3)  # a token every 250 ms
            close_gracefully(served("127.0.0.2", port))
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
