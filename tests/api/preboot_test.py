#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Firecracker's pre-boot lifecycle against the real mini-vmm binary, no KVM
needed: started with only an API socket it waits, unconfigured; the
configuration calls, their checks and Firecracker's status codes and
fault messages; InstanceStart refusing a configuration that does not
validate (the VM stays configurable) and failing for good when the VM
cannot be built (here: no /dev/kvm, or a kernel that is only an ELF
header); Shutdown and SIGTERM before boot; the command line's and
--config-file's checks before /dev/kvm (exit status 2). Field names and
codes are those of Firecracker's OpenAPI spec. The booted half of the flow
is the kvm tier's kvm/firecracker_flow."""

import json
import os
import re
import signal
import subprocess
import tempfile
import time

from apitest import Checks, expect, expect_fault, request

MINI_VMM = os.environ.get("MINI_VMM")
POST_BOOT = "The requested operation is not supported after starting the microVM."
PRE_BOOT = "The requested operation is not supported before starting the microVM."
DIR = tempfile.mkdtemp(prefix="mini-vmm-preboot-")
ELF = os.path.join(DIR, "vmlinux")  # an ELF header and nothing else: passes the checks only
with open(ELF, "wb") as f:
    f.write(b"\x7fELF\x02\x01\x01" + bytes(57))


class Vmm:
    """mini-vmm with only an API socket (Firecracker's way)."""

    def __init__(self, *args, flag="--api-sock"):
        self.sock = os.path.join(DIR, f"api-{time.monotonic_ns()}.sock")
        self.proc = subprocess.Popen([MINI_VMM, flag, self.sock, "--serial", "none", *args],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"mini-vmm did not start: {self.proc.stderr.read()}")
            time.sleep(0.02)

    def api(self, method, path, body=None):
        return request(self.sock, method, path, body)

    def wait(self, timeout=10):
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()


def waits_unconfigured(_):
    with Vmm("--id", "fc-1") as vm:
        j = vm.api("GET", "/").json()
        expect(j == {"id": "fc-1", "state": "Not started", "vmm_version": j["vmm_version"],
                     "app_name": "mini-vmm"}, j)
        expect(vm.api("GET", "/vm").json()["state"] == "Not started", "GET /vm")
        j = vm.api("GET", "/version").json()
        expect(j == {"firecracker_version": vm.api("GET", "/").json()["vmm_version"]}, j)
        j = vm.api("GET", "/vm/config").json()
        expect("boot-source" not in j and "balloon" not in j, j)
        expect(j["machine-config"]["vcpu_count"] == 1, j)
        expect_fault(vm.api("GET", "/balloon"), 400, "no balloon device")
        for path in ("/balloon/statistics", "/balloon/reporting"):
            r = vm.api("GET", path)
            expect(r.status == 400 and r.json() == {"fault_message": PRE_BOOT}, (path, r))
        # Pause and resume need a running VM.
        for state in ("Paused", "Resumed"):
            r = vm.api("PATCH", "/vm", {"state": state})
            expect(r.status == 400 and r.json() == {"fault_message": PRE_BOOT}, r)
        expect_fault(vm.api("PATCH", "/vm", {"state": "Stopped"}), 400, "Paused or Resumed")
        # /metrics works before boot too, with the state.
        text = vm.api("GET", "/metrics").body.decode()
        expect(re.search(r'^mini_vmm_vm_state\{vm_id="[^"]+",state="Not started"\} 1$', text,
                         re.M), "vm_state metric")


def machine_config(_):
    with Vmm() as vm:
        r = vm.api("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256})
        expect(r.status == 204, r)
        j = vm.api("GET", "/machine-config").json()
        expect(j == {"vcpu_count": 2, "mem_size_mib": 256, "smt": False,
                     "track_dirty_pages": False, "huge_pages": "None"}, j)
        # PATCH: only what it names.
        expect(vm.api("PATCH", "/machine-config", {"mem_size_mib": 384}).status == 204, "PATCH")
        j = vm.api("GET", "/machine-config").json()
        expect(j["vcpu_count"] == 2 and j["mem_size_mib"] == 384, j)
        # Firecracker's other fields at their defaults are accepted; huge_pages maps to a backend.
        r = vm.api("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "smt": False,
                                              "track_dirty_pages": False, "cpu_template": "None",
                                              "huge_pages": "Transparent"})
        expect(r.status == 204, r)
        expect(vm.api("GET", "/vm").json()["memory_backend"] == "thp", "huge_pages Transparent")
        for body, field in (({"vcpu_count": 0, "mem_size_mib": 128}, "vcpu_count"),
                            ({"vcpu_count": 33, "mem_size_mib": 128}, "vcpu_count"),
                            ({"vcpu_count": 1, "mem_size_mib": 8}, "mem_size_mib"),
                            ({"vcpu_count": 1}, "missing field 'mem_size_mib'"),
                            ({"vcpu_count": 1, "mem_size_mib": 128, "smt": True}, "smt"),
                            ({"vcpu_count": 1, "mem_size_mib": 128, "track_dirty_pages": True},
                             "track_dirty_pages"),
                            ({"vcpu_count": 1, "mem_size_mib": 128, "cpu_template": "T2"},
                             "cpu_template"),
                            ({"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "1G"},
                             "huge_pages"),
                            ({"vcpu_count": 1, "mem_size_mib": 127, "huge_pages": "2M"},
                             "multiple of 2"),
                            ({"vcpu_count": "2", "mem_size_mib": 128}, "'vcpu_count' must be"),
                            ({"vcpu_count": 1, "mem_size_mib": 128, "colour": 1},
                             "unknown field 'colour'")):
            expect_fault(vm.api("PUT", "/machine-config", body), 400, field)
        j = vm.api("GET", "/machine-config").json()
        expect(j["vcpu_count"] == 1 and j["mem_size_mib"] == 128, "a refused PUT changed it")


def boot_source(_):
    with Vmm() as vm:
        expect_fault(vm.api("PUT", "/boot-source", {"boot_args": "x"}), 400,
                     "missing field 'kernel_image_path'")
        expect_fault(vm.api("PUT", "/boot-source", {"kernel_image_path": ""}), 400,
                     "kernel_image_path")
        expect_fault(vm.api("PUT", "/boot-source", {"kernel_image_path": 5}), 400,
                     "'kernel_image_path' must be a string")
        r = vm.api("PUT", "/boot-source", {"kernel_image_path": ELF, "boot_args": "console=ttyS0",
                                           "initrd_path": ELF})
        expect(r.status == 204, r)
        j = vm.api("GET", "/vm/config").json()
        expect(j["boot-source"] == {"kernel_image_path": ELF, "boot_args": "console=ttyS0",
                                    "initrd_path": ELF}, j)


def balloon_preboot(_):
    with Vmm() as vm:
        # Firecracker's docs' request for free page reporting, verbatim.
        body = {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1,
                "free_page_reporting": True}
        r = vm.api("PUT", "/balloon", body)
        expect(r.status == 204, r)
        j = vm.api("GET", "/balloon").json()
        expect(j == dict(body, free_page_hinting=False), j)
        # Only the required fields: Firecracker's defaults for the rest.
        expect(vm.api("PUT", "/balloon", {"amount_mib": 8, "deflate_on_oom": False}).status == 204,
               "PUT minimal")
        j = vm.api("GET", "/balloon").json()
        expect(j == {"amount_mib": 8, "deflate_on_oom": False, "stats_polling_interval_s": 0,
                     "free_page_hinting": False, "free_page_reporting": False}, j)
        # Hinting: both values, shown back.
        r = vm.api("PUT", "/balloon", dict(body, free_page_hinting=True))
        expect(r.status == 204, r)
        expect(vm.api("GET", "/balloon").json()["free_page_hinting"] is True, "hinting on")
        r = vm.api("PUT", "/balloon", dict(body, free_page_hinting=False))
        expect(r.status == 204, r)
        # PATCH before boot changes the configuration, as in Firecracker.
        expect(vm.api("PATCH", "/balloon", {"amount_mib": 32}).status == 204, "PATCH")
        expect(vm.api("PATCH", "/balloon/statistics",
                      {"stats_polling_interval_s": 5}).status == 204, "PATCH stats")
        j = vm.api("GET", "/balloon").json()
        expect(j["amount_mib"] == 32 and j["stats_polling_interval_s"] == 5 and
               j["free_page_reporting"] is True, j)
        expect(vm.api("GET", "/vm/config").json()["balloon"] == j, "vm/config balloon")
        for bad, field in (({"amount_mib": -1, "deflate_on_oom": True}, "amount_mib"),
                           ({"amount_mib": 1, "deflate_on_oom": True,
                             "stats_polling_interval_s": 86401}, "stats_polling_interval_s"),
                           ({"amount_mib": 1, "deflate_on_oom": True, "must_tell_host": True},
                            "unknown field 'must_tell_host'")):
            expect_fault(vm.api("PUT", "/balloon", bad), 400, field)


def start_refuses_bad_config(_):
    with Vmm() as vm:
        # No boot source: named, and the VM stays configurable.
        expect_fault(vm.api("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                     "kernel_image_path")
        vm.api("PUT", "/boot-source", {"kernel_image_path": "/etc/passwd"})
        expect_fault(vm.api("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                     "kernel_image_path (--kernel) '/etc/passwd': not a kernel")
        vm.api("PUT", "/boot-source", {"kernel_image_path": ELF, "initrd_path": "/nonexistent"})
        expect_fault(vm.api("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                     "initrd_path")
        vm.api("PUT", "/boot-source", {"kernel_image_path": ELF})
        vm.api("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
        vm.api("PUT", "/balloon", {"amount_mib": 128, "deflate_on_oom": True})
        expect_fault(vm.api("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                     "more than guest RAM (64 MiB)")
        expect(vm.api("GET", "/").json()["state"] == "Not started", "state after refusals")
        expect(vm.api("PATCH", "/balloon", {"amount_mib": 16}).status == 204, "still configurable")
        expect(vm.proc.poll() is None, "mini-vmm exited on a refused InstanceStart")


def start_failure_is_final(_):
    # Validates, then building fails (no /dev/kvm here; with KVM, the ELF has no segments):
    # a 400 that says so, then mini-vmm exits 1 and removes its socket.
    with Vmm() as vm:
        vm.api("PUT", "/boot-source", {"kernel_image_path": ELF})
        vm.api("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": True,
                                   "stats_polling_interval_s": 1, "free_page_reporting": True})
        expect_fault(vm.api("PUT", "/actions", {"action_type": "InstanceStart"}), 400,
                     "InstanceStart failed")
        rc, err = vm.wait()
        expect(rc == 1, f"exit {rc}: {err}")
        expect(not os.path.exists(vm.sock), "socket left behind")


def shutdown_before_boot(_):
    with Vmm(flag="--api-socket") as vm:
        r = vm.api("PUT", "/actions", {"action_type": "Shutdown"})
        expect(r.status == 204, r)
        rc, err = vm.wait()
        expect(rc == 0, f"exit {rc}: {err}")
    with Vmm() as vm:
        vm.proc.send_signal(signal.SIGTERM)
        rc, err = vm.wait()
        expect(rc == 128 + signal.SIGTERM, f"exit {rc}: {err}")
        expect("/dev/kvm" not in err, err)


def run(*args):
    p = subprocess.run([MINI_VMM, "--serial", "none", *args], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stderr


def cli_checked_before_kvm(_):
    # Each names what to fix, with exit status 2, before /dev/kvm is opened.
    for args, says in ((["--kernel", "/etc/passwd"], "kernel_image_path (--kernel)"),
                       (["--kernel", ELF, "--balloon", "bogus=1"], "'bogus'"),
                       (["--kernel", "/nonexistent"], "No such file"),
                       (["--kernel", ELF, "--memory", "64M", "--balloon", "size=128M"],
                        "more than guest RAM"),
                       (["--kernel", ELF, "--initrd", "/nonexistent"], "initrd_path (--initrd)"),
                       (["--no-api"], "--no-api requires --config-file"),
                       (["--config-file", "/nonexistent.json"], "--config-file /nonexistent.json"),
                       ([], "--kernel PATH is required")):
        rc, err = run(*args)
        expect(rc == 2 and says in err and "/dev/kvm" not in err, (args, rc, err))
    # A good configuration gets as far as KVM (exit 1 here, where there is none, or
    # when loading the header-only ELF where there is).
    rc, err = run("--kernel", ELF, "--balloon", "reporting=on")
    expect(rc == 1, (rc, err))


def config_file(_):
    path = os.path.join(DIR, "vm.json")

    def write(obj):
        with open(path, "w") as f:
            f.write(obj if isinstance(obj, str) else json.dumps(obj))
        return path

    good = {"boot-source": {"kernel_image_path": ELF, "boot_args": "console=ttyS0"},
            "machine-config": {"vcpu_count": 2, "mem_size_mib": 256},
            "balloon": {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1,
                        "free_page_reporting": True},
            "drives": [], "network-interfaces": []}
    for obj, says in (("{", "malformed JSON"),
                      (dict(good, drives=[{"drive_id": "rootfs"}]), "section 'drives'"),
                      (dict(good, vsock={"guest_cid": 3}), "section 'vsock'"),
                      ({k: v for k, v in good.items() if k != "boot-source"},
                       "'boot-source' is required"),
                      (dict(good, balloon=dict(good["balloon"], free_page_hinting=1)),
                       "balloon: 'free_page_hinting' must be a boolean"),
                      (dict(good, **{"machine-config": {"vcpu_count": 64, "mem_size_mib": 256}}),
                       "machine-config: 'vcpu_count'"),
                      (dict(good, **{"boot-source": {"kernel_image_path": "/etc/passwd"}}),
                       "kernel_image_path")):
        rc, err = run("--config-file", write(obj))
        expect(rc == 2 and says in err and "/dev/kvm" not in err, (says, rc, err))
    rc, err = run("--config-file", write(good), "--cpus", "2")
    expect(rc == 2 and "--cpus" in err, (rc, err))
    rc, err = run("--config-file", write(good), "--no-api")
    expect(rc == 1, (rc, err))  # valid: on to KVM


def main():
    if not MINI_VMM:
        raise SystemExit("MINI_VMM is not set (run through ctest)")
    c = Checks("api preboot")
    for fn in (waits_unconfigured, machine_config, boot_source, balloon_preboot,
               start_refuses_bad_config, start_failure_is_final, shutdown_before_boot,
               cli_checked_before_kvm, config_file):
        c.run(fn, None)
    for name in os.listdir(DIR):
        os.unlink(os.path.join(DIR, name))
    os.rmdir(DIR)
    c.done()


if __name__ == "__main__":
    main()
