"""A reload with 10,000 open connections completes promptly and drops none of them.

The reload both adds a listener and changes the busy listener's plugin config (transform upper -> none): its
10,000 connections must keep their old behaviour, new connections get the new one, and every one of the
10,000 still echoes afterwards. (How fast exactly is measured by bench/compare, not timed here.)
"""
import selectors
import socket
import time
import unittest

from ringd_harness import (Ringd, config_yaml, connect, echo_roundtrip, free_ports, listener, main, scaled, tcp)

CONNECTIONS = scaled(10000, 2000)


def open_many(port, n):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(True)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def all_echo(socks, payload, expected, timeout):
    """Sends `payload` on every socket, then waits for exactly `expected` on each; returns the failures."""
    sel = selectors.DefaultSelector()
    wrong = 0
    pending = {}
    for s in socks:
        s.sendall(payload)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        pending[s] = b""
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            try:
                chunk = s.recv(4096)
            except BlockingIOError:
                continue
            if not chunk:  # closed by ringd: a dropped connection
                sel.unregister(s)
                pending.pop(s)
                wrong += 1
                continue
            pending[s] += chunk
            if len(pending[s]) >= len(expected):
                sel.unregister(s)
                if pending.pop(s) != expected:
                    wrong += 1
    bad = wrong + len(pending)
    sel.close()
    for s in socks:
        s.setblocking(True)
    return bad


class ReloadAtScale(unittest.TestCase):
    def test_reload_with_10000_open_connections(self):
        port, extra = free_ports(2)
        echo = listener("echo", tcp(port), "echo-upper", config={"transform": "upper"},
                        limits={"max_connections": 20000, "idle_timeout": "0"})
        with Ringd(listeners=[echo]) as d:
            socks = open_many(port, CONNECTIONS)
            try:
                self.assertEqual(all_echo(socks, b"before", b"BEFORE", scaled(30, 90)), 0)
                changed = dict(echo, config={"transform": "none"})
                added = listener("extra", tcp(extra), "echo-upper")
                started = time.monotonic()
                log = d.reload(config_yaml([changed, added]), timeout=scaled(10, 30))
                took = time.monotonic() - started
                self.assertIn("reload complete", log)
                # Every old connection is still open and keeps the settings it was accepted with.
                self.assertEqual(all_echo(socks, b"after", b"AFTER", scaled(30, 90)), 0)
                with connect(port) as fresh:
                    self.assertEqual(echo_roundtrip(fresh, b"new"), b"new")
                with connect(extra) as other:
                    self.assertEqual(echo_roundtrip(other, b"x"), b"X")
                print(f"reload with {len(socks)} open connections: READY=1 after {took * 1000:.1f} ms")
            finally:
                for s in socks:
                    s.close()


if __name__ == "__main__":
    main()
