"""A stand-in for ringd's admin listener, for ringdctl's tests while the real one lives on another branch.

It serves the documented interface (ringdctl(8), STATUS DOCUMENT; docs of issue 13) on loopback TCP or a unix
socket: GET /status (JSON, its own pid), /metrics (Prometheus text) and /healthz (200 "ok", or 503 "draining"
once it got SIGUSR2, as ringd does). Its process is named "ringd" (prctl PR_SET_NAME), which is what
`ringdctl drain` checks before it signals a pid. --behaviour makes it misbehave in one way, for the error tests.

    python3 fake_admin.py --tcp 0 [--behaviour NAME]      prints "tcp://127.0.0.1:PORT" once it listens
    python3 fake_admin.py --unix /path/admin.sock          prints "unix:///path/admin.sock"

Stops on SIGTERM.
"""

import argparse
import ctypes
import json
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler

BEHAVIOURS = {
    "normal": "as documented",
    "garbage": "answers a line that is not HTTP",
    "silent": "reads the request and never answers",
    "bad-json": "/status is not JSON",
    "chunked": "/status with Transfer-Encoding: chunked",
    "close-delimited": "HTTP/1.0 without Content-Length: bodies end when it closes",
    "status-500": "/status answers 500",
    "ignore-drain": "ignores SIGUSR2, so /healthz stays 200",
    "wrong-name": "is not named ringd",
    "bad-pid": "/status says pid 1",
    "gone-pid": "/status names a process that has exited",
}

STARTED = time.time()
STATE = {"state": "serving"}
GONE_PID = None  # set in main() for --behaviour gone-pid

METRICS = """# HELP ringd_build_info ringd's version and plugin ABI.
# TYPE ringd_build_info gauge
ringd_build_info{version="0.1.0",abi="1.1"} 1
# HELP ringd_connections_accepted_total Connections accepted.
# TYPE ringd_connections_accepted_total counter
ringd_connections_accepted_total{listener="echo-upper"} 10
ringd_connections_accepted_total{listener="udp-echo"} 0
# HELP ringd_connections_active Connections open now.
# TYPE ringd_connections_active gauge
ringd_connections_active{listener="echo-upper"} 3
ringd_connections_active{listener="udp-echo"} 0
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 17
"""


def exited_pid():
    """The pid of a child that has exited and been reaped: no process has it (until the kernel reuses it)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def status_document(behaviour):
    pid = {"bad-pid": 1, "gone-pid": GONE_PID}.get(behaviour, os.getpid())
    return {
        "version": "0.1.0", "abi": "1.1", "pid": pid,
        "uptime_seconds": round(time.time() - STARTED, 3), "state": STATE["state"], "workers": 2,
        "config": {"file": "/etc/ringd/ringd.yaml", "files": ["/etc/ringd/ringd.yaml"], "last_reload": None},
        "listeners": [
            {"name": "echo-upper", "address": "tcp://127.0.0.1:8080", "transport": "tcp",
             "plugin": {"name": "echo-upper", "version": "1.0.0", "abi": "1.1",
                        "file": "/usr/lib/x86_64-linux-gnu/ringd/plugins/echo-upper.so"},
             "active_connections": 3, "accepted_total": 10, "refused_total": 1,
             "bytes_received_total": 2048, "bytes_sent_total": 2048,
             "datagrams_received_total": 0, "datagrams_sent_total": 0},
            {"name": "udp-echo", "address": "udp://127.0.0.1:8080", "transport": "udp",
             "plugin": {"name": "udp-echo", "version": "1.0.0", "abi": "1.1",
                        "file": "/usr/lib/x86_64-linux-gnu/ringd/plugins/udp-echo.so"},
             "active_connections": 0, "accepted_total": 0, "refused_total": 0,
             "bytes_received_total": 300, "bytes_sent_total": 300,
             "datagrams_received_total": 5, "datagrams_sent_total": 5},
        ],
    }


class Handler(BaseHTTPRequestHandler):
    behaviour = "normal"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # unix peers have no address to log; the tests read ringdctl's output
        pass

    def handle(self):
        if self.behaviour == "garbage":
            self.rfile.readline()
            self.wfile.write(b"SSH-2.0-not-http\r\n")
            return
        if self.behaviour == "silent":
            self.rfile.readline()
            self.request.settimeout(30)  # bounded: gone when the client gives up, or after 30 s
            try:
                self.request.recv(1)
            except OSError:
                pass
            return
        super().handle()

    def answer(self, status, body, content_type="text/plain; charset=utf-8", chunked=False):
        data = body.encode()
        if self.behaviour == "close-delimited":
            self.wfile.write(f"HTTP/1.0 {status} {self.responses[status][0]}\r\n"
                             f"Content-Type: {content_type}\r\n\r\n".encode() + data)
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            data = f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n\r\n"
        else:
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def do_GET(self):
        if self.path == "/healthz":
            if STATE["state"] == "serving":
                self.answer(200, "ok\n")
            else:
                self.answer(503, "draining\n")
        elif self.path == "/metrics":
            self.answer(200, METRICS, "text/plain; version=0.0.4")
        elif self.path == "/status":
            if self.behaviour == "status-500":
                self.answer(500, "internal error\n")
            elif self.behaviour == "bad-json":
                self.answer(200, "<html>not json</html>\n", "text/html")
            else:
                self.answer(200, json.dumps(status_document(self.behaviour)) + "\n", "application/json",
                            chunked=self.behaviour == "chunked")
        else:
            self.answer(404, "not found\n")


class TcpServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def name_process(name):
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NAME = 15
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--tcp", type=int, metavar="PORT")
    where.add_argument("--unix", metavar="PATH")
    parser.add_argument("--behaviour", choices=sorted(BEHAVIOURS), default="normal")
    args = parser.parse_args()

    Handler.behaviour = args.behaviour
    if args.behaviour == "gone-pid":
        global GONE_PID
        GONE_PID = exited_pid()
    if args.behaviour != "wrong-name":
        name_process("ringd")

    def begin_drain(signum, frame):
        STATE["state"] = "draining"

    signal.signal(signal.SIGUSR2, signal.SIG_IGN if args.behaviour == "ignore-drain" else begin_drain)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    if args.tcp is not None:
        server = TcpServer(("127.0.0.1", args.tcp), Handler)
        url = f"tcp://127.0.0.1:{server.server_address[1]}"
    else:
        server = UnixServer(args.unix, Handler)
        url = f"unix://{args.unix}"
    # Python runs handlers on the main thread only, and a signal the kernel gives another thread would leave the
    # main thread asleep in pause(): the server's threads (which inherit this mask) never take these signals.
    handled = {signal.SIGUSR2, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, handled)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, handled)
    print(url, flush=True)
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
