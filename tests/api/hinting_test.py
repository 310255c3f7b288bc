#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Firecracker's free page hinting endpoints against the real API server
(fake VM; the device side is tests/unit/test_balloon_hinting.c and
kvm/tiny_hinting): status codes, field names, optional bodies, and
Firecracker's 400 {"fault_message"} when hinting is not enabled."""

from apitest import Checks, FakeVm, expect, expect_fault, request

JSON = {"Content-Type": "application/json"}


def run_cycle(vm):
    r = request(vm.sock, "GET", "/balloon/hinting/status")
    expect(r.status == 200, r)
    expect(r.json() == {"host_cmd": 0, "guest_cmd": None}, r.json())
    # The body is optional; acknowledge_on_stop defaults to true.
    r = request(vm.sock, "PATCH", "/balloon/hinting/start")
    expect(r.status == 204 and r.body == b"", r)
    expect(request(vm.sock, "GET", "/balloon/hinting/status").json()["host_cmd"] == 2, "id 2")
    r = request(vm.sock, "PATCH", "/balloon/hinting/start", '{"acknowledge_on_stop": false}',
                JSON)
    expect(r.status == 204, r)
    expect(request(vm.sock, "GET", "/balloon/hinting/status").json()["host_cmd"] == 3, "id 3")
    r = request(vm.sock, "PATCH", "/balloon/hinting/stop", "{}", JSON)
    expect(r.status == 204, r)
    expect(request(vm.sock, "GET", "/balloon/hinting/status").json()["host_cmd"] == 1, "DONE")
    r = request(vm.sock, "PATCH", "/balloon/hinting/stop")
    expect(r.status == 204, r)
    j = request(vm.sock, "GET", "/balloon/reporting").json()
    expect(j["balloon"]["hint_runs"] == 2, j["balloon"])


def bad_requests(vm):
    expect_fault(request(vm.sock, "PATCH", "/balloon/hinting/start",
                         '{"acknowledge_on_stop": 1}', JSON), 400, "boolean")
    expect_fault(request(vm.sock, "PATCH", "/balloon/hinting/start", '{"ack": true}', JSON),
                 400, "unknown field")
    expect_fault(request(vm.sock, "PATCH", "/balloon/hinting/stop", '{"x": 1}', JSON), 400,
                 "unknown field")
    for method, path in (("PUT", "/balloon/hinting/start"), ("GET", "/balloon/hinting/stop"),
                         ("PATCH", "/balloon/hinting/status")):
        r = request(vm.sock, method, path, "{}" if method != "GET" else None,
                    JSON if method != "GET" else None)
        expect(r.status == 405, f"{method} {path}: {r!r}")


def not_enabled():
    with FakeVm("--no-hinting") as vm:
        for method, path in (("PATCH", "/balloon/hinting/start"),
                             ("GET", "/balloon/hinting/status"),
                             ("PATCH", "/balloon/hinting/stop")):
            expect_fault(request(vm.sock, method, path), 400, "not enabled")
    with FakeVm("--no-balloon") as vm:
        expect_fault(request(vm.sock, "GET", "/balloon/hinting/status"), 400, "balloon")


def main():
    c = Checks("hinting")
    with FakeVm() as vm:
        c.run(run_cycle, vm)
        c.run(bad_requests, vm)
    c.run(not_enabled)
    c.done()


if __name__ == "__main__":
    main()
