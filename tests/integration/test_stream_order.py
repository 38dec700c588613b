"""Input order at the peer's FIN, against the real binary: every byte a client sends before shutdown(SHUT_WR)
reaches the plugin before it hears of the FIN, also while the plugin keeps pausing reading (the pauser test
plugin pauses after every on_data and resumes 5 ms later from a timer). Before the fix, input that arrived
while paused was dropped when the FIN came: 0.76 MiB of 1 MiB came back in 60 of 60 runs."""

import socket
import threading
import unittest

from ringd_harness import Ringd, free_port, listener, main, scaled, tcp, test_plugin


def send_then_fin_and_read(port, payload, timeout=30.0):
    """Sends `payload` and FIN from one thread while reading everything back until EOF on this one."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    errors = []

    def writer():
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=writer)
    t.start()
    got = bytearray()
    try:
        while True:
            chunk = sock.recv(1 << 16)
            if not chunk:
                break
            got += chunk
    finally:
        t.join()
        sock.close()
    if errors:
        raise errors[0]
    return bytes(got)


def pattern(n):
    return bytes((i * 7 + i // 251) % 256 for i in range(n))


class InputBeforeFin(unittest.TestCase):
    def check(self, plugin, size, runs, trailer):
        port = free_port()
        payload = pattern(size)
        with Ringd(listeners=[listener("pause", tcp(port), test_plugin(plugin), {"pause_ms": 5})]) as d:
            short = []
            for i in range(runs):
                got = send_then_fin_and_read(port, payload)
                if got != payload + trailer:
                    short.append((i, len(got)))
            self.assertEqual(short, [], f"{len(short)} of {runs} runs lost or reordered input (run, bytes back)")
            self.assertTrue(d.alive())

    def test_one_mib_with_on_peer_shutdown(self):
        self.check("pauser", 1 << 20, scaled(10, 3), b"<fin>")

    def test_one_mib_with_the_default_close(self):
        self.check("pauser-default-fin", 1 << 20, scaled(10, 3), b"")

    def test_64_kib_many_times(self):
        self.check("pauser", 64 << 10, scaled(30, 10), b"<fin>")
        self.check("pauser-default-fin", 64 << 10, scaled(30, 10), b"")


if __name__ == "__main__":
    main()
