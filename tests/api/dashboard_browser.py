#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""The live dashboard in headless Chromium: served by the metrics listener,
it loads with no network besides its own server, polls dashboard/data, and
renders what the (fake) VM serves: the tiles carry the exact byte counts, the
charts their point counts. The screenshot is kept as an artifact:
build/tests/artifacts/api/dashboard.png."""

import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

from apitest import ARTIFACTS, Checks, FakeVm, expect, request, skip

MIB = 1 << 20
BROWSER = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")
                if shutil.which(b)), None)


def chromium(url, *mode):
    profile = tempfile.mkdtemp(prefix="mini-vmm-chromium-")
    try:
        p = subprocess.run(
            [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--window-size=1280,900",
             "--virtual-time-budget=4000", *mode, url],
            capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    return p


def attr(dom, elem_id, name):
    m = re.search(r'<[^>]*id="%s"[^>]*>' % re.escape(elem_id), dom)
    expect(m, f"no element #{elem_id}")
    a = re.search(r'%s="([^"]*)"' % re.escape(name), m.group(0))
    return a.group(1) if a else None


def text(dom, elem_id):
    m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(elem_id), dom)
    expect(m, f"no element #{elem_id}")
    return m.group(1)


def rendered_data(vm):
    url = f"http://127.0.0.1:{vm.port}/dashboard"
    p = chromium(url, "--dump-dom")
    dom = p.stdout
    with open(os.path.join(ARTIFACTS, "dashboard-dom.html"), "w") as f:
        f.write(dom)
    expect(p.returncode == 0 and "<canvas" in dom, f"chromium exit {p.returncode}: {p.stderr[-500:]}")
    expect(text(dom, "state") == "Running", text(dom, "state"))
    expect(attr(dom, "v-guest-ram", "data-bytes") == str(512 * MIB), "guest RAM tile")
    expect(text(dom, "v-guest-ram") == "512.0 MiB", text(dom, "v-guest-ram"))
    # 123 MiB: set through the API just before, so it came from the live feed.
    expect(attr(dom, "v-target", "data-bytes") == str(123 * MIB), attr(dom, "v-target", "data-bytes"))
    expect(text(dom, "v-target") == "123.0 MiB", text(dom, "v-target"))
    expect(text(dom, "discard-method") == "madvise" and text(dom, "discard-engine") == "io_uring",
           "discard method")
    for tile in ("v-rss", "v-actual", "v-free", "v-reported", "v-discarded"):
        expect(int(attr(dom, tile, "data-bytes") or -1) >= 0, f"tile {tile} empty")
    expect(int(attr(dom, "v-reported", "data-bytes")) > 0, "no reports shown")
    expect(int(attr(dom, "c-memory", "data-points")) >= 8, "memory chart has few points")
    expect(int(attr(dom, "c-reclaim", "data-points")) >= 8, "reclaim chart has few points")
    expect(int(attr(dom, "c-latency", "data-count")) > 0, "latency histogram empty")
    expect(int(re.search(r'data-updates="(\d+)"', dom).group(1)) >= 3, "the page did not poll")
    expect(text(dom, "error") == "", f"the page reported {text(dom, 'error')!r}")


def screenshot(vm):
    out = os.path.join(ARTIFACTS, "dashboard.png")
    if os.path.exists(out):
        os.unlink(out)
    p = chromium(f"http://127.0.0.1:{vm.port}/dashboard", f"--screenshot={out}")
    expect(p.returncode == 0 and os.path.exists(out), f"no screenshot: {p.stderr[-500:]}")
    with open(out, "rb") as f:
        head = f.read(24)
    expect(head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG")
    w, h = struct.unpack(">II", head[16:24])
    expect((w, h) == (1280, 900), (w, h))
    expect(os.path.getsize(out) > 30000, "the screenshot looks blank")
    try:
        import matplotlib.image as mpimg
        import numpy as np
    except ImportError:
        print("    (matplotlib missing: pixel check skipped)")
        return
    img = (mpimg.imread(out)[:, :, :3] * 255).astype(int)

    def has_color(rgb, region):
        y0, y1, x0, x1 = region
        d = abs(img[y0:y1, x0:x1] - np.array(rgb)).sum(axis=2)
        return int((d < 40).sum())

    # The host RSS line (#f2994a) in the memory chart, the histogram bars (#56ccf2) below.
    expect(has_color((0xf2, 0x99, 0x4a), (200, 480, 60, 1260)) > 200, "no RSS line drawn")
    expect(has_color((0x56, 0xcc, 0xf2), (540, 760, 660, 1260)) > 500, "no histogram bars")
    print(f"    screenshot: {out}")


def main():
    if not BROWSER:
        skip("chromium not installed (Debian package chromium; tools/install-deps.sh)")
    os.makedirs(ARTIFACTS, exist_ok=True)
    c = Checks("dashboard in headless chromium")
    with FakeVm("--interval", "250") as vm:
        expect(request(vm.sock, "PATCH", "/balloon", {"amount_mib": 123}).status == 204, "target")
        time.sleep(3)  # history for the charts
        c.run(rendered_data, vm)
        c.run(screenshot, vm)
    c.done()


if __name__ == "__main__":
    main()
