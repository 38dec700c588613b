"""Echo correctness of the real ringd with echo-upper: many concurrent clients, a large random stream, stream
semantics (no framing), transform: none, UTF-8 and every byte value, every stream listener family (IPv4, IPv6,
Unix path, Unix abstract), and TCP_NODELAY on accepted sockets."""

import os
import random
import selectors
import socket
import stat
import threading
import time
import unittest

from ringd_harness import (Ringd, config_yaml, echo_roundtrip, free_port, listener, main, recv_exactly,
                           recv_until_eof, scaled, socket_option_of, tcp, test_plugin, upper)


class ConcurrentClients(unittest.TestCase):
    def test_1000_concurrent_clients_each_get_their_own_reply(self):
        n = scaled(1000, 500)
        time_limit = scaled(30.0, 90.0)
        port = free_port()
        rng = random.Random()
        seed = rng.randrange(1 << 32)
        rng.seed(seed)
        alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789 -_.ABCXYZ"
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            sel = selectors.DefaultSelector()
            clients = []
            try:
                # Open them all first, so all n are connected at the same time before anyone gets a reply.
                for i in range(n):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.setblocking(False)
                    err = s.connect_ex(("127.0.0.1", port))
                    self.assertIn(err, (0, 115), f"client {i}: connect_ex -> {os.strerror(err)}")  # EINPROGRESS
                    msg = f"client {i:04d} ".encode() + bytes(rng.choice(alphabet) for _ in range(rng.randint(8, 300)))
                    c = {"i": i, "sock": s, "msg": msg, "sent": 0, "got": bytearray()}
                    clients.append(c)
                    sel.register(s, selectors.EVENT_WRITE, c)
                pending = n
                deadline = time.monotonic() + time_limit
                while pending and time.monotonic() < deadline:
                    for key, events in sel.select(timeout=0.5):
                        c = key.data
                        s = c["sock"]
                        if events & selectors.EVENT_WRITE:
                            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                            self.assertEqual(err, 0, f"client {c['i']}: connect failed: {os.strerror(err)}")
                            c["sent"] += s.send(c["msg"][c["sent"]:])
                            if c["sent"] == len(c["msg"]):
                                sel.modify(s, selectors.EVENT_READ, c)
                        elif events & selectors.EVENT_READ:
                            chunk = s.recv(65536)
                            self.assertTrue(chunk, f"client {c['i']}: EOF after {len(c['got'])} bytes (seed {seed})")
                            c["got"] += chunk
                            if len(c["got"]) >= len(c["msg"]):
                                sel.unregister(s)
                                pending -= 1
                unfinished = [c["i"] for c in clients if len(c["got"]) < len(c["msg"])]
                self.assertEqual(unfinished, [], f"{len(unfinished)} of {n} clients got no full reply within "
                                                 f"{time_limit}s (seed {seed})\n" + d.log()[-4000:])
                for c in clients:
                    self.assertEqual(bytes(c["got"]), upper(c["msg"]), f"client {c['i']} (seed {seed})")
            finally:
                sel.close()
                for c in clients:
                    c["sock"].close()
            d.assert_exits_cleanly()


class LargeStream(unittest.TestCase):
    def test_10mb_random_bytes_in_random_chunks_come_back_upper_cased(self):
        size = scaled(10 * 1024 * 1024, 4 * 1024 * 1024)
        rng = random.Random()
        seed = rng.randrange(1 << 32)
        rng.seed(seed)
        data = rng.randbytes(size)
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                send_error = []
                chunks = []

                def writer():
                    try:
                        off = 0
                        while off < size:
                            n = rng.randint(1, 64 * 1024)
                            s.sendall(data[off:off + n])
                            chunks.append(n)
                            off += n
                    except OSError as e:  # reported by the main thread
                        send_error.append(e)

                t = threading.Thread(target=writer, daemon=True)
                t.start()
                got = recv_exactly(s, size, timeout=scaled(30, 90))
                t.join(10)
                self.assertFalse(send_error, send_error)
                self.assertFalse(t.is_alive(), "writer still blocked after all replies arrived")
                self.assertGreater(len(chunks), 100)
                if got != upper(data):
                    first = next(i for i in range(size) if got[i] != upper(data)[i])
                    self.fail(f"reply differs from upper(request) first at byte {first} of {size} (seed {seed})")
                # Nothing more than the echo may follow.
                s.shutdown(socket.SHUT_WR)
                s.settimeout(10)
                self.assertEqual(s.recv(1), b"", "expected EOF after the echo once we shut down our side")
            d.assert_exits_cleanly()


class ConcurrentLargeStreams(unittest.TestCase):
    def test_many_clients_streaming_megabytes_at_once(self):
        # Enough concurrent traffic to exhaust the provided receive buffers now and then.
        clients, size = scaled(64, 16), scaled(2 * 1024 * 1024, 512 * 1024)
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            results = [None] * clients

            def client(i):
                data = os.urandom(size)
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
                        w = threading.Thread(target=s.sendall, args=(data,), daemon=True)
                        w.start()
                        got = recv_exactly(s, size, timeout=60)
                        w.join(10)
                        results[i] = "ok" if got == upper(data) else "reply differs from upper(request)"
                except OSError as e:
                    results[i] = repr(e)

            threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(scaled(60, 120))
            bad = {i: r for i, r in enumerate(results) if r != "ok"}
            self.assertEqual(bad, {}, f"{len(bad)} of {clients} clients failed")
            d.assert_exits_cleanly()


class StreamSemantics(unittest.TestCase):
    def test_peer_half_close_gets_every_reply_before_eof(self):
        # The client sends everything, then FIN, and only then reads: ringd must still deliver the whole echo
        # and only then close (flush before close).
        size = scaled(4 * 1024 * 1024, 1024 * 1024)
        data = os.urandom(size)
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                def writer():
                    s.sendall(data)
                    s.shutdown(socket.SHUT_WR)
                w = threading.Thread(target=writer, daemon=True)
                w.start()
                got = recv_until_eof(s, timeout=30, limit=size + 1)
                w.join(10)
                self.assertEqual(len(got), size, "EOF before the whole echo arrived")
                self.assertTrue(got == upper(data), "echo after half-close differs from upper(request)")
            d.assert_exits_cleanly()


    def test_plugin_close_after_flush_delivers_everything_then_fin(self):
        # blaster queues 8 MB on open and asks for a close right away: the close must wait for the flush.
        size = 8 * 1024 * 1024
        port = free_port()
        with Ringd(listeners=[listener("blast", tcp(port), test_plugin("blaster"), {"bytes": size})]) as d:
            for _ in range(2):
                with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
                    time.sleep(0.2)  # let ringd hit the full window before we start reading
                    got = recv_until_eof(s, timeout=30, limit=size + 1)
                self.assertEqual(len(got), size, "the plugin's close cut off queued output")
                expected = bytes(range(251)) * (size // 251) + bytes(range(size % 251))
                self.assertTrue(got == expected, "the delivered bytes are not the queued stream")
            d.assert_exits_cleanly()

    def test_host_closes_after_flush_when_the_plugin_has_no_on_peer_shutdown(self):
        # raw-throw leaves on_peer_shutdown NULL: on the peer's FIN the host must flush, then close.
        size = 2 * 1024 * 1024
        data = bytes(i % 200 + 40 for i in range(size)).replace(b"boom", b"BOOM").replace(b"int", b"INT")
        port = free_port()
        with Ringd(listeners=[listener("raw", tcp(port), test_plugin("raw-throw"))]) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
                w = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)), daemon=True)
                w.start()
                got = recv_until_eof(s, timeout=30, limit=size + 1)
                w.join(10)
            self.assertEqual(len(got), size)
            self.assertTrue(got == data, "echo differs")
            d.assert_exits_cleanly()

    def test_back_to_back_sends_are_one_stream_and_transform_none_and_utf8(self):
        upper_port, plain_port = free_port(), free_port()
        while plain_port == upper_port:
            plain_port = free_port()
        with Ringd(listeners=[listener("upper", tcp(upper_port), "echo-upper"),
                              listener("plain", tcp(plain_port), "echo-upper", {"transform": "none"})]) as d:
            with socket.create_connection(("127.0.0.1", upper_port), timeout=10) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.send(b"hello world")
                s.send(b"haha")
                self.assertEqual(recv_exactly(s, 15), b"HELLO WORLDHAHA")

                # UTF-8 passes unchanged except the ASCII letters; so does every other byte value.
                text = "héllo wörld ß ñ 日本語 ok".encode("utf-8")
                self.assertEqual(echo_roundtrip(s, text), "HéLLO WöRLD ß ñ 日本語 OK".encode("utf-8"))
                every = bytes(range(256)) * 4
                expected = bytes((b - 32) if 97 <= b <= 122 else b for b in every)
                self.assertEqual(echo_roundtrip(s, every), expected)

            with socket.create_connection(("127.0.0.1", plain_port), timeout=10) as s:
                s.send(b"hello world")
                s.send(b"haha")
                self.assertEqual(recv_exactly(s, 15), b"hello worldhaha")
                mixed = "MiXeD case ünïcödé\x00\xff".encode("utf-8") + bytes(range(256))
                self.assertEqual(echo_roundtrip(s, mixed), mixed)
            d.assert_exits_cleanly()

    def test_replies_follow_the_byte_stream_not_the_send_calls(self):
        # 1-byte sends and a single large send must both come back as the same byte stream.
        port = free_port()
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                msg = b"abcdefghijklmnopqrstuvwxyz"
                for b in msg:
                    s.send(bytes([b]))
                self.assertEqual(recv_exactly(s, len(msg)), msg.upper())
            d.assert_exits_cleanly()


    def test_a_reply_larger_than_a_receive_buffer_is_not_held_for_a_delayed_ack(self):
        # 30,000 bytes arrive in several 4 KiB receive buffers and leave in several sends. With Nagle's algorithm
        # the last partial send waited for the client's ACK of the previous one, which a client waiting for the
        # whole reply delays by 40 ms: every round trip took 44 ms. ringd's sockets have TCP_NODELAY.
        port = free_port()
        message = b"n" * 30000
        with Ringd(listeners=[listener("echo", tcp(port), "echo-upper")]) as d:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                times = []
                for _ in range(21):
                    started = time.monotonic()
                    self.assertEqual(echo_roundtrip(s, message), message.upper())
                    times.append(time.monotonic() - started)
            median = sorted(times)[len(times) // 2]
            self.assertLess(median, 0.02, f"round trips of 30,000 bytes took {median * 1000:.1f} ms (median)")
            d.assert_exits_cleanly()


class SocketOptions(unittest.TestCase):
    def test_accepted_tcp_sockets_send_without_nagle(self):
        """TCP_NODELAY (set on the listening sockets, inherited by accepted ones): a reply is never held back
        waiting for the ACK of an earlier one, which a peer may delay by up to 40 ms."""
        hosts = ["127.0.0.1"]
        try:
            free_port(family=socket.AF_INET6)
            hosts.append("::1")
        except OSError:
            pass  # no IPv6 loopback here
        for host in hosts:
            port = free_port(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
            with Ringd(listeners=[listener("echo", tcp(port, host), "echo-upper")]) as d:
                with socket.create_connection((host, port), timeout=10) as s:
                    self.assertEqual(echo_roundtrip(s, b"x"), b"X")
                    nodelay = socket_option_of(d.pid, socket.IPPROTO_TCP, socket.TCP_NODELAY, s.getsockname()[1])
                    self.assertIsNotNone(nodelay, "ringd's socket for this client not found")
                    self.assertNotEqual(nodelay, 0, f"Nagle's algorithm is on for ringd's socket ({host})")


class ListenerFamilies(unittest.TestCase):
    def test_ipv6_loopback(self):
        try:
            port = free_port(family=socket.AF_INET6)
        except OSError as e:
            self.skipTest(f"no IPv6 loopback here: {e}")
        with Ringd(listeners=[listener("echo6", tcp(port, "::1"), "echo-upper")]) as d:
            with socket.create_connection(("::1", port), timeout=10) as s:
                self.assertEqual(s.family, socket.AF_INET6)
                self.assertEqual(echo_roundtrip(s, b"over ipv6"), b"OVER IPV6")
            # A [::1] listener is IPv6-only: nothing listens on 127.0.0.1 at that port.
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=5).close()
            d.assert_exits_cleanly()

    def test_unix_path_listener_and_socket_file_lifecycle(self):
        d = Ringd(listeners=[])  # started below, once its private directory holds the stale socket
        path = os.path.join(d.dir, "echo.sock")
        # A stale socket file (nobody listening) from an earlier crash must not stop ringd from binding.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(path)
        stale.close()
        self.assertTrue(os.path.exists(path))
        d.write_config(config_yaml([listener("unix", "unix://" + path, "echo-upper")]))
        with d:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect(path)
                self.assertEqual(echo_roundtrip(s, b"over a unix socket"), b"OVER A UNIX SOCKET")
            d.assert_exits_cleanly()
            self.assertFalse(os.path.exists(path), "ringd left its socket file behind after a clean stop")

    def test_unix_socket_file_mode_is_set_whatever_the_umask_and_follows_a_reload(self):
        d = Ringd(listeners=[])
        shared, private = os.path.join(d.dir, "shared.sock"), os.path.join(d.dir, "private.sock")

        def config(private_mode):
            return config_yaml([listener("shared", "unix://" + shared, "echo-upper"),
                                listener("private", "unix://" + private, "echo-upper", mode=private_mode)])

        def mode_of(path):
            return stat.S_IMODE(os.stat(path).st_mode)

        d.write_config(config("0600"))
        try:
            old_umask = os.umask(0o077)  # inherited by ringd: without the chmod, both files would be 0700
            try:
                d.start()
            finally:
                os.umask(old_umask)
            self.assertEqual(mode_of(shared), 0o666)
            self.assertEqual(mode_of(private), 0o600)
            self.assertIn(", mode 0600", d.log())  # the listening: line says which bits were set
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as before:
                before.settimeout(10)
                before.connect(private)
                self.assertEqual(echo_roundtrip(before, b"before"), b"BEFORE")
                log = d.reload(config("640"))
                self.assertNotIn("[error]", log)
                self.assertEqual(mode_of(private), 0o640)
                self.assertEqual(mode_of(shared), 0o666)
                self.assertEqual(echo_roundtrip(before, b"kept"), b"KEPT")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as after:
                after.settimeout(10)
                after.connect(private)
                self.assertEqual(echo_roundtrip(after, b"after"), b"AFTER")
            d.assert_exits_cleanly()
        finally:
            d.cleanup()

    def test_unix_abstract_listener(self):
        name = f"ringd-test-{os.getpid()}-{random.randrange(1 << 30)}"
        with Ringd(listeners=[listener("abstract", "unix:@" + name, "echo-upper")]) as d:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(10)
                s.connect("\0" + name)
                self.assertEqual(echo_roundtrip(s, b"abstract namespace"), b"ABSTRACT NAMESPACE")
            d.assert_exits_cleanly()

    def test_a_non_socket_file_at_the_unix_path_is_refused_clearly(self):
        d = Ringd(listeners=[], expect_ready=False)
        path = os.path.join(d.dir, "not-a-socket")
        with open(path, "w") as f:
            f.write("precious data\n")
        d.write_config(config_yaml([listener("unix", "unix://" + path, "echo-upper")]))
        with d:
            code = d.proc.wait(timeout=20)
            self.assertNotEqual(code, 0)
            self.assertIn(path, d.log())
            self.assertIn("not a socket", d.log())
            with open(path) as f:
                self.assertEqual(f.read(), "precious data\n", "ringd touched a regular file at its socket path")


if __name__ == "__main__":
    main()
