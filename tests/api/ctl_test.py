#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""tools/mini-vmm-ctl against the real API server (fake VM): every command,
its output, its errors and exit statuses, and watch refreshing in place."""

import json
import os
import signal
import subprocess
import time

from apitest import TOP, Checks, FakeVm, expect, request

CTL = os.path.join(TOP, "tools", "mini-vmm-ctl")


def ctl(vm, *args, env_socket=False):
    env = dict(os.environ)
    argv = [CTL]
    if env_socket:
        env["MINI_VMM_API_SOCKET"] = vm.sock
    elif vm:
        argv += ["--socket", vm.sock]
    return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30, env=env)


def balloon_commands(vm):
    p = ctl(vm, "balloon", "set", "48")
    expect(p.returncode == 0 and "48 MiB" in p.stdout, p)
    p = ctl(vm, "balloon", "get", env_socket=True)
    expect(p.returncode == 0 and json.loads(p.stdout)["amount_mib"] == 48, p)
    p = ctl(vm, "balloon", "stats")
    j = json.loads(p.stdout)
    expect(p.returncode == 0 and j["target_mib"] == 48 and "free_memory" in j, p)
    p = ctl(vm, "balloon", "stats", "--interval", "4")
    expect(p.returncode == 0, p)
    expect(request(vm.sock, "GET", "/balloon").json()["stats_polling_interval_s"] == 4, "interval")


def balloon_sizes(vm):
    # A size with a unit; a plain number stays MiB (balloon_commands).
    for arg, want in (("128M", 128), ("65536K", 64), ("32MiB", 32), ("0", 0)):
        p = ctl(vm, "balloon", "set", arg)
        expect(p.returncode == 0 and f"set to {want} MiB" in p.stdout, (arg, p))
        expect(request(vm.sock, "GET", "/balloon").json()["amount_mib"] == want, arg)
    # 1G is 1024 MiB: more than the fake VM's 512 MiB, which the API refuses.
    p = ctl(vm, "balloon", "set", "1g")
    expect(p.returncode == 1 and "amount_mib 1024 " in p.stderr, p)
    for bad in ("12X", "1500K", "M", "1.5G"):
        p = ctl(vm, "balloon", "set", bad)
        expect(p.returncode == 2 and "SIZE" in p.stderr and "Traceback" not in p.stderr, (bad, p))


def closed_pipe(vm):
    """`mini-vmm-ctl ... | head`: the reader is gone before the output is
    written. The command ends quietly by SIGPIPE, no BrokenPipeError."""
    for args in (["metrics"], ["balloon", "get"], ["vm"], ["reporting"],
                 ["watch", "--count", "2", "--interval", "0.1", "--ansi"]):
        r, w = os.pipe()
        os.close(r)  # the reader left: the first write gets EPIPE
        p = subprocess.run([CTL, "--socket", vm.sock] + args, stdout=w, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        os.close(w)
        expect(p.returncode == -signal.SIGPIPE and p.stderr == "",
               f"{args}: exit {p.returncode}, stderr {p.stderr!r}")
    # And through a shell, as a user types it.
    p = subprocess.run(["bash", "-o", "pipefail", "-c", f"'{CTL}' --socket '{vm.sock}' metrics | head -n 1"],
                       capture_output=True, text=True, timeout=30)
    expect(p.stdout.startswith("#") and p.stderr == "", p)


def errors(vm):
    p = ctl(vm, "balloon", "set", "100000")
    expect(p.returncode == 1 and "400" in p.stderr and "guest RAM" in p.stderr, p)
    p = ctl(vm, "balloon", "set", "-1")
    expect(p.returncode == 2, p)
    p = subprocess.run([CTL, "vm"], capture_output=True, text=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if k != "MINI_VMM_API_SOCKET"})
    expect(p.returncode == 2 and "--socket" in p.stderr, p)
    p = subprocess.run([CTL, "--socket", "/nonexistent.sock", "vm"], capture_output=True,
                       text=True, timeout=30)
    expect(p.returncode == 1 and "cannot reach" in p.stderr, p)


def reporting(vm):
    time.sleep(0.5)
    p = ctl(vm, "reporting")
    expect(p.returncode == 0, p)
    for word in ("host RSS", "madvise via io_uring", "report latency", "p99"):
        expect(word in p.stdout, f"{word!r} not in:\n{p.stdout}")
    p = ctl(vm, "reporting", "--json")
    expect(json.loads(p.stdout)["discard"]["method"] == "madvise", p)


def metrics_and_vm(vm):
    p = ctl(vm, "metrics")
    expect(p.returncode == 0 and "mini_vmm_guest_memory_bytes 536870912" in p.stdout, p)
    p = ctl(vm, "vm")
    expect(p.returncode == 0 and json.loads(p.stdout)["state"] == "Running", p)


def watch(vm):
    p = ctl(vm, "watch", "--count", "3", "--interval", "0.3", "--ansi")
    expect(p.returncode == 0, p)
    out = p.stdout
    # Redrawn in place: home + clear per frame, the cursor hidden then restored.
    expect(out.count("\x1b[H") == 3 and out.startswith("\x1b[?25l\x1b[2J"), repr(out[:80]))
    expect(out.rstrip().endswith("\x1b[?25h"), repr(out[-40:]))
    frames = out.split("\x1b[H")[1:]
    for f in frames:
        for word in ("host RSS", "balloon target", "guest free", "reported", "discarded",
                     "report latency"):
            expect(word in f, f"{word!r} not in a frame")
    expect("MiB/s" in frames[-1], "no rates after the first frame")
    # Not a terminal and no --ansi: plain frames, no escapes.
    p = ctl(vm, "watch", "--count", "2", "--interval", "0.1")
    expect(p.returncode == 0 and "\x1b" not in p.stdout and p.stdout.count("uptime") == 2, p)


def shutdown(_):
    vm = FakeVm()
    try:
        p = ctl(vm, "shutdown")
        expect(p.returncode == 0 and "shutdown requested" in p.stdout, p)
        vm.proc.wait(timeout=5)
        expect(vm.proc.returncode == 0, vm.proc.returncode)
    finally:
        vm.stop()


def main():
    c = Checks("mini-vmm-ctl")
    with FakeVm("--interval", "250") as vm:
        for fn in (balloon_commands, balloon_sizes, closed_pipe, errors, reporting,
                   metrics_and_vm, watch):
            c.run(fn, vm)
    c.run(shutdown, None)
    c.done()


if __name__ == "__main__":
    main()
