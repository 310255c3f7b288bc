#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""--metrics-log: one JSON object per line, one line per interval (plus one per
PUT /actions FlushMetrics), counters that only grow, the fields docs/api.md
lists; a path that cannot be written stops start-up with a message."""

import json
import os
import subprocess
import tempfile
import time

from apitest import FAKE_VM, Checks, FakeVm, expect, request

FIELDS = ("t_s", "time", "vm_id", "state", "memory_backend", "guest_memory_bytes",
          "guest_resident_bytes",
          "balloon", "discard_method", "balloon_target_bytes", "balloon_actual_bytes",
          "guest_free_memory_bytes", "guest_available_memory_bytes", "guest_total_memory_bytes",
          "guest_stats_updates", "guest_stats_age_s",
          "reports", "reports_done", "bytes_reported", "inflated_bytes", "deflated_bytes",
          "discard_bytes_requested", "bytes_discarded", "discard_reports_in_flight",
          "report_latency")


def read_timeline(path):
    with open(path) as f:
        lines = f.read().splitlines()
    return [json.loads(line) for line in lines]


def timeline():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "timeline.jsonl")
    with FakeVm("--metrics-log", path, "--interval", "200") as vm:
        time.sleep(2.1)
        expect(request(vm.sock, "PUT", "/actions", {"action_type": "FlushMetrics"}).status == 204,
               "flush")
        n_flushed = len(read_timeline(path))
        expect(request(vm.sock, "PUT", "/actions", {"action_type": "Shutdown"}).status == 204,
               "shutdown")
        vm.proc.wait(timeout=5)
    samples = read_timeline(path)
    expect(10 <= len(samples) <= 16, f"{len(samples)} samples in 2.1 s at 200 ms (+1 flush)")
    expect(n_flushed >= 11, f"FlushMetrics did not write a sample ({n_flushed})")
    for s in samples:
        expect(set(FIELDS) <= set(s), f"missing {set(FIELDS) - set(s)}")
        expect(s["balloon"] is True and s["state"] == "Running", s)
        expect(len(s["report_latency"]["buckets"]) == 26, s)
        expect(abs(s["time"] - time.time()) < 60, s["time"])
    for a, b in zip(samples, samples[1:]):
        expect(a["t_s"] <= b["t_s"], "time went backwards")
        for k in ("reports", "bytes_reported", "bytes_discarded"):
            expect(a[k] <= b[k], f"{k} went down")
    expect(samples[-1]["bytes_reported"] > 0, "no reports in the timeline")
    gaps = [b["t_s"] - a["t_s"] for a, b in zip(samples, samples[1:])]
    expect(max(gaps) < 0.5, f"a gap of {max(gaps)} s at a 200 ms interval")
    os.unlink(path)
    os.rmdir(d)


def without_balloon():
    d = tempfile.mkdtemp()
    path = os.path.join(d, "t.jsonl")
    with FakeVm("--no-balloon", "--metrics-log", path, "--interval", "100"):
        time.sleep(0.5)
    samples = read_timeline(path)
    expect(samples and all(s["balloon"] is False and "bytes_reported" not in s for s in samples),
           samples[:1])
    os.unlink(path)
    os.rmdir(d)


def log_only():
    """--metrics-log alone: no socket, no listener, still sampled."""
    d = tempfile.mkdtemp()
    path = os.path.join(d, "t.jsonl")
    p = subprocess.Popen([FAKE_VM, "--metrics-log", path, "--interval", "100"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    expect(p.stdout.readline().startswith("ready metrics_port=0"), "fake_vm did not start")
    time.sleep(0.5)
    p.terminate()
    p.wait(timeout=5)
    expect(len(read_timeline(path)) >= 3, "no samples without listeners")
    os.unlink(path)
    os.rmdir(d)


def unwritable_path():
    p = subprocess.run([FAKE_VM, "--metrics-log", "/nonexistent-dir/t.jsonl"], capture_output=True,
                       text=True, timeout=10)
    expect(p.returncode != 0 and "--metrics-log /nonexistent-dir/t.jsonl" in p.stderr, p.stderr)


def main():
    c = Checks("metrics log")
    for fn in (timeline, without_balloon, log_only, unwritable_path):
        c.run(fn)
    c.done()


if __name__ == "__main__":
    main()
