#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""tools/plot-reclaim on the recorded timeline in tests/api/data/ (a real
mini-vmm run, see tests/api/data/README.md): a PNG with the three panels and
a summary whose numbers match the timeline; clear errors on bad input."""

import json
import os
import struct
import subprocess
import tempfile

from apitest import ARTIFACTS, TOP, Checks, expect, skip

PLOT = os.path.join(TOP, "tools", "plot-reclaim")
DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
MIB = 1 << 20


def run(*args):
    return subprocess.run([PLOT, *args], capture_output=True, text=True, timeout=120)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    expect(head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])


def recorded_timeline():
    src = os.path.join(DATA, "timeline.jsonl")
    out = os.path.join(ARTIFACTS, "reclaim.png")
    p = run(src, "-o", out, "--title", "recorded timeline (tests/api/data)")
    expect(p.returncode == 0, p.stderr)
    expect(png_size(out) == (1100, 900), png_size(out))
    expect(os.path.getsize(out) > 40000, "the chart looks empty")
    samples = [json.loads(line) for line in open(src) if line.strip()]
    peak = max(s["guest_resident_bytes"] for s in samples)
    expect(f"peak {peak / MIB:.1f} MiB" in p.stdout, p.stdout)
    expect(f"samples            {len(samples)} " in p.stdout, p.stdout)
    expect("report latency" in p.stdout and f"wrote {out}" in p.stdout, p.stdout)
    print(f"    chart: {out}")


def bad_input():
    d = tempfile.mkdtemp()
    bad = os.path.join(d, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"t_s": 0, "guest_memory_bytes": 1, "guest_resident_bytes": 1}\nnot json\n')
    p = run(bad)
    expect(p.returncode == 1 and "bad.jsonl:2: not JSON" in p.stderr, p.stderr)
    with open(bad, "w") as f:
        f.write('{"t_s": 0}\n')
    p = run(bad)
    expect(p.returncode == 1 and "no 'guest_memory_bytes' field" in p.stderr, p.stderr)
    with open(bad, "w") as f:
        f.write("")
    p = run(bad)
    expect(p.returncode == 1 and "need at least 2" in p.stderr, p.stderr)
    p = run(os.path.join(d, "missing.jsonl"))
    expect(p.returncode == 1 and "No such file" in p.stderr, p.stderr)
    os.unlink(bad)
    os.rmdir(d)


def without_balloon():
    d = tempfile.mkdtemp()
    src = os.path.join(d, "nob.jsonl")
    with open(src, "w") as f:
        for i in range(5):
            f.write(json.dumps({"t_s": i, "time": 0, "state": "Running", "memory_backend": "anon",
                                "guest_memory_bytes": 64 * MIB,
                                "guest_resident_bytes": (10 + i) * MIB, "balloon": False}) + "\n")
    p = run(src)
    expect(p.returncode == 0 and os.path.exists(os.path.join(d, "nob.png")), p.stderr)
    for f in os.listdir(d):
        os.unlink(os.path.join(d, f))
    os.rmdir(d)


def main():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        skip("matplotlib not installed (Debian package python3-matplotlib)")
    os.makedirs(ARTIFACTS, exist_ok=True)
    c = Checks("plot-reclaim")
    for fn in (recorded_timeline, bad_input, without_balloon):
        c.run(fn)
    c.done()


if __name__ == "__main__":
    main()
