#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""promtool check metrics on real /metrics output (both listeners, with and
without a balloon): the exposition parses and passes Prometheus's lint
(names, units, _total on counters, histogram families)."""

import os
import shutil
import subprocess
import time

from apitest import ARTIFACTS, Checks, FakeVm, expect, request, skip

PROMTOOL = shutil.which("promtool")


def promtool(text):
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    return p.returncode, (p.stdout + p.stderr).strip()


def promtool_catches_bad_names():
    """The check can fail: a counter without _total is reported (exit 3)."""
    rc, out = promtool("# HELP x_count c\n# TYPE x_count counter\nx_count 1\n")
    expect(rc != 0 and "_total" in out, (rc, out))


def check_vm(*args):
    with FakeVm(*args) as vm:
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
