#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The guest's free figure follows the guest within two polling intervals
(boot/stats_freshness; docs/virtio-balloon.md, "How fresh the guest's
statistics are").

    stats_freshness.py METRICS_LOG VMM_LOG --interval S --mib M --hold-ms H

METRICS_LOG is mini-vmm's --metrics-log of a run of tests/boot/userspace-
reclaim.c (sampled much faster than the polling interval), VMM_LOG its log
with the guest's progress markers. That program holds its M MiB freed for
settle_ms after FREED (until SETTLED) and holds M MiB mapped for recheck_ms
before VERIFIED; both H ms, longer than two intervals, so the checks hold on
a host of any speed:

  - a statistics buffer arrives at least every two intervals from START to
    VERIFIED (its arrival: the sample's time less guest_stats_age_s);
  - every buffer arriving from FREED + 2 intervals to SETTLED shows the M
    MiB free, and every one from VERIFIED - H + 2 intervals to VERIFIED
    shows them in use again: the two levels differ by at least 3/4 of M,
    and there is at least one buffer in each window.

Exit 0 pass, 1 fail (with the numbers)."""

import argparse
import json
import re
import sys

MIB = 1 << 20
SLACK_S = 0.5


def fail(msg):
    print(f"FAIL: stats freshness: {msg}")
    sys.exit(1)


def markers(path):
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r"guest marker: phase=(\w+) arg=\d+ .* t=([0-9.]+)", line)
            if m:
                out.setdefault(m.group(1), float(m.group(2)))
    return out


def arrivals(path):
    """(arrival time, free bytes) of each statistics buffer, in order."""
    out, seen = [], 0
    with open(path) as f:
        for line in f:
            s = json.loads(line)
            n = s.get("guest_stats_updates") or 0
            if n > seen:
                out.append((s["t_s"] - (s.get("guest_stats_age_s") or 0),
                            s["guest_free_memory_bytes"]))
            seen = max(seen, n)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("metrics_log")
    ap.add_argument("vmm_log")
    ap.add_argument("--interval", type=float, required=True)
    ap.add_argument("--mib", type=int, required=True)
    ap.add_argument("--hold-ms", type=int, required=True)
    a = ap.parse_args()
    two = 2 * a.interval
    hold = a.hold_ms / 1000
    if hold <= two + a.interval:
        fail(f"hold {hold} s is too short to judge two intervals of {a.interval} s")

    mk = markers(a.vmm_log)
    for phase in ("start", "freed", "settled", "verified"):
        if phase not in mk:
            fail(f"no '{phase}' marker in {a.vmm_log}")
    got = arrivals(a.metrics_log)
    print(f"markers (s since the VM started): {mk}")
    print(f"statistics buffers: {len(got)}, first at {got[0][0]:.2f} s" if got else "none")

    # 1. Arrivals at least every two intervals while the program runs.
    during = [t for t, _ in got if mk["start"] <= t <= mk["verified"]]
    edges = [mk["start"]] + during + [mk["verified"]]
    gap = max(b - a_ for a_, b in zip(edges, edges[1:]))
    # Slack: the timeline's own period (0.25 s) and the nested TCG host's
    # stalls, which hold up everything in it, mini-vmm's sampler included.
    print(f"longest time without a buffer between start and verified: {gap:.2f} s "
          f"(limit {two + SLACK_S:.2f})")
    if gap > two + SLACK_S:
        fail(f"{gap:.2f} s without a statistics buffer (interval {a.interval} s)")

    # 2. The level follows within two intervals and stays while the phase lasts.
    freed = [(t, v) for t, v in got if mk["freed"] + two <= t <= mk["settled"]]
    held = [(t, v) for t, v in got if mk["verified"] - hold + two <= t <= mk["verified"]]
    for what, w in (("freed", freed), ("held again", held)):
        print(f"{what}: " + ", ".join(f"{t:.2f} s {v / MIB:.0f} MiB" for t, v in w))
        if not w:
            fail(f"no statistics buffer while the memory was {what}")
    low_free = min(v for _, v in freed)
    high_held = max(v for _, v in held)
    diff = (low_free - high_held) / MIB
    print(f"free while freed >= {low_free / MIB:.0f} MiB, while held again <= "
          f"{high_held / MIB:.0f} MiB: {diff:.0f} MiB apart (the program's {a.mib} MiB)")
    if diff < 0.75 * a.mib:
        fail(f"the guest's free figure moved {diff:.0f} MiB, expected about {a.mib}: "
             "stale statistics")
    print("PASS: stats freshness")
    return 0


if __name__ == "__main__":
    sys.exit(main())
