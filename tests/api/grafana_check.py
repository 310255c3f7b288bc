#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""docs/grafana-dashboard.json stays true to the metrics: it is a valid
dashboard (unique panel ids, a 24-column grid, a datasource input, instance
and vm_id variables that every query honours), every query parses as PromQL
(promtool check rules), every mini_vmm_ and process_ metric it uses is one
mini-vmm really exposes, and the latency it exposes (API request durations,
discard report and operation latencies) is shown per VM."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import time

from apitest import TOP, Checks, FakeVm, expect, request

DASHBOARD = os.path.join(TOP, "docs", "grafana-dashboard.json")
PROMTOOL = shutil.which("promtool")


def load():
    with open(DASHBOARD) as f:
        return json.load(f)


def queries(d):
    for p in d["panels"]:
        for t in p.get("targets", []):
            yield p["title"], t["expr"]


def structure():
    d = load()
    expect(d["uid"] == "mini-vmm-reclaim" and d["title"] and d["schemaVersion"] >= 36, d["uid"])
    expect(any(i["name"] == "DS_PROMETHEUS" for i in d["__inputs"]), "no datasource input")
    names = [v["name"] for v in d["templating"]["list"]]
    expect("instance" in names and "vm_id" in names, names)
    ids = [p["id"] for p in d["panels"]]
    expect(len(ids) == len(set(ids)), "duplicate panel ids")
    for p in d["panels"]:
        g = p["gridPos"]
        expect(g["x"] + g["w"] <= 24 and g["h"] > 0, f"{p['title']}: {g}")
        if p["type"] != "row":
            expect(p.get("targets"), f"{p['title']} has no query")
    for title, expr in queries(d):
        expect('instance=~"$instance"' in expr, f"{title}: {expr} ignores $instance")
        expect('vm_id=~"$vm_id"' in expr, f"{title}: {expr} ignores $vm_id")


def queries_parse():
    if not PROMTOOL:
        print("    (promtool missing: PromQL syntax not checked)")
        return
    d = load()
    rules = {"groups": [{"name": "grafana", "rules": []}]}
    for i, (_, expr) in enumerate(queries(d)):
        e = expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
        e = e.replace("$vm_id", ".*")
        rules["groups"][0]["rules"].append({"record": f"check:q{i}", "expr": e})
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
        json.dump(rules, f)  # JSON is YAML
    p = subprocess.run([PROMTOOL, "check", "rules", f.name], capture_output=True, text=True,
                       timeout=60)
    os.unlink(f.name)
    expect(p.returncode == 0, p.stdout + p.stderr)


def metrics_exist():
    with FakeVm() as vm:
        time.sleep(0.5)
        text = request(vm.port, "GET", "/metrics").body.decode()
    expect('vm_id="fake-vm"' in text, "the exposition has no vm_id label")
    families = {}
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)", line)
        if m:
            families[m.group(1)] = m.group(2)
    exposed = set(families)
    for name, kind in families.items():
        if kind == "histogram":
            exposed |= {name + "_bucket", name + "_sum", name + "_count"}
    used = set()
    for title, expr in queries(load()):
        for name in re.findall(r"\b(?:mini_vmm|process)_[a-z0-9_]+", expr):
            used.add(name)
            expect(name in exposed, f"{title}: {name} is not a mini-vmm metric")
    for must in ("mini_vmm_guest_memory_bytes", "mini_vmm_guest_memory_resident_bytes",
                 "mini_vmm_balloon_target_bytes", "mini_vmm_balloon_actual_bytes",
                 "mini_vmm_guest_free_memory_bytes", "mini_vmm_balloon_reported_bytes_total",
                 "mini_vmm_discard_discarded_bytes_total",
                 "mini_vmm_discard_report_latency_seconds_bucket"):
        expect(must in used, f"the dashboard does not show {must}")


def latency_per_vm():
    """Each latency histogram mini-vmm exposes has a quantile panel split by vm_id."""
    per_vm = set()
    for _, expr in queries(load()):
        m = re.match(r"histogram_quantile\([0-9.]+, sum by \(vm_id(?:, [a-z_]+)*, le\) "
                     r"\(rate\((mini_vmm_[a-z_]+)_bucket\{", expr)
        if m:
            per_vm.add(m.group(1))
    for h in ("mini_vmm_api_request_duration_seconds", "mini_vmm_discard_report_latency_seconds",
              "mini_vmm_discard_op_latency_seconds"):
        expect(h in per_vm, f"no per-VM quantile panel for {h}")


def main():
    c = Checks("grafana dashboard")
    for fn in (structure, queries_parse, metrics_exist, latency_per_vm):
        c.run(fn)
    c.done()


if __name__ == "__main__":
    main()
