#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""kvm/prometheus_two_vms: a fleet as Prometheus sees it. Two mini-vmm VMs
(--id fleet-a and fleet-b, each a tiny guest that reports 8 MiB and idles)
serve /metrics on loopback; Debian's Prometheus server scrapes both every
second; its HTTP API (/api/v1/query) must then return, for each VM id,
mini_vmm_balloon_reported_bytes_total > 0 with its own instance, up == 1 for
both targets, and each VM's process_resident_memory_bytes. The VMs are
stopped through their API (PUT /actions Shutdown) and must exit 0.

    prometheus_two_vms.py MINI_VMM GUEST_ELF ARTIFACT_DIR

Exit 0 pass, 1 fail, 77 skip (no /dev/kvm; no prometheus: tools/install-deps.sh).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

IDS = ("fleet-a", "fleet-b")
# Everything runs under TCG in the nested host: Prometheus starts slowly there.
WAIT_S = int(os.environ.get("PROMETHEUS_TEST_WAIT_S", "240"))


def log(msg):
    print(f"prometheus_two_vms: {msg}", flush=True)


def fail(msg):
    log(f"FAIL {msg}")
    sys.exit(1)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def api_put(sock, path, body):
    c = UnixHTTPConnection(sock)
    c.request("PUT", path, json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    c.close()
    return r.status


def wait_for(what, fn, limit=WAIT_S, step=0.5):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        v = fn()
        if v:
            return v, time.monotonic() - t0
        time.sleep(step)
    fail(f"{what}: not after {limit} s")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Vm:
    def __init__(self, vmm, elf, vm_id, tmp):
        self.id = vm_id
        self.sock = os.path.join(tmp, f"{vm_id}.sock")
        self.serial = open(os.path.join(tmp, f"{vm_id}.serial"), "w+")
        self.err = open(os.path.join(tmp, f"{vm_id}.log"), "w+")
        self.proc = subprocess.Popen(
            [vmm, "--kernel", elf, "--memory", "64M", "--balloon-reporting", "--serial",
             "stdio", "--id", vm_id, "--api-socket", self.sock, "--metrics-listen",
             "127.0.0.1:0"], stdin=subprocess.DEVNULL, stdout=self.serial, stderr=self.err)
        self.port = None

    def text(self, f):
        f.flush()
        f.seek(0)
        return f.read()

    def started(self):
        if self.proc.poll() is not None:
            fail(f"{self.id}: mini-vmm exited {self.proc.returncode}: {self.text(self.err)}")
        m = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", self.text(self.err))
        if m and "reported 8 MiB" in self.text(self.serial):
            self.port = int(m.group(1))
            return True
        if "FAIL" in self.text(self.serial):
            fail(f"{self.id}: the guest failed: {self.text(self.serial)}")
        return False

    def stop(self):
        if self.proc.poll() is None:
            try:
                code = api_put(self.sock, "/actions", {"action_type": "Shutdown"})
            except OSError as e:
                code = str(e)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                fail(f"{self.id}: still running 30 s after PUT /actions Shutdown ({code})")
        return self.proc.returncode


def query(port, q):
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": q})
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            j = json.load(r)
    except OSError:
        return None
    if j.get("status") != "success":
        fail(f"query {q}: {j}")
    return j["data"]["result"]


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    vmm, elf, artifacts = sys.argv[1:]
    if not os.path.exists("/dev/kvm"):
        print("SKIP prometheus_two_vms: /dev/kvm is absent (no KVM on this machine)")
        return 77
    prometheus = shutil.which("prometheus")
    if not prometheus:
        print("SKIP prometheus_two_vms: no prometheus (Debian package prometheus; "
              "tools/install-deps.sh)")
        return 77
    os.makedirs(artifacts, exist_ok=True)
    # Sockets cannot live on the nested host's 9p share: /tmp is a tmpfs there.
    tmp = tempfile.mkdtemp(prefix="mini-vmm-prom-", dir="/tmp")
    vms, prom = [], None
    try:
        t0 = time.monotonic()
        vms = [Vm(vmm, elf, i, tmp) for i in IDS]
        for vm in vms:
            wait_for(f"{vm.id}: the guest's report and the metrics port", vm.started)
        log(f"both VMs up and reported ({time.monotonic() - t0:.1f} s): ports "
            f"{vms[0].port}, {vms[1].port}")

        prom_port = free_port()
        conf = os.path.join(tmp, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: mini-vmm\n    static_configs:\n"
                    "      - targets: [" +
                    ", ".join(f'"127.0.0.1:{vm.port}"' for vm in vms) + "]\n")
        prom_log = open(os.path.join(tmp, "prometheus.log"), "w+")
        prom = subprocess.Popen(
            [prometheus, f"--config.file={conf}", f"--storage.tsdb.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            stdin=subprocess.DEVNULL, stdout=prom_log, stderr=subprocess.STDOUT)
        t1 = time.monotonic()

        def both_reported():
            if prom.poll() is not None:
                prom_log.seek(0)
                fail(f"prometheus exited {prom.returncode}: {prom_log.read()[-2000:]}")
            r = query(prom_port, "mini_vmm_balloon_reported_bytes_total > 0")
            if r is None:
                return None
            got = {s["metric"].get("vm_id"): s for s in r}
            return got if set(IDS) <= set(got) else None

        got, waited = wait_for("Prometheus seeing both VM ids with reported bytes", both_reported)
        log(f"Prometheus answered with both VMs {waited:.1f} s after it started")
        instances = {got[i]["metric"]["instance"] for i in IDS}
        if instances != {f"127.0.0.1:{vm.port}" for vm in vms}:
            fail(f"instances {instances} are not the two VMs' ports")
        for i in IDS:
            v = float(got[i]["value"][1])
            log(f"{i}: mini_vmm_balloon_reported_bytes_total = {v:.0f} "
                f"({got[i]['metric']['instance']})")
            if v < 8 << 20:
                fail(f"{i}: reported {v} bytes, the guest reported 8 MiB")
        up = query(prom_port, 'up{job="mini-vmm"}') or []
        if sorted(float(s["value"][1]) for s in up) != [1.0, 1.0]:
            fail(f"up: {up}")
        # Every series carries the id: a join through mini_vmm_build_info needs nothing else.
        info = query(prom_port, "count by (vm_id) (mini_vmm_build_info)") or []
        if {s["metric"]["vm_id"] for s in info} != set(IDS):
            fail(f"build_info by vm_id: {info}")
        rss = query(prom_port, "process_resident_memory_bytes > 0") or []
        if {s["metric"].get("vm_id") for s in rss} != set(IDS):
            fail(f"process_resident_memory_bytes by vm_id: {rss}")
        unlabelled = query(prom_port, '{job="mini-vmm", vm_id="", __name__!~"up|scrape_.*"}')
        if unlabelled:
            fail(f"series without vm_id: {[s['metric'] for s in unlabelled][:5]}")
        with open(os.path.join(artifacts, "prometheus_two_vms.json"), "w") as f:
            json.dump({"reported": [got[i] for i in IDS], "up": up, "build_info": info}, f,
                      indent=1)
    finally:
        if prom and prom.poll() is None:
            prom.send_signal(signal.SIGTERM)
            try:
                prom.wait(timeout=30)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        codes = {vm.id: vm.stop() for vm in vms}
        for vm in vms:
            for suffix, f in (("serial", vm.serial), ("log", vm.err)):
                with open(os.path.join(artifacts, f"prometheus_two_vms.{vm.id}.{suffix}"),
                          "w") as out:
                    out.write(vm.text(f))
        shutil.rmtree(tmp, ignore_errors=True)
    bad = {i: c for i, c in codes.items() if c != 0}
    if bad:
        fail(f"mini-vmm exit status after Shutdown: {bad}")
    log(f"PASS ({time.monotonic() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
