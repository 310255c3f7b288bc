#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""API contract: every endpoint of the control API and the metrics listener,
Firecracker's balloon API shapes, and every kind of bad request (malformed
JSON, wrong types, unknown fields, wrong methods, oversized bodies, clients
that never finish) answered with the right 4xx and a JSON error, without
holding up anyone else. Runs the real API server behind tests/api/fake_vm."""

import json
import os
import re
import socket
import stat
import subprocess
import threading
import time

from apitest import (Checks, FakeVm, expect, expect_fault, parse_raw, raw_connect, read_all,
                     request)

TIMEOUT = 2  # fake_vm --timeout: requests not complete by then get 408
MIB = 1 << 20


def metric(text, name):
    """A sample's value, its name and labels given without the vm_id every sample has."""
    for line in text.splitlines():
        line = re.sub(r'vm_id="[^"]*",?', "", line).replace("{} ", " ")
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


# ---- Firecracker-compatible endpoints ----

def instance_info(vm):
    r = request(vm.sock, "GET", "/")
    expect(r.status == 200, r)
    j = r.json()
    expect(set(j) == {"id", "state", "vmm_version", "app_name"}, j)
    expect(j["state"] == "Running" and j["app_name"] == "mini-vmm" and j["id"] == "fake-vm", j)


def vm_state(vm):
    j = request(vm.sock, "GET", "/vm").json()
    expect(j["state"] == "Running" and j["vcpus"] == 2, j)
    expect(j["guest_memory_bytes"] == 512 * MIB and j["guest_memory_mib"] == 512, j)
    expect(j["guest_resident_bytes"] > 0 and j["memory_backend"] == "anon", j)
    expect(j["balloon"] is True and j["uptime_s"] > 0, j)


def balloon_get(vm):
    r = request(vm.sock, "GET", "/balloon")
    expect(r.status == 200 and r.header("Content-Type") == "application/json", r)
    j = r.json()
    # Firecracker's Balloon object, every field.
    expect(set(j) == {"amount_mib", "deflate_on_oom", "stats_polling_interval_s",
                      "free_page_hinting", "free_page_reporting"}, j)
    expect(j["deflate_on_oom"] is True and j["free_page_reporting"] is True, j)
    expect(isinstance(j["free_page_hinting"], bool), j)


def balloon_patch(vm):
    r = request(vm.sock, "PATCH", "/balloon", {"amount_mib": 64})
    expect(r.status == 204 and r.body == b"", r)
    expect(request(vm.sock, "GET", "/balloon").json()["amount_mib"] == 64, "target not applied")
    st = request(vm.sock, "GET", "/balloon/statistics").json()
    expect(st["target_mib"] == 64 and st["target_pages"] == 64 * 256, st)
    r = request(vm.sock, "PATCH", "/balloon", {"amount_mib": 0})
    expect(r.status == 204, r)
    # Content-Type with parameters is still JSON.
    r = request(vm.sock, "PATCH", "/balloon", b'{"amount_mib": 8}',
                {"Content-Type": "application/json; charset=utf-8"})
    expect(r.status == 204, r)


def balloon_patch_too_big(vm):
    expect_fault(request(vm.sock, "PATCH", "/balloon", {"amount_mib": 513}), 400, "guest RAM")
    expect_fault(request(vm.sock, "PATCH", "/balloon", {"amount_mib": 2**32}), 400, "between")


POST_BOOT = "The requested operation is not supported after starting the microVM."


def balloon_put(vm):
    # PUT /balloon is pre-boot only in Firecracker: after start, its 400 and
    # nothing changes (PATCH sets the target, PATCH /balloon/statistics the interval).
    before = request(vm.sock, "GET", "/balloon").json()
    for body in ({"amount_mib": 32, "deflate_on_oom": True, "stats_polling_interval_s": 2},
                 {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1,
                  "free_page_reporting": True}):
        r = request(vm.sock, "PUT", "/balloon", body)
        expect(r.status == 400 and r.json() == {"fault_message": POST_BOOT}, r)
    expect(request(vm.sock, "GET", "/balloon").json() == before, "a refused PUT changed state")


def balloon_put_fields_checked_first(vm):
    # As Firecracker: the body is checked before the phase.
    expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 100}), 400,
                 "missing field 'deflate_on_oom'")
    expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": True,
                                                      "free_page_hinting": "yes"}),
                 400, "'free_page_hinting' must be a boolean")
    expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": True,
                                                      "free_page_reporting": 1}),
                 400, "'free_page_reporting' must be a boolean")


def preboot_calls_after_start(vm):
    for method, path, body in (("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                               ("PATCH", "/machine-config", {"vcpu_count": 1}),
                               ("PUT", "/boot-source", {"kernel_image_path": "/vmlinux"}),
                               ("PUT", "/actions", {"action_type": "InstanceStart"})):
        r = request(vm.sock, method, path, body)
        expect(r.status == 400 and r.json() == {"fault_message": POST_BOOT}, (method, path, r))
    j = request(vm.sock, "GET", "/machine-config").json()
    expect(j == {"vcpu_count": 2, "mem_size_mib": 512, "smt": False, "track_dirty_pages": False,
                 "huge_pages": "None"}, j)
    j = request(vm.sock, "GET", "/vm/config").json()
    expect(j["machine-config"]["vcpu_count"] == 2 and j["balloon"]["deflate_on_oom"] is True, j)
    j = request(vm.sock, "GET", "/version").json()
    expect(set(j) == {"firecracker_version"} and
           j["firecracker_version"] == request(vm.sock, "GET", "/").json()["vmm_version"], j)


def balloon_statistics(vm):
    r = request(vm.sock, "GET", "/balloon/statistics")
    expect(r.status == 200, r)
    j = r.json()
    for k in ("target_pages", "actual_pages", "target_mib", "actual_mib", "swap_in", "swap_out",
              "major_faults", "minor_faults", "free_memory", "total_memory",
              "available_memory", "disk_caches", "hugetlb_allocations", "hugetlb_failures"):
        expect(k in j, f"{k} missing from {j}")
    expect("oom_kill" not in j, "a statistic the guest did not send is present")
    expect(j["total_memory"] == 492 * MIB, j)


def balloon_statistics_patch(vm):
    expect(request(vm.sock, "PATCH", "/balloon/statistics",
                   {"stats_polling_interval_s": 5}).status == 204, "PATCH stats")
    expect(request(vm.sock, "GET", "/balloon").json()["stats_polling_interval_s"] == 5, "interval")
    expect(request(vm.sock, "PATCH", "/balloon/statistics",
                   {"stats_polling_interval_s": 1}).status == 204, "PATCH stats back")
    expect_fault(request(vm.sock, "PATCH", "/balloon/statistics",
                         {"stats_polling_interval_s": 86401}), 400, "between 0 and 86400")
    expect_fault(request(vm.sock, "PATCH", "/balloon/statistics", {"amount_mib": 1}), 400,
                 "unknown field 'amount_mib'")


def balloon_reporting(vm):
    j = request(vm.sock, "GET", "/balloon/reporting").json()
    expect(j["reporting_enabled"] is True and j["guest_resident_bytes"] > 0, j)
    d = j["discard"]
    expect(d["method"] == "madvise" and d["engine"] == "io_uring" and d["granule_bytes"] == 4096, d)
    for h in (d["report_latency"], d["op_latency"]):
        expect(len(h["buckets"]) == 26 and h["buckets"][-1]["le_us"] is None, h)
        expect([b["le_us"] for b in h["buckets"][:25]] == [2**i for i in range(25)], h)
        expect(sum(b["count"] for b in h["buckets"]) == h["count"], h)
    b = j["balloon"]
    expect(set(b["rejected"]) == {"malformed_chain", "not_writable", "not_readable", "unaligned",
                                  "out_of_ram", "bad_length", "too_large", "host_error",
                                  "host_memory"}, b)
    expect(d["bytes_discarded"] <= d["bytes_requested"], d)


def metrics_on_api_socket(vm):
    r = request(vm.sock, "GET", "/metrics")
    expect(r.status == 200, r)
    expect(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.headers)
    text = r.body.decode()
    expect(metric(text, "mini_vmm_guest_memory_bytes") == 512 * MIB, "guest memory")
    expect(metric(text, 'mini_vmm_discard_method_info{method="madvise",engine="io_uring",'
                  'backend="anon"}') == 1, "discard method info")


def counters_never_reset(vm):
    names = ("mini_vmm_balloon_reported_bytes_total", "mini_vmm_discard_discarded_bytes_total",
             "mini_vmm_discard_report_latency_seconds_count")
    before = request(vm.port, "GET", "/metrics").body.decode()
    seen = [before]
    for _ in range(4):
        time.sleep(0.6)
        seen.append(request(vm.port, "GET", "/metrics").body.decode())
        seen.append(request(vm.sock, "GET", "/metrics").body.decode())
    for n in names:
        vals = [metric(t, n) for t in seen]
        expect(all(a <= b for a, b in zip(vals, vals[1:])), f"{n} went down: {vals}")
        expect(vals[-1] > 0, f"{n} never moved: {vals}")
    # The scrapes themselves are counted, and that count only grows too.
    a = metric(seen[1], 'mini_vmm_api_requests_total{listener="metrics",code="200"}')
    b = metric(seen[-2], 'mini_vmm_api_requests_total{listener="metrics",code="200"}')
    expect(b > a, (a, b))


def actions(vm):
    expect(request(vm.sock, "PUT", "/actions", {"action_type": "FlushMetrics"}).status == 204,
           "FlushMetrics")
    expect_fault(request(vm.sock, "PUT", "/actions", {"action_type": "SendCtrlAltDel"}), 400,
                 "unsupported action_type")
    expect_fault(request(vm.sock, "PUT", "/actions", {}), 400, "missing field 'action_type'")
    expect_fault(request(vm.sock, "PUT", "/actions", {"action_type": 1}), 400, "must be a string")


def keep_alive(vm):
    from apitest import UnixHTTPConnection
    conn = UnixHTTPConnection(vm.sock)
    for _ in range(3):
        expect(request(vm.sock, "GET", "/balloon", conn=conn).status == 200, "keep-alive GET")
    expect(request(vm.sock, "PATCH", "/balloon", {"amount_mib": 4}, conn=conn).status == 204,
           "keep-alive PATCH")
    expect_fault(request(vm.sock, "PATCH", "/balloon", {"amount_mib": "4"}, conn=conn), 400)
    expect(request(vm.sock, "GET", "/vm", conn=conn).status == 200, "after an error")
    conn.close()


def head_request(vm):
    r = request(vm.port, "HEAD", "/metrics")
    expect(r.status == 200 and r.body == b"", r)


# ---- bad requests ----

def malformed_json(vm):
    before = request(vm.sock, "GET", "/balloon").json()
    for body in (b'{"amount_mib": ', b"not json", b'{"amount_mib": 1,}', b'{"amount_mib": 1}{}',
                 b'{"amount_mib": 1} trailing', b"", b"   ", b"[1]", b"5", b'"x"', b"null",
                 b'{"amount_mib": 1, "amount_mib"', b'{"a\xff": 1}', b'{"amount_mib": 1}\x00x'):
        r = request(vm.sock, "PATCH", "/balloon", body, {"Content-Type": "application/json"})
        expect_fault(r, 400)
    expect(request(vm.sock, "GET", "/balloon").json() == before, "malformed JSON changed state")


def wrong_types(vm):
    for v in ("64", 64.5, 1e3, True, None, [64], {"v": 64}, -1, 2**64):
        expect_fault(request(vm.sock, "PATCH", "/balloon", {"amount_mib": v}), 400, "amount_mib")
    expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": "yes"}),
                 400, "'deflate_on_oom' must be a boolean")
    expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": True,
                                                      "stats_polling_interval_s": "1"}),
                 400, "must be an integer")
    expect_fault(request(vm.sock, "PATCH", "/balloon/statistics",
                         {"stats_polling_interval_s": -5}), 400)


def unknown_fields(vm):
    msg = expect_fault(request(vm.sock, "PATCH", "/balloon", {"amount_mib": 1, "colour": "red"}),
                       400, "unknown field 'colour'")
    expect("amount_mib" in msg, msg)
    expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": True,
                                                      "must_tell_host": True}),
                 400, "unknown field 'must_tell_host'")


def wrong_methods(vm):
    cases = [("POST", "/balloon", "GET, HEAD, PUT, PATCH"), ("DELETE", "/balloon/statistics",
                                                             "GET, HEAD, PATCH"),
             ("PUT", "/balloon/reporting", "GET, HEAD"), ("GET", "/actions", "PUT"),
             ("PATCH", "/metrics", "GET, HEAD"), ("OPTIONS", "/vm", "GET, HEAD, PATCH"),
             ("PUT", "/", "GET, HEAD")]
    for method, path, allow in cases:
        r = request(vm.sock, method, path, b'{"amount_mib": 1}' if method != "GET" else None)
        expect_fault(r, 405, "not allowed")
        expect(r.header("Allow") == allow, f"{method} {path}: Allow {r.header('Allow')!r}")
    r = request(vm.port, "POST", "/metrics", b"x")
    expect_fault(r, 405)


def unknown_paths(vm):
    for path in ("/nope", "/balloon/", "/balloon/stats", "/machine-config/", "/vm/shutdown"):
        expect_fault(request(vm.sock, "GET", path), 404, "no such endpoint")


def wrong_content_type(vm):
    expect_fault(request(vm.sock, "PATCH", "/balloon", b"amount_mib=1",
                         {"Content-Type": "application/x-www-form-urlencoded"}), 415,
                 "application/json")


def oversized_body(vm):
    # Refused from Content-Length alone, before the body is read.
    s = raw_connect(vm.sock)
    s.sendall(b"PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 100000000\r\n\r\n")
    data, took = read_all(s, 5)
    s.close()
    status, hdrs, body = parse_raw(data)
    expect(status == 413 and "16384" in json.loads(body)["fault_message"], data)
    expect(took < 1.5, f"413 took {took:.2f} s")
    # A Content-Length just over the limit, with the body sent.
    expect_fault(request(vm.sock, "PATCH", "/balloon", b" " * 16385), 413)
    # Chunked, no length: counted as it arrives, 413 at the end.
    s = raw_connect(vm.sock)
    s.sendall(b"PUT /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    for _ in range(5):
        s.sendall(b"1000\r\n" + b" " * 4096 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    data, _ = read_all(s, 5)
    s.close()
    expect(parse_raw(data)[0] == 413, data)
    # A body right at the limit is accepted (JSON may end in white space).
    body = b'{"amount_mib": 1}' + b" " * (16384 - 17)
    expect(request(vm.sock, "PATCH", "/balloon", body).status == 204, "16384-byte body")
    # Refused on its headers, body sent anyway: the client still reads its 4xx.
    expect_fault(request(vm.sock, "PATCH", "/metrics", b" " * 200000), 405)


def quick_get(vm, target=None):
    """A request served promptly: /vm on the API socket, /metrics on the metrics port."""
    target = target or vm.sock
    t0 = time.monotonic()
    r = request(target, "GET", "/vm" if isinstance(target, str) else "/metrics")
    took = time.monotonic() - t0
    expect(r.status == 200, r)
    expect(took < 0.5, f"a request took {took:.2f} s while another client stalled")


def slow_body_gets_408(vm):
    s = raw_connect(vm.sock)
    t0 = time.monotonic()
    s.sendall(b"PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 40\r\n\r\n{\"amount_mib\"")
    for _ in range(5):  # everyone else is served meanwhile
        quick_get(vm)
        quick_get(vm, vm.port)
    data, _ = read_all(s, TIMEOUT + 5)
    took = time.monotonic() - t0
    s.close()
    status, hdrs, body = parse_raw(data)
    expect(status == 408, data)
    expect("timeout" in json.loads(body)["fault_message"], body)
    expect(hdrs.get("content-type") == "application/json", hdrs)
    expect(TIMEOUT - 0.5 < took < TIMEOUT + 2, f"408 after {took:.2f} s")


def trickling_body_gets_408(vm):
    """A client sending one byte at a time keeps the connection busy, not alive forever."""
    s = raw_connect(vm.sock)
    t0 = time.monotonic()
    s.sendall(b"PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 1000\r\n\r\n")
    try:
        while time.monotonic() - t0 < TIMEOUT + 3:
            s.sendall(b" ")
            time.sleep(0.25)
    except OSError:
        pass  # the server answered and closed
    data, _ = read_all(s, 3)
    s.close()
    expect(parse_raw(data)[0] == 408, data)


def unfinished_headers_are_dropped(vm):
    s = raw_connect(vm.sock)
    s.sendall(b"GET /vm HTTP/1.1\r\nHost: x\r\n")  # no blank line: never a request
    quick_get(vm)
    data, took = read_all(s, TIMEOUT + 5)
    s.close()
    expect(data == b"", data)
    expect(took < TIMEOUT + 2, f"connection held {took:.2f} s")


def connection_flood_is_bounded(vm):
    """More idle connections than slots: refused, then the service recovers after the timeout."""
    socks = []
    for _ in range(40):
        try:
            socks.append(raw_connect(vm.port))
        except OSError:
            break
    time.sleep(TIMEOUT + 1.5)  # the idle ones time out
    for s in socks:
        s.close()
    quick_get(vm)
    quick_get(vm, vm.port)


def concurrent_clients(vm):
    errors = []

    def worker():
        try:
            for _ in range(10):
                expect(request(vm.port, "GET", "/metrics").status == 200, "metrics")
                expect(request(vm.sock, "GET", "/balloon/reporting").status == 200, "reporting")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect(not errors, errors)


# ---- the metrics listener ----

def metrics_listener(vm):
    r = request(vm.port, "GET", "/metrics")
    expect(r.status == 200 and b"mini_vmm_guest_memory_resident_bytes" in r.body, r)
    r = request(vm.port, "GET", "/")
    expect(r.status == 303 and r.header("Location") == "/dashboard", r)
    r = request(vm.port, "GET", "/dashboard")
    expect(r.status == 200 and r.header("Content-Type").startswith("text/html"), r)
    expect(b"<canvas" in r.body and b"dashboard/data" in r.body, "not the dashboard")
    expect(b"http://" not in r.body.replace(b"http://127", b"") and b"https://" not in r.body,
           "the dashboard refers to the network")
    for path in ("/balloon", "/vm", "/actions", "/balloon/statistics", "/balloon/reporting"):
        expect_fault(request(vm.port, "GET", path), 404, "API socket")
    expect_fault(request(vm.port, "PATCH", "/balloon", {"amount_mib": 1}), 404)


def dashboard_data(vm):
    time.sleep(1.2)  # at least one sample at the fake's 250 ms interval
    j = request(vm.port, "GET", "/dashboard/data").json()
    n = j["now"]
    expect(n["guest_memory_bytes"] == 512 * MIB and n["discard_method"] == "madvise", n)
    expect(j["interval_ms"] == 250, j)
    h = j["history"]
    expect(set(h) == {"t_ms", "resident", "target", "actual", "guest_free", "reported",
                      "discarded"}, h.keys())
    expect(len(h["t_ms"]) >= 3 and all(len(v) == len(h["t_ms"]) for v in h.values()), h)
    expect(all(a < b for a, b in zip(h["t_ms"], h["t_ms"][1:])), "history not in order")
    last = h["t_ms"][-1]
    j2 = request(vm.port, "GET", f"/dashboard/data?since={last}").json()
    expect(all(t > last for t in j2["history"]["t_ms"]), j2["history"]["t_ms"])
    expect(len(j2["report_latency"]["buckets"]) == 26, j2)


# ---- socket file, no balloon, no stats, shutdown ----

def socket_is_owner_only(vm):
    mode = os.stat(vm.sock).st_mode
    expect(stat.S_ISSOCK(mode), "not a socket")
    expect(stat.S_IMODE(mode) == 0o600, f"mode {oct(stat.S_IMODE(mode))}")


def socket_path_handling(_):
    import tempfile
    d = tempfile.mkdtemp()
    path = os.path.join(d, "api.sock")
    # A stale socket (bound, then its process gone) is replaced.
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    with FakeVm(socket_path=path, listen=None) as vm:
        expect(request(vm.sock, "GET", "/").status == 200, "stale socket not replaced")
        # A live one is not taken over.
        p = subprocess.run([os.environ["FAKE_VM"], "--api-socket", path], capture_output=True,
                           text=True, timeout=10)
        expect(p.returncode != 0 and "another process is listening" in p.stderr, p.stderr)
        expect(request(vm.sock, "GET", "/").status == 200, "the live VM lost its socket")
    expect(not os.path.exists(path), "socket file left behind after stop")
    # A file that is not a socket is left alone.
    with open(path, "w") as f:
        f.write("precious")
    p = subprocess.run([os.environ["FAKE_VM"], "--api-socket", path], capture_output=True,
                       text=True, timeout=10)
    expect(p.returncode != 0 and "not a socket" in p.stderr, p.stderr)
    expect(open(path).read() == "precious", "a regular file was clobbered")
    os.unlink(path)
    p = subprocess.run([os.environ["FAKE_VM"], "--api-socket", "/tmp/" + "x" * 120],
                       capture_output=True, text=True, timeout=10)
    expect(p.returncode != 0 and "longer than" in p.stderr, p.stderr)
    p = subprocess.run([os.environ["FAKE_VM"], "--metrics-listen", "localhost:9100"],
                       capture_output=True, text=True, timeout=10)
    expect(p.returncode != 0 and "--metrics-listen" in p.stderr, p.stderr)
    os.rmdir(d)


def no_balloon(_):
    with FakeVm("--no-balloon") as vm:
        for method, path, body in (("GET", "/balloon", None),
                                   ("PATCH", "/balloon", {"amount_mib": 1}),
                                   ("GET", "/balloon/statistics", None),
                                   ("PATCH", "/balloon/statistics",
                                    {"stats_polling_interval_s": 1}),
                                   ("GET", "/balloon/reporting", None)):
            expect_fault(request(vm.sock, method, path, body), 400, "no balloon device")
        # Creating one is pre-boot only.
        expect_fault(request(vm.sock, "PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": True}),
                     400, "after starting the microVM")
        expect(request(vm.sock, "GET", "/vm").json()["balloon"] is False, "vm.balloon")
        text = request(vm.port, "GET", "/metrics").body.decode()
        expect(metric(text, "mini_vmm_balloon_device_present") == 0, "balloon_device_present")
        expect("mini_vmm_balloon_target_bytes" not in text, "balloon metrics without a balloon")
        expect(request(vm.port, "GET", "/dashboard/data").json()["now"]["balloon"] is False, "")


def no_stats(_):
    with FakeVm("--no-stats") as vm:
        expect_fault(request(vm.sock, "GET", "/balloon/statistics"), 400, "not enabled")
        expect_fault(request(vm.sock, "PATCH", "/balloon/statistics",
                             {"stats_polling_interval_s": 5}), 400, "not enabled")
        # Its current interval (0) is a no-op, as in Firecracker.
        expect(request(vm.sock, "PATCH", "/balloon/statistics",
                       {"stats_polling_interval_s": 0}).status == 204, "same interval")
        expect(request(vm.sock, "GET", "/balloon").json()["stats_polling_interval_s"] == 0, "")


def shutdown(_):
    vm = FakeVm()
    try:
        r = request(vm.sock, "PUT", "/actions", {"action_type": "Shutdown"})
        expect(r.status == 204, r)
        vm.proc.wait(timeout=5)
        expect(vm.proc.returncode == 0, f"exit {vm.proc.returncode}")
        expect(not os.path.exists(vm.sock), "socket file left behind")
    finally:
        vm.stop()


def main():
    c = Checks("api contract")
    with FakeVm("--interval", "250", timeout=TIMEOUT) as vm:
        for fn in (instance_info, vm_state, balloon_get, balloon_patch, balloon_patch_too_big,
                   balloon_put, balloon_put_fields_checked_first, preboot_calls_after_start,
                   balloon_statistics,
                   balloon_statistics_patch, balloon_reporting, metrics_on_api_socket,
                   counters_never_reset, actions, keep_alive, head_request, malformed_json,
                   wrong_types, unknown_fields, wrong_methods, unknown_paths, wrong_content_type,
                   oversized_body, slow_body_gets_408, trickling_body_gets_408,
                   unfinished_headers_are_dropped, concurrent_clients, metrics_listener,
                   dashboard_data, socket_is_owner_only, connection_flood_is_bounded):
            c.run(fn, vm)
        # After all that abuse the server still answers, and counted the timeouts.

        def timeouts_counted(vm):
            text = request(vm.sock, "GET", "/metrics").body.decode()
            expect(metric(text, "mini_vmm_api_request_timeouts_total") >= 2, "timeouts")
        c.run(timeouts_counted, vm)
    for fn in (socket_path_handling, no_balloon, no_stats, shutdown):
        c.run(fn, None)
    c.done()


if __name__ == "__main__":
    main()
