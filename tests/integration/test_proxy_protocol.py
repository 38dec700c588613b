"""PROXY protocol on stream listeners (docs/proxy-protocol.md) against the real binary. The headers are built here
by hand from HAProxy's doc/proxy-protocol.txt, never with ringd's encoder. The `whoami` test plugin answers each
connection with "peer=<address> local=<address>\\n" (what peer_address/local_address return), then echoes."""

import os
import socket
import struct
import tempfile
import time
import unittest

from admin_client import admin_config, scrape, value
from ringd_harness import (Ringd, closed_by_peer, free_port, free_ports, listener, main, recv_exactly,
                           recv_until_eof, tcp, test_plugin, udp, wait_until)
from test_access_log import records_of

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source, destination, sport, dport, family="TCP4"):
    return f"PROXY {family} {source} {destination} {sport} {dport}\r\n".encode()


def v2_inet(source, destination, sport, dport, command=0x1, transport=0x1, tlvs=b""):
    """A v2 header: version 2 (high nibble), `command` (0 LOCAL, 1 PROXY); AF_INET (0x1) with `transport`
    (1 STREAM, 2 DGRAM); the addresses block is 4 + 4 bytes of address and 2 + 2 of port, then TLVs."""
    block = socket.inet_pton(socket.AF_INET, source) + socket.inet_pton(socket.AF_INET, destination)
    block += struct.pack("!HH", sport, dport) + tlvs
    return V2_SIGNATURE + bytes([0x20 | command, 0x10 | transport]) + struct.pack("!H", len(block)) + block


def tlv(kind, value):
    """One v2 TLV: type (1 byte), length (2 bytes, big-endian), value."""
    return bytes([kind]) + struct.pack("!H", len(value)) + value


def v2_inet6(source, destination, sport, dport):
    block = socket.inet_pton(socket.AF_INET6, source) + socket.inet_pton(socket.AF_INET6, destination)
    block += struct.pack("!HH", sport, dport)
    return V2_SIGNATURE + bytes([0x21, 0x21]) + struct.pack("!H", len(block)) + block


def v2_local():
    return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)


def connect_from(source, port, timeout=10.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_after_sending(sock, data, timeout=3.0):
    """Sends `data` and returns True if ringd closes or resets the connection within `timeout`."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return True
    return closed_by_peer(sock, timeout)


def read_line(sock, timeout=10.0):
    sock.settimeout(timeout)
    line = b""
    while not line.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise AssertionError(f"connection closed after {line!r}")
        line += chunk
    return line.decode()


def proxy_listener(name, port, trusted=("127.0.0.0/8",), version="any", **extra):
    entry = listener(name, tcp(port), test_plugin("whoami"), proxy_protocol=version, **extra)
    if trusted is not None:
        entry["proxy_trusted"] = list(trusted)
    return entry


def rejected(metrics, name, reason):
    return value(metrics, "ringd_proxy_protocol_rejected_total", listener=name, reason=reason)


class ProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port, cls.narrow, cls.acl, cls.plain, cls.admin, cls.slow, cls.v2only, cls.tod = free_ports(8)
        cls.unix_path = os.path.join(tempfile.gettempdir(), f"ringd-proxy-{os.getpid()}.sock")
        config = admin_config(cls.admin)
        config["access_log"] = True
        listeners = [
            proxy_listener("proxied", cls.port, limits={"max_connections_per_source": 1}),
            proxy_listener("narrow", cls.narrow, trusted=["127.0.0.5/32"]),
            proxy_listener("acl", cls.acl, allow=["198.51.100.0/24"], deny=["198.51.100.66/32"]),
            proxy_listener("slow", cls.slow, proxy_timeout="300ms"),
            proxy_listener("v2only", cls.v2only, version="v2"),
            listener("local", "unix://" + cls.unix_path, test_plugin("whoami"), proxy_protocol="v1"),
            listener("plain", tcp(cls.plain), "echo-upper"),
            listener("tod", tcp(cls.tod), "time-of-day"),
        ]
        cls.ringd = Ringd(listeners=listeners, config=config).start()

    @classmethod
    def tearDownClass(cls):
        cls.ringd.assert_exits_cleanly()
        cls.ringd.cleanup()

    def served(self, header, payload=b"hello", source="127.0.0.2", port=None):
        """Sends header + payload in one segment; returns (whoami line, echoed payload, socket)."""
        s = connect_from(source, port or self.port)
        s.sendall(header + payload)
        line = read_line(s)
        return line, recv_exactly(s, len(payload)), s

    def test_v1_header_and_payload_in_one_segment(self):
        line, echoed, s = self.served(v1("203.0.113.7", "192.0.2.1", 40000, 8080), source="127.0.0.2")
        self.assertEqual(line, "peer=203.0.113.7:40000 local=192.0.2.1:8080\n")
        self.assertEqual(echoed, b"hello", "the bytes after the header did not reach on_data intact")
        s.close()

    def test_v2_ipv4_and_ipv6(self):
        line, echoed, a = self.served(v2_inet("203.0.113.8", "192.0.2.1", 1234, 443), b"x" * 3000)
        self.assertEqual(line, "peer=203.0.113.8:1234 local=192.0.2.1:443\n")
        self.assertEqual(echoed, b"x" * 3000)
        line, echoed, b = self.served(v2_inet6("2001:db8::1", "2001:db8::2", 5555, 80))
        self.assertEqual(line, "peer=[2001:db8::1]:5555 local=[2001:db8::2]:80\n")
        self.assertEqual(echoed, b"hello")
        a.close()
        b.close()

    def test_header_split_byte_by_byte_then_payload_then_fin(self):
        for header in (v1("203.0.113.9", "192.0.2.1", 1, 2), v2_inet("203.0.113.10", "192.0.2.1", 3, 4)):
            s = connect_from("127.0.0.3", self.port)
            for byte in header:
                s.send(bytes([byte]))
                time.sleep(0.002)  # separate segments, so ringd reads the header in pieces
            s.sendall(b"after the header")
            s.shutdown(socket.SHUT_WR)
            reply = recv_until_eof(s).decode()
            self.assertTrue(reply.startswith("peer=203.0.113."), reply)
            self.assertTrue(reply.endswith("\nafter the header"), f"input order broken: {reply!r}")
            s.close()

    def test_payload_and_fin_right_behind_the_header_keep_their_order(self):
        s = connect_from("127.0.0.4", self.port)
        s.sendall(v1("203.0.113.11", "192.0.2.1", 7, 8) + b"first" + b"second")
        s.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_until_eof(s), b"peer=203.0.113.11:7 local=192.0.2.1:8\nfirstsecond")
        s.close()

    def test_v2_tlvs_reach_the_plugin_through_proxy_tlv(self):
        tlvs = tlv(0x02, b"example.com") + tlv(0xE0, b"custom") + tlv(0x04, b"")
        line, echoed, s = self.served(v2_inet("203.0.113.12", "192.0.2.1", 9, 10, tlvs=tlvs))
        self.assertEqual(line, "peer=203.0.113.12:9 local=192.0.2.1:10 authority=example.com\n")
        self.assertEqual(echoed, b"hello")
        s.close()

    def test_a_v2_header_with_a_wrong_crc32c_is_refused(self):
        before = scrape(self.admin)
        s = connect_from("127.0.0.2", self.port)
        header = v2_inet("203.0.113.13", "192.0.2.1", 1, 2, tlvs=tlv(0x03, b"\x00\x00\x00\x01"))
        self.assertTrue(closed_after_sending(s, header + b"hello"))
        s.close()
        wait_until(lambda: rejected(scrape(self.admin), "proxied", "malformed") >
                   rejected(before, "proxied", "malformed"), what="the bad CRC counted")

    def test_local_command_keeps_the_socket_addresses(self):
        line, echoed, s = self.served(v2_local(), source="127.0.0.6")
        self.assertEqual(line, f"peer=127.0.0.6:{s.getsockname()[1]} local=127.0.0.1:{self.port}\n")
        self.assertEqual(echoed, b"hello")
        s.close()

    def test_a_header_from_an_untrusted_peer_is_refused(self):
        before = scrape(self.admin)
        s = connect_from("127.0.0.2", self.narrow)
        self.assertTrue(closed_after_sending(s, v1("203.0.113.7", "192.0.2.1", 1, 2) + b"forged"),
                        "a header from a peer outside proxy_trusted was read")
        s.close()
        line, _, ok = self.served(v1("203.0.113.7", "192.0.2.1", 1, 2), source="127.0.0.5", port=self.narrow)
        self.assertEqual(line, "peer=203.0.113.7:1 local=192.0.2.1:2\n")
        ok.close()
        wait_until(lambda: rejected(scrape(self.admin), "narrow", "untrusted") > rejected(before, "narrow", "untrusted"),
                   what="the untrusted peer counted")
        after = scrape(self.admin)
        self.assertEqual(rejected(after, "narrow", "untrusted") - rejected(before, "narrow", "untrusted"), 1)
        self.assertEqual(value(after, "ringd_connections_accepted_total", listener="narrow") -
                         value(before, "ringd_connections_accepted_total", listener="narrow"), 1)

    def test_a_truncated_header_times_out(self):
        before = scrape(self.admin)
        s = connect_from("127.0.0.2", self.slow)
        started = time.monotonic()
        s.sendall(v2_inet("203.0.113.7", "192.0.2.1", 1, 2)[:20])
        self.assertTrue(closed_by_peer(s, 5.0))
        waited = time.monotonic() - started
        self.assertGreater(waited, 0.25, "closed before proxy_timeout")
        self.assertLess(waited, 2.0, "not closed soon after proxy_timeout")
        s.close()
        wait_until(lambda: rejected(scrape(self.admin), "slow", "timeout") - rejected(before, "slow", "timeout") == 1,
                   what="one timeout counted")
        record = wait_until(lambda: records_of(self.ringd, listener="slow", reason="proxy_timeout"))
        self.assertTrue(record[0]["peer"].startswith("127.0.0.2:"), record)

    def test_garbage_is_refused_at_once(self):
        before = scrape(self.admin)
        for garbage in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x02\x00", b"PROXY TCP4 1.2.3.4  x"):
            s = connect_from("127.0.0.2", self.port)
            started = time.monotonic()
            self.assertTrue(closed_after_sending(s, garbage, 2.0), f"{garbage!r} was not refused")
            self.assertLess(time.monotonic() - started, 1.0, "refused only after a timeout")
            s.close()
        # A v1 header on a v2-only listener is refused on its first byte.
        s = connect_from("127.0.0.2", self.v2only)
        self.assertTrue(closed_after_sending(s, v1("203.0.113.7", "192.0.2.1", 1, 2), 2.0))
        s.close()
        wait_until(lambda: rejected(scrape(self.admin), "proxied", "malformed") -
                   rejected(before, "proxied", "malformed") == 3, what="three malformed headers counted")
        after = scrape(self.admin)
        self.assertEqual(rejected(after, "v2only", "malformed") - rejected(before, "v2only", "malformed"), 1)
        self.assertEqual(value(after, "ringd_connections_accepted_total", listener="proxied"),
                         value(before, "ringd_connections_accepted_total", listener="proxied"))
        self.assertIn("PROXY protocol: closed a connection from 127.0.0.2:", self.ringd.log())

    def test_allow_and_deny_apply_to_the_client_the_header_names(self):
        before = scrape(self.admin)
        # The socket peer (127.0.0.2) is not in `allow`: only the header's client decides.
        line, _, s = self.served(v1("198.51.100.1", "192.0.2.1", 1, 2), port=self.acl)
        self.assertEqual(line, "peer=198.51.100.1:1 local=192.0.2.1:2\n")
        s.close()
        for client in ("203.0.113.7", "198.51.100.66"):  # not allowed; allowed but denied
            c = connect_from("127.0.0.2", self.acl)
            self.assertTrue(closed_after_sending(c, v1(client, "192.0.2.1", 1, 2) + b"hi"), f"client {client} was served")
            c.close()
        wait_until(lambda: value(scrape(self.admin), "ringd_connections_refused_total", listener="acl",
                                 reason="acl") - value(before, "ringd_connections_refused_total", listener="acl",
                                                       reason="acl") == 2, what="two acl refusals")
        denied = wait_until(lambda: records_of(self.ringd, listener="acl", reason="acl"))
        self.assertIn(denied[0]["peer"], ("203.0.113.7:1", "198.51.100.66:1"))
        self.assertEqual(denied[0]["local"], "192.0.2.1:2")

    def test_per_source_limits_count_the_header_client(self):
        line, _, first = self.served(v1("203.0.113.50", "192.0.2.1", 1, 2), source="127.0.0.7")
        second = connect_from("127.0.0.7", self.port)
        self.assertTrue(closed_after_sending(second, v1("203.0.113.50", "192.0.2.1", 3, 4) + b"hi"),
                        "the client's second connection was served")
        second.close()
        # Same balancer, another client: served.
        line, _, other = self.served(v1("203.0.113.51", "192.0.2.1", 1, 2), source="127.0.0.7")
        self.assertEqual(line, "peer=203.0.113.51:1 local=192.0.2.1:2\n")
        first.close()
        other.close()

    def test_ipv6_clients_in_one_64_are_one_source(self):
        line, _, first = self.served(v2_inet6("2001:db8:1::1", "2001:db8::ff", 1, 2), source="127.0.0.8")
        self.assertEqual(line, "peer=[2001:db8:1::1]:1 local=[2001:db8::ff]:2\n")
        neighbour = connect_from("127.0.0.8", self.port)  # same /64 (source_prefix_v6 64): the same source
        self.assertTrue(closed_after_sending(neighbour, v2_inet6("2001:db8:1::2", "2001:db8::ff", 3, 2) + b"hi"),
                        "a second client of the same /64 was served with max_connections_per_source 1")
        neighbour.close()
        line, _, other = self.served(v2_inet6("2001:db8:2::1", "2001:db8::ff", 1, 2), source="127.0.0.8")
        self.assertEqual(line, "peer=[2001:db8:2::1]:1 local=[2001:db8::ff]:2\n")
        first.close()
        other.close()

    def test_unix_listener_takes_the_header_from_any_peer(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        s.connect(self.unix_path)
        s.sendall(v1("203.0.113.7", "192.0.2.1", 1000, 2000) + b"via unix")
        self.assertEqual(read_line(s), "peer=203.0.113.7:1000 local=192.0.2.1:2000\n")
        self.assertEqual(recv_exactly(s, 8), b"via unix")
        s.close()

    def test_a_listener_without_proxy_protocol_never_reads_a_header(self):
        s = connect_from("127.0.0.2", self.plain)
        header = v1("203.0.113.7", "192.0.2.1", 1, 2)
        s.sendall(header)
        self.assertEqual(recv_exactly(s, len(header)), header.upper())
        s.close()
        t = connect_from("127.0.0.2", self.tod)
        line = recv_until_eof(t)
        self.assertTrue(line.endswith(b"\n") and len(line) > 10, f"time-of-day answered {line!r}")
        t.close()


class ProxyProtocolDatagrams(unittest.TestCase):
    def test_each_datagram_carries_a_v2_header_and_replies_go_to_the_balancer(self):
        port, admin = free_port(socket.SOCK_DGRAM), free_port()
        listeners = [listener("dgram", udp(port), test_plugin("whoami"), proxy_protocol="v2",
                              proxy_trusted=["127.0.0.2/32"], deny=["203.0.113.66/32"])]
        with Ringd(listeners=listeners, config=admin_config(admin)) as d:
            def exchange(source, datagram, expect_reply=True):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.bind((source, 0))
                    s.settimeout(2.0 if expect_reply else 0.5)
                    s.sendto(datagram, ("127.0.0.1", port))
                    try:
                        return s.recv(65536)
                    except socket.timeout:
                        return None

            dgram = v2_inet("203.0.113.7", "192.0.2.1", 5353, 53, transport=0x2)
            # The reply comes back to the balancer's socket; the plugin saw the client.
            self.assertEqual(exchange("127.0.0.2", dgram + b"ping"), b"peer=203.0.113.7:5353 ping")
            local = V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)
            self.assertTrue(exchange("127.0.0.2", local + b"check").startswith(b"peer=127.0.0.2:"))
            drops = {
                "proxy_untrusted": exchange("127.0.0.3", dgram + b"forged", False),
                "proxy_malformed": [exchange("127.0.0.2", b"no header at all", False),
                                    exchange("127.0.0.2", dgram[:20], False),  # cut short
                                    exchange("127.0.0.2", v2_inet("203.0.113.7", "192.0.2.1", 1, 2) + b"stream",
                                             False)],  # STREAM transport
                "acl": exchange("127.0.0.2", v2_inet("203.0.113.66", "192.0.2.1", 1, 2, transport=0x2) + b"x",
                                False),
            }
            self.assertEqual(drops, {"proxy_untrusted": None, "proxy_malformed": [None, None, None], "acl": None})
            m = wait_until(lambda: (m := scrape(admin)) and value(
                m, "ringd_datagrams_dropped_total", listener="dgram", reason="acl") == 1 and m)
            self.assertEqual(value(m, "ringd_datagrams_dropped_total", listener="dgram", reason="proxy_untrusted"), 1)
            self.assertEqual(value(m, "ringd_datagrams_dropped_total", listener="dgram", reason="proxy_malformed"), 3)
            self.assertEqual(value(m, "ringd_datagrams_received_total", listener="dgram"), 7)
            d.assert_exits_cleanly()


if __name__ == "__main__":
    main()
