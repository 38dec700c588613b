"""A test client for remote-cmd's three wire formats, written from the documented byte layouts (not from
ringd's encoder), plus helpers the remote-cmd integration tests share. Stdlib only.

    json-header    request: one send of a UTF-8 command line (<= 4096 bytes)
                   reply:   int32 LE H | H bytes JSON | stdout | stderr
    size-prefixed  request: as json-header
                   reply:   int32 LE N | N bytes (stdout then stderr)
    framed         request: uint32 BE L | L bytes JSON {"argv": [...]} or {"cmd": "..."} (+ token, timeout_ms)
                   reply:   uint32 BE H | H bytes JSON | stdout | stderr
"""

import json
import os
import socket
import struct
import time

from ringd_harness import recv_exactly

RINGD_CMD_BIN = os.environ.get("RINGD_CMD_BIN", "build/tools/ringd-cmd/ringd-cmd")

SHIPPED_ALLOW = ["ls", "pwd", "date", "uptime", "whoami", "echo", "uname", "df"]


def remote_cmd_listener(name, listen, **config):
    """A `listeners:` entry for remote-cmd with `config` as its config mapping."""
    return {"name": name, "listen": listen, "plugin": "remote-cmd", "config": config}


# -- json-header / size-prefixed -------------------------------------------------------------------------

def json_header_request(sock, line):
    """Sends `line` (str or bytes) in one send and reads the reply: (header dict, stdout bytes, stderr bytes)."""
    data = line.encode() if isinstance(line, str) else line
    sock.sendall(data)
    return read_json_header_reply(sock)


def read_json_header_reply(sock, timeout=15.0):
    (h,) = struct.unpack("<i", recv_exactly(sock, 4, timeout))
    assert 0 < h < (1 << 20), f"implausible header length {h}"
    header = json.loads(recv_exactly(sock, h, timeout).decode("utf-8"))
    out = recv_exactly(sock, header["stdout_size"], timeout) if header["stdout_size"] else b""
    err = recv_exactly(sock, header["stderr_size"], timeout) if header["stderr_size"] else b""
    assert header["total_size"] == len(out) + len(err), header
    return header, out, err


def size_prefixed_request(sock, line, timeout=15.0):
    data = line.encode() if isinstance(line, str) else line
    sock.sendall(data)
    (n,) = struct.unpack("<i", recv_exactly(sock, 4, timeout))
    assert 0 <= n < (1 << 31)
    return recv_exactly(sock, n, timeout) if n else b""


# -- framed -----------------------------------------------------------------------------------------------

def frame(obj):
    """A framed request for a dict (JSON-encoded) or raw bytes (sent as the body as they are)."""
    body = obj if isinstance(obj, (bytes, bytearray)) else json.dumps(obj).encode()
    return struct.pack(">I", len(body)) + body


def read_framed_reply(sock, timeout=15.0):
    (h,) = struct.unpack(">I", recv_exactly(sock, 4, timeout))
    assert 0 < h < (1 << 20), f"implausible header length {h}"
    header = json.loads(recv_exactly(sock, h, timeout).decode("utf-8"))
    out = recv_exactly(sock, header["stdout_size"], timeout) if header["stdout_size"] else b""
    err = recv_exactly(sock, header["stderr_size"], timeout) if header["stderr_size"] else b""
    return header, out, err


def framed_request(sock, obj, timeout=15.0):
    sock.sendall(frame(obj))
    return read_framed_reply(sock, timeout)


def expect_eof(sock, timeout=5.0):
    """Asserts the server ends the connection (FIN or reset) without sending more bytes."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(65536)
    except ConnectionResetError:
        return
    assert data == b"", f"expected EOF, got {data[:100]!r}"


# -- processes ----------------------------------------------------------------------------------------------

def _processes():
    """(pid, state, ppid, pgrp) of every process in /proc, read from /proc/PID/stat."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...; comm may contain spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        yield int(entry), fields[0], int(fields[1]), int(fields[2])


def process_group_members(pgid):
    """PIDs of live (non-zombie) processes whose process group is `pgid`."""
    return [pid for pid, state, _, pgrp in _processes() if pgrp == pgid and state != "Z"]


def children_of(parent):
    """The pids of the processes whose parent is `parent` (for ringd: the commands not yet reaped)."""
    return [pid for pid, _, ppid, _ in _processes() if ppid == parent]


def wait_until(predicate, timeout=5.0, interval=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def unix_connect(path_or_abstract, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path_or_abstract)
    return s
