"""The access log (docs/access-log.md) against the real binary, in stderr mode: one logfmt line per closed or refused
connection of a listener with `access_log: on`, with the exact byte counts, addresses and close reason; an
outbound connection (ABI 1.1, through the relay test plugin) gets an outbound record; a listener without it gets
none; and when the writer cannot keep up (its stderr is a full pipe nobody reads, the queue shrunk by the test-only
RINGD_TEST_ACCESS_LOG_CAPACITY) the workers keep serving while records are dropped and counted, so that records
written + records reported dropped = connections made. The journal side is tested under real systemd
(tests/systemd/test_systemd.py)."""

import fcntl
import os
import re
import socket
import tempfile
import threading
import time
import unittest

from admin_client import admin_config, scrape, value
from ringd_harness import (Ringd, assert_clean_log, closed_by_peer, connect, echo_roundtrip, free_port, listener, main,
                           recv_until_eof, scaled, tcp, test_plugin, upper, wait_until)

FIELD = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)')
FIELD_ORDER = ["listener", "plugin", "direction", "peer", "local", "duration_ms", "bytes_in", "bytes_out", "reason"]


def parse_records(log):
    """Every access record in a ringd log, as dicts of its logfmt fields, in the order written."""
    records = []
    for line in log.splitlines():
        m = re.search(r"\[info\] access (listener=.*)$", line)
        if not m:
            continue
        fields = [(k, v[1:-1].encode().decode("unicode_escape") if v.startswith('"') else v)
                  for k, v in FIELD.findall(m.group(1))]
        assert [k for k, _ in fields] == FIELD_ORDER, f"unexpected field list in {line!r}"
        records.append(dict(fields))
    return records


def records_of(d, **match):
    return [r for r in parse_records(d.log()) if all(r.get(k) == v for k, v in match.items())]


def one_record(d, timeout=10.0, **match):
    """Waits for the record matching `match` (field=value), and checks there is exactly one."""
    found = wait_until(lambda: records_of(d, **match), timeout, what=f"an access record with {match}")
    assert len(found) == 1, f"expected one record with {match}, got {found}"
    return found[0]


def addr(sock_address):
    host, port = sock_address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class AccessLogRecords(unittest.TestCase):
    def test_echo_connections_closed_by_the_peer_by_the_plugin_and_idle(self):
        echo, tod, idle, quiet = free_port(), free_port(), free_port(), free_port()
        unix_path = os.path.join(tempfile.gettempdir(), f"ringd-access-{os.getpid()}.sock")
        listeners = [
            listener("echo", tcp(echo), "echo-upper", access_log="on"),
            listener("tod", tcp(tod), "time-of-day", access_log="on"),
            listener("idle", tcp(idle), "echo-upper", access_log="on", limits={"idle_timeout": "300ms"}),
            listener("local", "unix://" + unix_path, "echo-upper", access_log="on"),
            listener("quiet", tcp(quiet), "echo-upper"),  # access_log off (the default)
        ]
        with Ringd(listeners=listeners) as d:
            with self.subTest("closed by the peer: the exact bytes both ways"):
                data = b"hello access log\n" * 6000  # 102,000 bytes, many reads and sends
                with connect(echo) as s:
                    client = addr(s.getsockname())
                    self.assertEqual(echo_roundtrip(s, data), upper(data))
                    s.shutdown(socket.SHUT_WR)
                    self.assertEqual(recv_until_eof(s), b"")
                r = one_record(d, listener="echo", peer=client)
                self.assertEqual(r, {**r, "listener": "echo", "plugin": "echo-upper", "direction": "accepted",
                                     "local": f"127.0.0.1:{echo}", "bytes_in": str(len(data)),
                                     "bytes_out": str(len(data)), "reason": "peer"})
                self.assertRegex(r["duration_ms"], r"^\d+\.\d{3}$")

            with self.subTest("closed by the plugin (time-of-day answers and closes)"):
                with connect(tod) as s:
                    client = addr(s.getsockname())
                    reply = recv_until_eof(s)
                self.assertTrue(reply)
                r = one_record(d, listener="tod", peer=client)
                self.assertEqual((r["listener"], r["plugin"], r["bytes_in"], r["bytes_out"], r["reason"]),
                                 ("tod", "time-of-day", "0", str(len(reply)), "local"))

            with self.subTest("closed for idleness"):
                with connect(idle) as s:
                    client = addr(s.getsockname())
                    self.assertEqual(echo_roundtrip(s, b"x"), b"X")
                    self.assertTrue(closed_by_peer(s, timeout=5.0))
                r = one_record(d, listener="idle", peer=client)
                self.assertEqual((r["bytes_in"], r["bytes_out"], r["reason"]), ("1", "1", "idle"))
                self.assertGreaterEqual(float(r["duration_ms"]), 290.0)

            with self.subTest("a unix socket: the client is unnamed, the local address is the socket file"):
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(10)
                    s.connect(unix_path)
                    self.assertEqual(echo_roundtrip(s, b"unix\n"), b"UNIX\n")
                r = one_record(d, listener="local")
                self.assertEqual((r["peer"], r["local"], r["bytes_in"], r["bytes_out"]),
                                 ("unix:", "unix://" + unix_path, "5", "5"))

            with connect(quiet) as s:
                self.assertEqual(echo_roundtrip(s, b"not logged\n"), b"NOT LOGGED\n")
            d.assert_exits_cleanly()  # the writer flushes everything queued before ringd exits
            self.assertEqual(records_of(d, listener="quiet"), [], "access_log is off by default")
            self.assertEqual(len(parse_records(d.log())), 4)

    def test_refusals_by_acl_and_max_connections_are_recorded(self):
        denied, limited = free_port(), free_port()
        listeners = [
            listener("denied", tcp(denied), "echo-upper", access_log="on", deny=["127.0.0.0/8"]),
            listener("limited", tcp(limited), "echo-upper", access_log="on", limits={"max_connections": 1}),
        ]
        with Ringd(listeners=listeners) as d:
            with connect(denied) as s:
                client = addr(s.getsockname())
                self.assertTrue(closed_by_peer(s))
            r = one_record(d, peer=client)
            self.assertEqual(r, {**r, "listener": "denied", "plugin": "echo-upper", "local": f"127.0.0.1:{denied}",
                                 "bytes_in": "0", "bytes_out": "0", "reason": "acl", "duration_ms": "0.000"})

            with connect(limited) as first:
                first_client = addr(first.getsockname())
                self.assertEqual(echo_roundtrip(first, b"first\n"), b"FIRST\n")  # holds the only place
                with connect(limited) as second:
                    second_client = addr(second.getsockname())
                    self.assertTrue(closed_by_peer(second))
                r = one_record(d, peer=second_client)
                self.assertEqual((r["listener"], r["reason"], r["bytes_in"]), ("limited", "max_connections", "0"))
                self.assertEqual(records_of(d, peer=first_client), [], "still open: no record yet")
            r = one_record(d, peer=first_client)
            self.assertEqual((r["reason"], r["bytes_in"], r["bytes_out"]), ("peer", "6", "6"))
            d.assert_exits_cleanly()

    def test_an_outbound_connection_gets_an_outbound_record(self):
        upstream = socket.socket()
        upstream.bind(("127.0.0.1", 0))
        upstream.listen(4)
        upstream_address = addr(upstream.getsockname())
        relay = free_port()
        with upstream, Ringd(listeners=[listener("relay", tcp(relay), test_plugin("relay"), access_log="on")]) as d:
            with connect(relay) as client:
                command = f"CONNECT {upstream_address}\n".encode()
                client.sendall(command)
                upstream.settimeout(10)
                far, ringd_side = upstream.accept()
                with far:
                    self.assertEqual(client.recv(3), b"OK\n")
                    client.sendall(b"hello")
                    far.settimeout(10)
                    self.assertEqual(far.recv(5), b"hello")
                    far.sendall(b"world!")
                    got = b""
                    while len(got) < 6:
                        got += client.recv(6 - len(got))
                    self.assertEqual(got, b"world!")
                    far.shutdown(socket.SHUT_WR)  # the upstream closes: the relay closes the outbound connection
                    self.assertEqual(far.recv(1), b"")  # ...and ringd's side of it is gone
                self.assertEqual(recv_until_eof(client), b"CLOSED 0\n")
            r = one_record(d, direction="outbound")
            self.assertEqual(r, {**r, "listener": "relay", "plugin": "relay", "peer": upstream_address,
                                 "local": addr(ringd_side), "bytes_in": "6", "bytes_out": "5", "reason": "peer"})
            r = one_record(d, direction="accepted")
            self.assertEqual((r["bytes_in"], r["bytes_out"]), (str(len(command) + 5), str(3 + 6 + len(b"CLOSED 0\n"))))
            d.assert_exits_cleanly()


class AccessLogUnderPressure(unittest.TestCase):
    def test_a_writer_that_cannot_keep_up_drops_and_counts_while_workers_serve(self):
        # ringd's stderr is a FIFO with a 4 KiB buffer that the test does not read at first: about 18 lines fill it,
        # the writer then blocks in write(), the 16 places of the shrunk queue fill, and every further record must
        # be dropped and counted, never block a worker. Log level warn: nothing else is written meanwhile.
        port, admin = free_port(), free_port()
        connections = scaled(400, 200)
        with tempfile.TemporaryDirectory(prefix="ringd-access-") as tmp:
            fifo = os.path.join(tmp, "stderr.fifo")
            os.mkfifo(fifo)
            reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
            try:
                fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
                d = Ringd(listeners=[listener("flood", tcp(port), "echo-upper", access_log="on")],
                          config={"log": {"level": "warn"}, **admin_config(admin)},
                          env={"RINGD_TEST_ACCESS_LOG_CAPACITY": "16", "STDERR_FIFO": fifo},
                          prefix=["sh", "-c", 'exec "$0" "$@" 2>"$STDERR_FIFO"'])
                with d:
                    started = time.monotonic()
                    for i in range(connections):
                        with connect(port) as s:
                            self.assertEqual(echo_roundtrip(s, b"flood %d\n" % i), b"FLOOD %d\n" % i)
                    took = time.monotonic() - started
                    self.assertTrue(d.alive())
                    # Now drain the pipe: the writer unblocks, writes what it holds and reports the drops.
                    os.set_blocking(reader, True)
                    chunks = []

                    def read_to_eof():
                        while chunk := os.read(reader, 65536):
                            chunks.append(chunk)

                    drained = threading.Thread(target=read_to_eof)
                    drained.start()
                    wait_until(lambda: b"records dropped" in b"".join(chunks), 10, what="the drop report")

                    def counted():
                        m = scrape(admin)
                        total = value(m, "ringd_access_log_records_total") + value(m, "ringd_access_log_dropped_total")
                        return m if total == connections else None

                    metrics = wait_until(counted, 10, what="every record written or dropped, in the metrics")
                    code = d.stop()
                    drained.join(15)
                    self.assertFalse(drained.is_alive(), "ringd's stderr did not reach EOF")
            finally:
                os.close(reader)
        log = b"".join(chunks).decode(errors="replace")
        self.assertEqual(code, 0, log)
        assert_clean_log(log)
        written = len([r for r in parse_records(log) if r["listener"] == "flood"])
        reports = re.findall(r"access log: (\d+) records dropped since the last report \((\d+) in all\)", log)
        self.assertTrue(reports, log)
        dropped = int(reports[-1][1])
        self.assertEqual(sum(int(n) for n, _ in reports), dropped)
        print(f"  {connections} connections in {took:.2f}s with a blocked writer: {written} records written, "
              f"{dropped} dropped", flush=True)
        self.assertEqual(written + dropped, connections, "every record is written or counted as dropped")
        self.assertEqual(value(metrics, "ringd_access_log_records_total"), written)
        self.assertEqual(value(metrics, "ringd_access_log_dropped_total"), dropped)
        self.assertGreater(dropped, connections // 2)
        self.assertLess(took, scaled(30, 90), "the workers were held up by the access log")


if __name__ == "__main__":
    main()
