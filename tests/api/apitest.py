# SPDX-License-Identifier: GPL-2.0
"""Helpers shared by the api tier's Python tests: start the fake VM, talk HTTP
over its Unix socket or TCP, send raw bytes, run named checks."""

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import traceback

FAKE_VM = os.environ.get("FAKE_VM")
TOP = os.environ.get("MINI_VMM_TOP", os.path.abspath(os.path.join(os.path.dirname(__file__),
                                                                  "..", "..")))
ARTIFACTS = os.environ.get("API_ARTIFACTS", os.path.join(TOP, "build", "tests", "artifacts",
                                                         "api"))


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(77)


class FakeVm:
    """The fake VM (tests/api/fake_vm.c) serving the real API server."""

    def __init__(self, *args, socket_path=None, listen="127.0.0.1:0", timeout=2):
        if not FAKE_VM:
            raise RuntimeError("FAKE_VM is not set (run through ctest)")
        self.dir = tempfile.mkdtemp(prefix="mini-vmm-api-")
        self.sock = socket_path or os.path.join(self.dir, "api.sock")
        cmd = [FAKE_VM, "--timeout", str(timeout)]
        if self.sock:
            cmd += ["--api-socket", self.sock]
        if listen:
            cmd += ["--metrics-listen", listen]
        cmd += list(args)
        # FAKE_VM_ARGS: added to every fake VM (the api/contract_seccomp run adds --seccomp).
        cmd += os.environ.get("FAKE_VM_ARGS", "").split()
        self.stderr = open(os.path.join(self.dir, "stderr"), "w+")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            self.proc.wait(timeout=5)
            if self.proc.returncode == 77:
                skip(self.log().strip())
            raise RuntimeError(f"fake_vm did not start (exit {self.proc.returncode}): "
                               f"{self.log()}")
        self.port = int(line.split("metrics_port=")[1])

    def log(self):
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def request(target, method, path, body=None, headers=None, conn=None):
    """target: a socket path (str) or a TCP port (int). body: dict (sent as JSON) or bytes."""
    own = conn is None
    if own:
        conn = (UnixHTTPConnection(target) if isinstance(target, str)
                else http.client.HTTPConnection("127.0.0.1", target, timeout=10))
    h = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        h.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
        h.setdefault("Content-Type", "application/json")
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    out = Response(r.status, r.getheaders(), r.read())
    if own:
        conn.close()
    return out


def raw_connect(target):
    if isinstance(target, str):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(target)
    else:
        s = socket.create_connection(("127.0.0.1", target))
    return s


def read_all(s, timeout):
    """Everything the server sends until it closes (or timeout): (bytes, seconds)."""
    s.settimeout(timeout)
    t0 = time.monotonic()
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except (socket.timeout, ConnectionResetError):
        pass
    return data, time.monotonic() - t0


def parse_raw(data):
    """(status, headers dict lowercased, body) of the first response in data."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", len(body)))
    return status, hdrs, body[:n]


class Checks:
    """Named checks: every one runs, failures are listed at the end, exit 1 if any."""

    def __init__(self, name):
        self.name = name
        self.failed = []
        self.passed = 0

    def run(self, fn, *args):
        label = fn.__name__
        t0 = time.monotonic()
        try:
            fn(*args)
            self.passed += 1
            print(f"  ok    {label} ({time.monotonic() - t0:.2f} s)")
        except Exception:  # noqa: BLE001 - report and carry on
            self.failed.append(label)
            print(f"  FAIL  {label}")
            traceback.print_exc(file=sys.stdout)

    def done(self):
        print(f"{self.name}: {self.passed} passed, {len(self.failed)} failed"
              + (f": {', '.join(self.failed)}" if self.failed else ""))
        sys.exit(1 if self.failed else 0)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_fault(r, status, contains=None):
    """A 4xx with Firecracker's JSON error body."""
    expect(r.status == status, f"expected {status}, got {r!r}")
    expect((r.header("Content-Type") or "").startswith("application/json"),
           f"error without a JSON Content-Type: {r.headers}")
    msg = r.json().get("fault_message")
    expect(isinstance(msg, str) and msg, f"no fault_message in {r.body!r}")
    if contains:
        expect(contains.lower() in msg.lower(), f"fault_message {msg!r} lacks {contains!r}")
    return msg
