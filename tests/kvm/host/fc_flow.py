#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Host side of kvm/firecracker_flow: a Firecracker client's balloon
workflow against mini-vmm started with only an API socket (run_tiny.sh
--api-boot), with field names and status codes as Firecracker's OpenAPI
spec defines them: configure (machine-config, boot-source, balloon with
statistics and free page reporting), InstanceStart, the pre-boot calls
refused after it, set the balloon target, read the statistics, change
their interval, see the reports, read the configuration back, shut down.
The guest (guest/tiny_fc_flow.c) inflates, reports and sends known
statistics; run_tiny.sh then checks mini-vmm exited 0."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "api"))
from apitest import expect, request  # noqa: E402

SOCK = os.environ["TINY_API_SOCKET"]
KERNEL = os.environ["TINY_KERNEL"]
SERIAL = os.environ["TINY_SERIAL"]
MIB = 1 << 20
POST_BOOT = {"fault_message": "The requested operation is not supported after starting the microVM."}


def api(method, path, body=None, want=None):
    r = request(SOCK, method, path, body)
    print(f"{method} {path} {body if body is not None else ''} -> {r.status} "
          f"{r.body.decode(errors='replace')[:300]}")
    if want is not None:
        expect(r.status == want, f"{method} {path}: expected {want}, got {r!r}")
    return r


def wait_serial(text, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with open(SERIAL, errors="replace") as f:
            out = f.read()
        if text in out:
            return
        expect("FAIL" not in out, f"the guest failed: {out}")
        time.sleep(0.05)
    raise AssertionError(f"no '{text}' from the guest in {timeout} s")


def ticks_now():
    with open(SERIAL, errors="replace") as f:
        return sum(1 for line in f if line.startswith("fc_flow: tick "))


def wait_socket(timeout=30):
    deadline = time.monotonic() + timeout
    while not os.path.exists(SOCK):
        expect(time.monotonic() < deadline, "no API socket")
        time.sleep(0.02)


def main():
    wait_socket()
    info = api("GET", "/", want=200).json()
    expect(set(info) == {"app_name", "id", "state", "vmm_version"}, info)
    expect(info["state"] == "Not started", info)

    # Configure, Firecracker's way.
    api("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}, want=204)
    api("PUT", "/boot-source", {"kernel_image_path": KERNEL, "boot_args": "console=ttyS0"},
        want=204)
    api("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": True,
                            "stats_polling_interval_s": 1, "free_page_reporting": True}, want=204)
    cfg = api("GET", "/vm/config", want=200).json()
    expect(cfg["boot-source"]["kernel_image_path"] == KERNEL, cfg)
    expect(cfg["machine-config"]["vcpu_count"] == 1 and
           cfg["machine-config"]["mem_size_mib"] == 128, cfg)
    expect(cfg["balloon"]["free_page_reporting"] is True, cfg)

    api("PUT", "/actions", {"action_type": "InstanceStart"}, want=204)
    expect(api("GET", "/", want=200).json()["state"] == "Running", "state after InstanceStart")

    # Pre-boot-only calls, after start: Firecracker's 400 and its words.
    for method, path, body in (
            ("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": True}),
            ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
            ("PUT", "/boot-source", {"kernel_image_path": KERNEL}),
            ("PUT", "/actions", {"action_type": "InstanceStart"})):
        expect(api(method, path, body, want=400).json() == POST_BOOT, (method, path))

    wait_serial("fc_flow: ready")
    # The balloon's target (runtime).
    api("PATCH", "/balloon", {"amount_mib": 4}, want=204)
    b = api("GET", "/balloon", want=200).json()
    expect(b == {"amount_mib": 4, "deflate_on_oom": True, "stats_polling_interval_s": 1,
                 "free_page_hinting": False, "free_page_reporting": True}, b)
    wait_serial("fc_flow: inflated 1024 pages")

    # The statistics: Firecracker's BalloonStats, the guest's figures.
    deadline = time.monotonic() + 30
    while True:
        st = api("GET", "/balloon/statistics", want=200).json()
        if st["actual_mib"] == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    expect(st["target_pages"] == 1024 and st["actual_pages"] == 1024, st)
    expect(st["target_mib"] == 4 and st["actual_mib"] == 4, st)
    expect(st["free_memory"] == 100 * MIB and st["total_memory"] == 120 * MIB, st)
    api("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 2}, want=204)
    expect(api("GET", "/balloon", want=200).json()["stats_polling_interval_s"] == 2, "interval")

    # Free page reporting, enabled before boot, at work.
    wait_serial("fc_flow: report acked")
    rep = api("GET", "/balloon/reporting", want=200).json()
    expect(rep["reporting_enabled"] is True and rep["balloon"]["reports"] >= 1, rep)
    wait_serial("PASS tiny_fc_flow")

    # Pause and resume (PATCH /vm): the guest's ticks stop, then go on.
    wait_serial("fc_flow: tick 2")
    api("PATCH", "/vm", {"state": "Paused"}, want=204)
    expect(api("GET", "/", want=200).json()["state"] == "Paused", "state after Paused")
    text = api("GET", "/metrics", want=200).body.decode()
    expect(re.search(r'^mini_vmm_vm_state\{vm_id="[^"]+",state="Paused"\} 1$', text, re.M),
           "vm_state metric")
    ticks = ticks_now()
    time.sleep(1.5)
    expect(ticks_now() == ticks, f"the guest ran while paused: {ticks} -> {ticks_now()} ticks")
    expect(api("PATCH", "/vm", {"state": "Bogus"}, want=400).json()["fault_message"], "bad state")
    api("PATCH", "/vm", {"state": "Resumed"}, want=204)
    expect(api("GET", "/", want=200).json()["state"] == "Running", "state after Resumed")
    wait_serial(f"fc_flow: tick {ticks + 3}", timeout=60)
    print(f"paused for 1.5 s at tick {ticks}: no tick; after Resumed, ticks again")

    api("PUT", "/actions", {"action_type": "Shutdown"}, want=204)
    print("PASS host side: Firecracker's flow")
    return 0


if __name__ == "__main__":
    sys.exit(main())
