#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""promtool check metrics on real /metrics output (both listeners, with and
without a balloon): the exposition parses and passes Prometheus's lint
(names, units, _total on counters, histogram families). Every sample carries
the VM's id (vm_id), build_info is there, and the process_* metrics are the
fake VM's own process as /proc and the clock see it."""

import os
import re
import resource
import shutil
import subprocess
import time

from apitest import ARTIFACTS, Checks, FakeVm, expect, request, skip

PROMTOOL = shutil.which("promtool")
VM_ID = "fleet-vm-7"


def promtool(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def promtool_catches_bad_names():
    """The check can fail: a counter without _total is reported (exit 3)."""
    rc, out = promtool("# HELP x_count c\n# TYPE x_count counter\nx_count 1\n")
    expect(rc != 0 and "_total" in out, (rc, out))


def samples(text):
    """(name, labels dict, value) of every sample line."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = re.match(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$', line)
        expect(m, f"not a sample line: {line!r}")
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
        out.append((m.group(1), labels, float(m.group(3))))
    return out


def check_identity_and_process(text, pid):
    got = samples(text)
    for name, labels, _ in got:
        expect(labels.get("vm_id") == VM_ID, f"{name} {labels}: no vm_id={VM_ID}")
    by_name = {name: (labels, v) for name, labels, v in got}
    labels, v = by_name["mini_vmm_build_info"]
    expect(v == 1 and labels["version"] == "0.1.0-fake", labels)
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines())
    rss = int(status["VmRSS"].split()[0]) * 1024
    vsz = int(status["VmSize"].split()[0]) * 1024
    _, v = by_name["process_resident_memory_bytes"]
    expect(0.5 * rss < v < 2 * rss, (v, rss))
    _, v = by_name["process_virtual_memory_bytes"]
    expect(0.5 * vsz < v < 2 * vsz, (v, vsz))
    _, v = by_name["process_open_fds"]
    expect(abs(v - len(os.listdir(f"/proc/{pid}/fd"))) <= 4, v)
    _, v = by_name["process_max_fds"]
    expect(v == resource.getrlimit(resource.RLIMIT_NOFILE)[0], v)
    _, v = by_name["process_start_time_seconds"]
    expect(time.time() - 60 < v <= time.time(), v)
    _, v = by_name["process_cpu_seconds_total"]
    expect(0 <= v < 60, v)


def check_vm(*args):
    with FakeVm("--id", VM_ID, *args) as vm:
        time.sleep(1.0)  # some reports, a histogram that is not empty
        for target, where in ((vm.port, "metrics listener"), (vm.sock, "API socket")):
            text = request(target, "GET", "/metrics").body.decode()
            rc, out = promtool(text)
            name = "metrics" + ("-no-balloon" if args else "") + \
                ("-tcp" if isinstance(target, int) else "-unix") + ".txt"
            with open(os.path.join(ARTIFACTS, name), "w") as f:
                f.write(text)
            expect(rc == 0 and out == "", f"promtool on the {where}: exit {rc}:\n{out}")
            expect("mini_vmm_guest_memory_resident_bytes" in text, where)
            check_identity_and_process(text, vm.proc.pid)


def with_balloon():
    check_vm()


def without_balloon():
    check_vm("--no-balloon")


def main():
    if not PROMTOOL:
        skip("promtool not installed (Debian package prometheus; tools/install-deps.sh)")
    os.makedirs(ARTIFACTS, exist_ok=True)
    c = Checks("promtool check metrics")
    for fn in (promtool_catches_bad_names, with_balloon, without_balloon):
        c.run(fn)
    c.done()


if __name__ == "__main__":
    main()
