#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""docs/grafana-dashboard.json stays true to the metrics: it is a valid
dashboard (unique panel ids, a 24-column grid, a datasource input and an
instance variable), every query parses as PromQL (promtool check rules), and
every mini_vmm_ metric it uses is one mini-vmm really exposes."""

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
    expect("instance" in names, names)
    ids = [p["id"] for p in d["panels"]]
    expect(len(ids) == len(set(ids)), "duplicate panel ids")
    for p in d["panels"]:
        g = p["gridPos"]
        expect(g["x"] + g["w"] <= 24 and g["h"] > 0, f"{p['title']}: {g}")
        if p["type"] != "row":
            expect(p.get("targets"), f"{p['title']} has no query")
    for title, expr in queries(d):
        expect('instance=~"$instance"' in expr, f"{title}: {expr} ignores $instance")


def queries_parse():
    if not PROMTOOL:
        print("    (promtool missing: PromQL syntax not checked)")
        return
    d = load()
    rules = {"groups": [{"name": "grafana", "rules": []}]}
    for i, (_, expr) in enumerate(queries(d)):
        e = expr.replace("$__rate_interval", "1m").replace("$instance", ".*")
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
        for name in re.findall(r"\bmini_vmm_[a-z0-9_]+", expr):
            used.add(name)
            expect(name in exposed, f"{title}: {name} is not a mini-vmm metric")
    for must in ("mini_vmm_guest_memory_bytes", "mini_vmm_guest_memory_resident_bytes",
                 "mini_vmm_balloon_target_bytes", "mini_vmm_balloon_actual_bytes",
                 "mini_vmm_guest_free_memory_bytes", "mini_vmm_balloon_reported_bytes_total",
                 "mini_vmm_discard_discarded_bytes_total",
                 "mini_vmm_discard_report_latency_seconds_bucket"):
        expect(must in used, f"the dashboard does not show {must}")


def main():
    c = Checks("grafana dashboard")
    for fn in (structure, queries_parse, metrics_exist):
        c.run(fn)
    c.done()


if __name__ == "__main__":
    main()
