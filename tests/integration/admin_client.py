"""Talking to ringd's admin listener from the integration tests: raw HTTP requests, and the Prometheus text
format parsed into {(name, labels): value} so that tests can compare scrapes. Stdlib only."""

import re
import socket
import time

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def admin_config(port, **extra):
    """A top-level `admin:` section for config=... of Ringd."""
    section = {"listen": f"tcp://127.0.0.1:{port}"}
    section.update(extra)
    return {"admin": section}


def raw_request(address, data, timeout=10.0, shutdown_write=False):
    """Sends `data` (bytes) to the admin listener at `address` ((host, port) or a unix path) and reads until the
    server closes. Returns the whole response as bytes."""
    family = socket.AF_UNIX if isinstance(address, str) else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(address)
        s.sendall(data)
        if shutdown_write:
            s.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def parse_response(raw):
    """(status, headers dict with lower-case names, body bytes) of one HTTP/1.1 response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        assert len(body) == int(headers["content-length"]), (headers, len(body))
    return status, headers, body


def get(port_or_path, path, timeout=10.0):
    """GET `path` from the admin listener (a TCP port on 127.0.0.1, or a unix socket path)."""
    address = port_or_path if isinstance(port_or_path, str) else ("127.0.0.1", port_or_path)
    request = f"GET {path} HTTP/1.1\r\nHost: ringd\r\nUser-Agent: ringd-tests\r\n\r\n".encode()
    return parse_response(raw_request(address, request, timeout))


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} of a Prometheus text document."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted(LABEL.findall(m.group(3) or "")))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def scrape(port):
    status, headers, body = get(port, "/metrics")
    assert status == 200, (status, body)
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8", headers
    return parse_metrics(body.decode())


def value(metrics, name, **labels):
    """One series' value (0 when the series is absent)."""
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


def listener_series(metrics, exclude_listeners=("admin",)):
    """The per-listener ringd_* series whose values are exact counts (histogram buckets and sums excluded), minus
    those of the admin listener (every scrape moves its own counters)."""
    out = {}
    for (name, labels), v in metrics.items():
        d = dict(labels)
        if "listener" not in d or d["listener"] in exclude_listeners:
            continue
        if name.endswith("_bucket") or name.endswith("_sum") or name.startswith("ringd_plugin_") and \
                name != "ringd_plugin_errors_total":
            continue
        out[(name, labels)] = v
    return out


def diff(before, after):
    """{series: after - before} for the listener series that changed."""
    b = listener_series(before)
    a = listener_series(after)
    changed = {}
    for key in set(a) | set(b):
        delta = a.get(key, 0.0) - b.get(key, 0.0)
        if delta:
            changed[key] = delta
    return changed


def key(name, **labels):
    return (name, tuple(sorted(labels.items())))


def wait_for_diff(port, before, expected, timeout=10.0):
    """Scrapes until the listener series moved by exactly `expected` ({key(...): delta}); fails showing the last
    difference otherwise. Returns the last scrape."""
    deadline = time.monotonic() + timeout
    while True:
        now = scrape(port)
        changed = diff(before, now)
        if changed == expected:
            return now
        if time.monotonic() >= deadline:
            extra = {k: v for k, v in changed.items() if expected.get(k) != v}
            missing = {k: v for k, v in expected.items() if changed.get(k) != v}
            raise AssertionError(f"counters moved differently than expected:\n  unexpected or wrong: {extra}\n"
                                 f"  expected but not seen: {missing}")
        time.sleep(0.05)
