#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the seed corpora of the fuzz harnesses (tests/fuzz/corpus/<harness>/).

Each seed is a small, valid, interesting input in the harness's own format
(see the comment at the top of each fuzz_*.c): a well-formed free page report,
an inflate, a full virtio-mmio handshake, an ELF with a PVH note, a bzImage
header, plus a few hostile shapes. The fuzzer mutates from there. Rerun after
changing an input format:  tests/fuzz/make_corpus.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "corpus")

u8 = lambda v: struct.pack("<B", v & 0xFF)
u16 = lambda v: struct.pack("<H", v & 0xFFFF)
u32 = lambda v: struct.pack("<I", v & 0xFFFFFFFF)
u64 = lambda v: struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)

F_NEXT, F_WRITE, F_INDIRECT = 1, 2, 4


def desc(addr, length, flags=0, nxt=0):
    return struct.pack("<QIHH", addr, length, flags, nxt)


def write(harness, name, data):
    d = os.path.join(OUT, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_virtqueue -------------------------------------------------------
VQ_RAM = 0x10000
VQ_RAM2 = 0x30000


def vq_layout(size):
    d = VQ_RAM
    a = d + 16 * size
    u = (a + 6 + 2 * size + 3) & ~3
    return d, a, u


def vq_image(size, descs, heads, extra=(), avail_idx=None, used_event=None):
    """RAM image: descriptor table, avail ring, and extra (offset, bytes) pieces."""
    d, a, u = vq_layout(size)
    img = bytearray(0x10000)
    for i, dsc in enumerate(descs):
        img[16 * i:16 * i + 16] = dsc
    off = a - VQ_RAM
    img[off + 2:off + 4] = u16(len(heads) if avail_idx is None else avail_idx)
    for i, h in enumerate(heads):
        img[off + 4 + 2 * i:off + 6 + 2 * i] = u16(h)
    if used_event is not None:
        img[off + 4 + 2 * size:off + 6 + 2 * size] = u16(used_event)
    for o, b in extra:
        img[o:o + len(b)] = b
    # Trim trailing zeros: the harness zero-fills.
    end = max(len(img.rstrip(b"\0")), 1)
    return bytes(img[:end])


def vq_seed(log2, flags, image, ops, ram2=b"", rings=None):
    s = u8(log2) + u8(flags)
    if rings:
        s += b"".join(u64(r) for r in rings)
    s += u16(len(image)) + image + u16(len(ram2)) + ram2
    return s + bytes(ops)


POP, PATCH, PUSH, NOTIFY = 0, 1, 2, 3


def gen_virtqueue():
    h = "fuzz_virtqueue"
    # A readable + writable chain, popped, pushed, notified.
    img = vq_image(16, [desc(VQ_RAM + 0x8000, 0x100, F_NEXT, 1),
                        desc(VQ_RAM + 0x9000, 0x200, F_WRITE)], [0])
    write(h, "two_bufs", vq_seed(4, 0, img, [POP, PUSH, 0, 1, 0, 0, NOTIFY, POP]))
    # Indirect table of three.
    table = desc(VQ_RAM + 0x9000, 64, F_NEXT, 1) + desc(VQ_RAM + 0x9100, 64, F_NEXT, 2) + \
        desc(VQ_RAM + 0x9200, 4096, F_WRITE)
    img = vq_image(8, [desc(VQ_RAM + 0xA000, 48, F_INDIRECT)], [0],
                   extra=[(0xA000, table)])
    write(h, "indirect", vq_seed(3, 2, img, [POP, PUSH, 0, 0x10, 0, 0, NOTIFY]))
    # Direct descriptors then an indirect one (2.7.5.3.2).
    img = vq_image(8, [desc(VQ_RAM + 0x8000, 16, F_NEXT, 1), desc(VQ_RAM + 0xA000, 32, F_INDIRECT)],
                   [0], extra=[(0xA000, desc(VQ_RAM + 0x9000, 8, F_WRITE | F_NEXT, 1) +
                                desc(VQ_RAM + 0x9100, 8, F_WRITE))])
    write(h, "direct_then_indirect", vq_seed(3, 2, img, [POP, PUSH, 0, 0, 0, 0]))
    # EVENT_IDX, several chains, ring wrap by patching avail idx.
    descs = [desc(VQ_RAM + 0x8000 + 0x100 * i, 0x100, F_WRITE) for i in range(4)]
    img = vq_image(4, descs, [0, 1, 2, 3], used_event=1)
    a = vq_layout(4)[1] - VQ_RAM
    ops = [POP, POP, PUSH, 0, 0, 0, 0, NOTIFY, POP, POP, PUSH, 0, 0, 0, 0, PUSH, 0, 0, 0, 0,
           NOTIFY, PATCH] + list(u16(a + 2) + u16(6)) + [POP, POP, POP]
    write(h, "event_idx_wrap", vq_seed(2, 1, img, ops))
    # Hostile: a loop, a next out of range, a zero length, a readable after a writable.
    descs = [desc(VQ_RAM + 0x8000, 16, F_NEXT, 0),
             desc(VQ_RAM + 0x8000, 16, F_NEXT, 99),
             desc(VQ_RAM + 0x8000, 0, 0),
             desc(VQ_RAM + 0x8000, 16, F_WRITE | F_NEXT, 4),
             desc(VQ_RAM + 0x8100, 16, 0)]
    img = vq_image(8, descs, [0, 1, 2, 3])
    write(h, "hostile_chains", vq_seed(3, 0, img, [POP] * 5))
    # Buffers crossing the end of RAM, in the second region, and across the gap.
    descs = [desc(VQ_RAM + 0xFF00, 0x200, F_WRITE),
             desc(VQ_RAM2 + 0x100, 0x100, F_WRITE),
             desc(VQ_RAM2 + 0x1F00, 0x200, F_WRITE),
             desc(0xFFFFFFFFFFFFF000, 0x2000, F_WRITE)]
    img = vq_image(4, descs, [0, 1, 2, 3])
    write(h, "edges", vq_seed(2, 0, img, [POP] * 4, ram2=b"\1" * 16))
    # avail idx jumping by more than the queue size, and a head out of range.
    img = vq_image(4, [desc(VQ_RAM + 0x8000, 16)], [0], avail_idx=9)
    write(h, "avail_jump", vq_seed(2, 0, img, [POP, POP]))
    img = vq_image(4, [desc(VQ_RAM + 0x8000, 16)], [7])
    write(h, "head_out_of_range", vq_seed(2, 0, img, [POP, POP]))
    # The largest queue, one chain of 1024 descriptors through an indirect table.
    table = b"".join(desc(VQ_RAM + 0xC000, 4, F_NEXT | (F_WRITE if i >= 512 else 0), i + 1)
                     for i in range(1023)) + desc(VQ_RAM + 0xC000, 4, F_WRITE)
    d, a, u = vq_layout(1024)
    img = bytearray(0x10000)
    # Put the indirect table right after the used ring.
    t_off = ((u - VQ_RAM) + 6 + 8 * 1024 + 15) & ~15
    img[0:16] = desc(VQ_RAM + t_off, 16 * 1024, F_INDIRECT)
    img[a - VQ_RAM + 2:a - VQ_RAM + 4] = u16(1)
    img[t_off:t_off + len(table)] = table
    write(h, "max_queue_indirect", vq_seed(10, 2, bytes(img[:t_off + len(table)]), [POP, PUSH] + [0] * 4))
    # Rings placed by the input: outside RAM, misaligned.
    write(h, "rings_outside", vq_seed(2, 4, b"\0", [POP], rings=[0x0, VQ_RAM, VQ_RAM + 0x100]))
    write(h, "rings_misaligned", vq_seed(2, 4, b"\0", [POP],
                                         rings=[VQ_RAM + 8, VQ_RAM + 0x101, VQ_RAM + 0x202]))


# ---- fuzz_virtio_mmio -----------------------------------------------------
MMIO_RAM = 0x100000
REG = dict(STATUS=0x70, DEV_FEAT=0x10, DEV_FEAT_SEL=0x14, DRV_FEAT=0x20, DRV_FEAT_SEL=0x24,
           QSEL=0x30, QNUM_MAX=0x34, QNUM=0x38, QREADY=0x44, QNOTIFY=0x50, ISR=0x60, IACK=0x64,
           DESC_LO=0x80, DESC_HI=0x84, DRV_LO=0x90, DRV_HI=0x94, DEV_LO=0xA0, DEV_HI=0xA4,
           GEN=0xFC, CONFIG=0x100)


def mw(off, val, wsel=0):
    return u8(0) + u16(off) + u8(wsel) + u64(val)


def mr(off, wsel=0):
    return u8(1) + u16(off) + u8(wsel)


def mram(off, data):
    out = b""
    while data:
        chunk, data = data[:255], data[255:]
        out += u8(2) + u32(off) + u8(len(chunk)) + chunk
        off += len(chunk)
    return out


def handshake(features, nq, qsize=16):
    s = mw(REG["STATUS"], 0) + mw(REG["STATUS"], 1) + mw(REG["STATUS"], 3)
    s += mw(REG["DEV_FEAT_SEL"], 0) + mr(REG["DEV_FEAT"]) + mw(REG["DEV_FEAT_SEL"], 1) + mr(REG["DEV_FEAT"])
    s += mw(REG["DRV_FEAT_SEL"], 0) + mw(REG["DRV_FEAT"], features & 0xFFFFFFFF)
    s += mw(REG["DRV_FEAT_SEL"], 1) + mw(REG["DRV_FEAT"], features >> 32)
    s += mw(REG["STATUS"], 0xB) + mr(REG["STATUS"])
    for q in range(nq):
        base = MMIO_RAM + q * 0x4000
        s += mw(REG["QSEL"], q) + mr(REG["QNUM_MAX"]) + mw(REG["QNUM"], qsize)
        s += mw(REG["DESC_LO"], base) + mw(REG["DESC_HI"], 0)
        s += mw(REG["DRV_LO"], base + 0x1000) + mw(REG["DRV_HI"], 0)
        s += mw(REG["DEV_LO"], base + 0x2000) + mw(REG["DEV_HI"], 0)
        s += mw(REG["QREADY"], 1)
    s += mw(REG["STATUS"], 0xF) + mr(REG["STATUS"])
    return s


def mmio_chain(q, head, bufs, avail_idx):
    """Descriptors + avail entry for queue q, as RAM writes."""
    base = MMIO_RAM + q * 0x4000
    s = b""
    for i, (addr, length, flags) in enumerate(bufs):
        nxt = head + i + 1
        fl = flags | (F_NEXT if i + 1 < len(bufs) else 0)
        s += mram(base - MMIO_RAM + 16 * (head + i), desc(addr, length, fl, nxt if i + 1 < len(bufs) else 0))
    s += mram(base - MMIO_RAM + 0x1000 + 4 + 2 * ((avail_idx - 1) % 16), u16(head))
    s += mram(base - MMIO_RAM + 0x1000 + 2, u16(avail_idx))
    return s


V1 = 1 << 32
B_STATS, B_DEFL, B_POISON, B_REPORT = 1 << 1, 1 << 2, 1 << 4, 1 << 5
EVENT_IDX, INDIRECT = 1 << 29, 1 << 28


def gen_virtio_mmio():
    h = "fuzz_virtio_mmio"
    feats = V1 | B_REPORT | B_DEFL
    s = handshake(feats, 3)
    s += mmio_chain(2, 0, [(MMIO_RAM + 0x80000, 0x10000, F_WRITE), (MMIO_RAM + 0x90000, 0x1000, F_WRITE)], 1)
    s += mw(REG["QNOTIFY"], 2) + u8(3) + mr(REG["ISR"]) + mw(REG["IACK"], 1)
    s += mw(REG["CONFIG"] + 4, 7) + mr(REG["CONFIG"]) + mr(REG["GEN"]) + mw(REG["STATUS"], 0)
    write(h, "reporting_handshake", u8(0x03) + s)
    write(h, "reporting_handshake_uring", u8(0x0B) + s)
    # Inflate through the transport, with a host target.
    s = u8(5) + u32(1024) + handshake(V1, 2)
    pfns = b"".join(u32((MMIO_RAM + 0xA0000 >> 12) + i) for i in range(8))
    s += mram(0xC0000, pfns) + mmio_chain(0, 0, [(MMIO_RAM + 0xC0000, len(pfns), 0)], 1)
    s += mw(REG["QNOTIFY"], 0) + u8(3) + mw(REG["CONFIG"] + 4, 8) + mr(REG["ISR"])
    write(h, "inflate", u8(0x02) + s)
    # Stats queue (queue 2), EVENT_IDX and INDIRECT accepted, reporting at 3.
    feats = V1 | B_STATS | B_REPORT | EVENT_IDX | INDIRECT | B_POISON
    s = handshake(feats, 4) + mmio_chain(2, 0, [(MMIO_RAM + 0xD0000, 20, 0)], 1)
    s += mw(REG["QNOTIFY"], 2) + mw(REG["CONFIG"] + 12, 0xAA) + mr(REG["CONFIG"] + 12)
    s += mmio_chain(3, 0, [(MMIO_RAM + 0x80000, 0x4000, F_WRITE)], 1) + mw(REG["QNOTIFY"], 3) + u8(3)
    write(h, "stats_poison", u8(0x07) + s)
    # Hostile: illegal transitions, queue writes outside the window, odd widths, bad QueueSel,
    # DRIVER_OK with rings outside RAM, garbage everywhere, then a clean reset.
    s = mw(REG["STATUS"], 0xF) + mw(REG["STATUS"], 1) + mw(REG["QNUM"], 8) + mw(REG["STATUS"], 3)
    s += mw(REG["DRV_FEAT"], 0) + mw(REG["STATUS"], 0xB)  # no VERSION_1: refused
    s += mw(REG["STATUS"], 0) + handshake(V1 | B_REPORT, 3)[:0]
    s += mw(REG["STATUS"], 1) + mw(REG["STATUS"], 3) + mw(REG["DRV_FEAT_SEL"], 1) + mw(REG["DRV_FEAT"], 1)
    s += mw(REG["STATUS"], 0xB) + mw(REG["QSEL"], 77) + mw(REG["QNUM"], 4) + mw(REG["QSEL"], 0)
    s += mw(REG["QNUM"], 3) + mw(REG["DESC_LO"], 0xFFFFF000) + mw(REG["QREADY"], 1) + mw(REG["QREADY"], 2)
    s += mw(0x33, 1) + mw(0x70, 0xF, 3) + mr(0x1FF, 4) + mw(REG["CONFIG"] + 15, 1, 5)
    s += mw(REG["STATUS"], 0xF) + mr(REG["STATUS"]) + mw(REG["QNOTIFY"], 9) + mw(REG["STATUS"], 0)
    write(h, "hostile_registers", u8(0x01) + s)
    # Garbage register writes while a report is in flight and completions are held.
    s = handshake(V1 | B_REPORT, 3) + u8(4)
    s += mmio_chain(2, 0, [(MMIO_RAM + 0x80000, 0x20000, F_WRITE)], 1) + mw(REG["QNOTIFY"], 2)
    for off in (0x38, 0x80, 0x44, 0x24, 0x20, 0x70, 0x30, 0x100, 0x10C):
        s += mw(off, 0xFFFFFFFF)
    s += u8(4) + u8(3) + mw(REG["STATUS"], 0)
    write(h, "garbage_while_active", u8(0x0B) + s)


# ---- fuzz_balloon ---------------------------------------------------------
BAL_RAM = 0x100000
BAL_DATA = BAL_RAM + 0x10000
ADD, PFNS, KICK, EVENTS, HOLD, CONFIG, RESET, RAW, TARGET, STATS, HSTART, HSTOP = range(12)


def bdesc_page(page, pages, writable, end=False):
    """A descriptor: data-area page `page`, (pages) * 4 KiB long."""
    mode = 0 | (0 << 2) | (0x10 if writable else 0) | (0x20 if end else 0)
    return u8(mode) + u16(page) + u8(pages - 1)


def bdesc_pfns(page, count):
    """A device-readable PFN array of `count` entries at data-area page `page`."""
    return u8(0 | (3 << 2)) + u16(page) + u8(count - 1)


def bdesc_bytes(page, length, writable=False):
    return u8(0 | (1 << 2) | (0x10 if writable else 0)) + u16(page) + u16(length)


def badd(q, descs, indirect=None):
    """descs: direct descriptors (all but the last chained), the last one closes the chain."""
    n = len(descs) - 1 if indirect is None else len(descs)
    s = u8(ADD) + u8(q) + u8(n - 1 if n else 0)
    if indirect is None:
        assert n >= 1
        s += b"".join(descs[:n]) + u8(0) + descs[n]
    else:
        tpage, tdescs = indirect
        s += b"".join(descs) + u8(len(tdescs)) + u16(tpage) + b"".join(tdescs)
    return s


def bpfns(page, pfns):
    s = u8(PFNS) + u16(page) + u8(len(pfns))
    for kind, v in pfns:
        s += u8(kind) + (u16(v) if kind == 0 else u8(v) if kind == 1 else u32(v))
    return s


def gen_balloon():
    h = "fuzz_balloon"
    # Reporting (queue 2 without stats): two reports, completions run, one held across a reset.
    s = u8(0x02) + u8(4)
    s += badd(2, [bdesc_page(16, 4, True), bdesc_page(32, 2, True)]) + u8(KICK) + u8(2) + u8(EVENTS)
    s += u8(HOLD) + badd(2, [bdesc_page(64, 8, True), bdesc_page(80, 1, True)]) + u8(KICK) + u8(2)
    s += u8(EVENTS) + u8(RESET) + u8(HOLD)
    s += badd(2, [bdesc_page(100, 16, True), bdesc_page(200, 1, True)]) + u8(KICK) + u8(2) + u8(EVENTS)
    write(h, "reports", s)
    write(h, "reports_uring", bytes([0x42]) + s[1:])
    # Inflate then deflate of the same PFNs, contiguous and not, plus invalid ones.
    pf = [(0, 300 + i) for i in range(6)] + [(0, 400), (1, 3), (2, 0xFFFFFFF0)]
    s = u8(0x20) + u8(3) + bpfns(10, pf) + u8(TARGET) + u32(64)
    s += badd(0, [bdesc_pfns(10, len(pf)), bdesc_pfns(10, 1)]) + u8(KICK) + u8(0) + u8(EVENTS)
    s += u8(CONFIG) + u8(4) + u8(2) + u64(9)
    s += badd(1, [bdesc_pfns(10, len(pf)), bdesc_pfns(10, 2)]) + u8(KICK) + u8(1) + u8(EVENTS)
    write(h, "inflate_deflate", s)
    write(h, "inflate_deflate_uring", bytes([0x60]) + s[1:])
    # Stats (queue 2) with REPORTING at 3, EVENT_IDX, INDIRECT, PAGE_POISON set by the driver.
    stats = b"".join(u16(t) + u64(1000 + t) for t in (0, 4, 5, 99))
    s = u8(0x1F) + u8(5) + u8(RAW) + u32(0x10000 + 50 * 4096) + u8(len(stats)) + stats
    s += badd(2, [bdesc_bytes(50, 20), bdesc_bytes(50, 20)]) + u8(KICK) + u8(2)
    s += badd(2, [bdesc_bytes(50, 40), bdesc_bytes(50, 0)]) + u8(KICK) + u8(2) + u8(STATS) + u8(0)
    s += u8(CONFIG) + u8(12) + u8(2) + u64(0xAA)
    s += badd(3, [bdesc_page(120, 2, True)], indirect=(500, [bdesc_page(130, 1, True), bdesc_page(140, 3, True)]))
    s += u8(KICK) + u8(3) + u8(EVENTS) + u8(CONFIG) + u8(12) + u8(2) + u64(0)
    s += badd(3, [bdesc_page(150, 1, True), bdesc_page(151, 1, True)]) + u8(KICK) + u8(3) + u8(EVENTS)
    write(h, "stats_indirect_poison", s)
    # Hostile: readable report, unaligned report, buffers outside RAM, a loop via raw next.
    s = u8(0x12) + u8(3)
    s += badd(2, [bdesc_page(16, 1, False), bdesc_page(17, 1, True)])
    s += badd(2, [bdesc_bytes(16, 100, True), bdesc_page(17, 1, True)])
    s += badd(2, [u8(0x13) + u64(0xFFFFFFFFFFFFF000) + u8(3), bdesc_page(17, 1, True)])
    s += badd(2, [u8(0x50) + u16(5) + u8(0) + u16(0), bdesc_page(17, 1, True)])
    s += u8(KICK) + u8(2) + u8(EVENTS) + u8(RAW) + u32(0x8000 + 2) + u8(2) + u16(40) + u8(KICK) + u8(2)
    s += u8(RESET) + badd(2, [bdesc_page(16, 1, True), bdesc_page(20, 1, True)]) + u8(KICK) + u8(2) + u8(EVENTS)
    write(h, "hostile", s)
    # A full queue of one-page reports while completions are held: the ring overflows to deferral.
    s = u8(0x42) + u8(8) + u8(HOLD)
    for i in range(60):
        s += badd(2, [bdesc_page(2 * i, 1, True), bdesc_page(2 * i + 300, 1, True)])
    s += u8(KICK) + u8(2) + u8(EVENTS) + u8(HOLD) + u8(EVENTS) + u8(EVENTS)
    write(h, "many_reports_held", s)
    # Free page hinting (queue 2, no stats): a run with the driver's id, a hint held
    # over the driver's STOP (DONE waits for it), a stale hint after it, then the host's stop.
    def hcmd(page, val):
        return bpfns(page, [(2, val)]) + badd(2, [u8(0x24) + u16(page) + u16(4), bdesc_page(0, 1, False)])

    def hhint(page, pages):
        return badd(2, [bdesc_page(page, pages, True, end=True), bdesc_page(0, 1, False)])

    s = u8(0x80) + u8(4) + u8(HSTART) + u8(1) + hcmd(10, 2) + u8(KICK) + u8(2)
    s += u8(HOLD) + hhint(20, 16) + u8(KICK) + u8(2) + hcmd(11, 0) + u8(KICK) + u8(2)
    s += u8(HOLD) + u8(EVENTS) + u8(EVENTS) + hhint(40, 4) + u8(KICK) + u8(2) + u8(HSTOP)
    s += u8(HSTART) + u8(0) + hcmd(12, 3) + u8(KICK) + u8(2) + hhint(60, 2) + u8(KICK) + u8(2)
    s += u8(RESET) + u8(EVENTS)
    write(h, "hinting", s)
    write(h, "hinting_uring", bytes([0xC0]) + s[1:])


# ---- fuzz_balloon_seq -----------------------------------------------------
(S_PUB, S_REPUB, S_KICK, S_EVENTS, S_HOLD, S_RESET, S_ACTIVATE, S_CONFIG, S_TICK, S_FAIL,
 S_SETTLE) = range(11)
S_REPORT, S_INFLATE, S_DEFLATE, S_STATS, S_HOSTILE = 0, 1, 2, 3, 4


def spub(kind, count, first, stride, ppb=1):
    return u8(S_PUB) + u8(kind) + u8(count) + u16(first) + u8(stride) + u8(ppb - 1)


def skick(q):
    return u8(S_KICK) + u8(q)


def gen_balloon_seq():
    h = "fuzz_balloon_seq"
    # Queues without stats: inflate 0, deflate 1, reporting 2; with stats: stats 2, reporting 3.
    # Two reports (4 and 3 buffers of 2 pages), one kick, completions, settle.
    s = u8(0x00) + u8(3) + spub(S_REPORT, 3, 10, 8, 2) + spub(S_REPORT, 2, 100, 3, 2)
    s += skick(2) + u8(S_EVENTS) + u8(S_SETTLE)
    write(h, "reports", s)
    write(h, "reports_uring", u8(0x08) + s[1:])
    # A head published again while its discard is held: the ring breaks
    # (head_in_flight, NEEDS_RESET); the driver resets onto new rings.
    s = u8(0x00) + u8(4) + u8(S_HOLD) + spub(S_REPORT, 1, 20, 4) + skick(2)
    s += u8(S_REPUB) + u8(2) + u8(0) + skick(2) + u8(S_HOLD) + u8(S_EVENTS)
    s += u8(S_ACTIVATE) + spub(S_REPORT, 1, 20, 4) + skick(2) + u8(S_EVENTS)
    write(h, "republish_in_flight", s)
    # One head filling the whole avail ring (256 entries), then a kick.
    s = u8(0x00) + u8(8) + spub(S_REPORT, 0, 9, 1) + (u8(S_REPUB) + u8(2) + u8(0)) * 255
    s += skick(2) + u8(S_EVENTS) + u8(S_ACTIVATE) + spub(S_REPORT, 0, 9, 1) + skick(2)
    write(h, "republish_full_ring", s)
    # The same after the first completed: a legal second use of the head.
    s = u8(0x00) + u8(4) + spub(S_INFLATE, 7, 30, 1) + skick(0) + u8(S_REPUB) + u8(0) + u8(0)
    s += u8(S_EVENTS) + skick(0) + u8(S_EVENTS) + u8(S_SETTLE)
    write(h, "republish_after_use", s)
    # Completions held, reset between them, activation on the other rings, held again, settle.
    s = u8(0x08) + u8(5) + u8(S_HOLD) + spub(S_REPORT, 3, 50, 5) + spub(S_INFLATE, 31, 300, 2)
    s += skick(2) + skick(0) + u8(S_RESET) + u8(S_EVENTS) + skick(2) + u8(S_ACTIVATE)
    s += spub(S_REPORT, 1, 50, 5) + skick(2) + u8(S_RESET) + u8(S_ACTIVATE) + u8(S_HOLD)
    s += spub(S_INFLATE, 3, 60, 1) + skick(0) + u8(S_SETTLE)
    write(h, "reset_between_completions", s)
    # The discard queue's limits: 20 inflate chains of 256 scattered pages (256 ops
    # each) while completions are held; 16 fit in 4096 ops, the rest wait.
    s = u8(0x08) + u8(8) + u8(S_HOLD)
    for i in range(20):
        s += spub(S_INFLATE, 255, 400 * i, 2)
    s += skick(0) + u8(S_EVENTS) + u8(S_HOLD) + u8(S_EVENTS) + u8(S_SETTLE)
    write(h, "limits_inflate", s)
    # A full reporting ring: 16 reports of 16 scattered pages, then one of 256 buffers.
    s = u8(0x08) + u8(8) + u8(S_HOLD)
    for i in range(17):
        s += spub(S_REPORT, 15, 40 * i, 2)
    s += skick(2) + u8(S_HOLD) + u8(S_SETTLE) + spub(S_REPORT, 255, 7, 3)
    s += skick(2) + u8(S_SETTLE)
    write(h, "limits_reports", s)
    # Stats queue, config writes, target, ticks, hostile shapes of each kind, deflate.
    s = u8(0x11) + u8(4) + spub(S_STATS, 5, 0, 0) + skick(2) + u8(S_TICK)
    s += u8(S_CONFIG) + u8(0) + u32(12) + u8(S_CONFIG) + u8(1) + u32(64)
    s += spub(S_STATS | S_HOSTILE, 3, 0, 0) + skick(2) + spub(S_STATS, 1, 0, 0) + skick(2)
    s += spub(S_REPORT | S_HOSTILE, 2, 400, 2) + spub(S_INFLATE | S_HOSTILE, 15, 500, 1)
    s += spub(S_DEFLATE, 15, 500, 1) + skick(3) + skick(0) + skick(1) + u8(S_TICK)
    s += u8(S_CONFIG) + u8(2) + u32(2) + u8(S_SETTLE)
    write(h, "stats_config_hostile", s)
    # EVENT_IDX, io_uring, ring ops failing (retried synchronously).
    s = u8(0x0C) + u8(6) + u8(S_FAIL) + u8(3) + spub(S_REPORT, 7, 600, 1, 4)
    s += spub(S_INFLATE, 63, 700, 3) + skick(2) + skick(0) + u8(S_EVENTS) + u8(S_SETTLE)
    write(h, "event_idx_uring_faults", s)


# ---- fuzz_loader ----------------------------------------------------------
def elf(segments, entry, notes=None, phentsize=56):
    """ELF64 ET_EXEC x86-64. segments: (paddr, vaddr, data, memsz)."""
    phnum = len(segments) + (1 if notes is not None else 0)
    ph_off = 64
    data_off = ph_off + phnum * 56
    body = b""
    phdrs = b""
    off = data_off
    for paddr, vaddr, data, memsz in segments:
        phdrs += struct.pack("<IIQQQQQQ", 1, 7, off, vaddr, paddr, len(data), memsz, 0x1000)
        body += data
        off += len(data)
    if notes is not None:
        phdrs += struct.pack("<IIQQQQQQ", 4, 4, off, 0, 0, len(notes), len(notes), 4)
        body += notes
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, entry, ph_off, 0, 0, 64, phentsize,
                             phnum, 64, 0, 0)
    return eh + phdrs + body


def note(name, ntype, desc_bytes):
    n = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(n), len(desc_bytes), ntype) + pad(n) + pad(desc_bytes)


def bzimage(version=0x020F, xlf=1, setup_sects=4, code32=0x100000, init_size=0x400000,
            pref=0x1000000, align=0x200000, reloc=1, cmdline_size=2047, payload=4096):
    img = bytearray((setup_sects + 1) * 512 + payload)
    struct.pack_into("<B", img, 0x1F1, setup_sects)
    struct.pack_into("<H", img, 0x1FE, 0xAA55)
    img[0x200:0x202] = b"\xeb\x66"
    struct.pack_into("<I", img, 0x202, 0x53726448)
    struct.pack_into("<H", img, 0x206, version)
    struct.pack_into("<I", img, 0x214, code32)
    struct.pack_into("<I", img, 0x22C, 0x7FFFFFFF)
    struct.pack_into("<I", img, 0x230, align)
    struct.pack_into("<B", img, 0x234, reloc)
    struct.pack_into("<H", img, 0x236, xlf)
    struct.pack_into("<I", img, 0x238, cmdline_size)
    struct.pack_into("<Q", img, 0x258, pref)
    struct.pack_into("<I", img, 0x260, init_size)
    for i in range((setup_sects + 1) * 512, len(img), 97):
        img[i] = 0x90
    return bytes(img)


def gen_loader():
    h = "fuzz_loader"
    code = b"\xf4" * 256
    write(h, "elf_64bit", u8(0x03) + elf([(0x100000, 0x100000, code, 0x2000)], 0x100000))
    pvh = note(b"Xen", 18, u32(0x100040))
    write(h, "elf_pvh", u8(0x05) + elf([(0x100000, 0x100000, code, 0x1000)], 0x100000, notes=pvh))
    pvh8 = note(b"GNU", 3, b"\1" * 20) + note(b"Xen", 18, u64(0x100080))
    write(h, "elf_pvh8", u8(0x01) + elf([(0x100000, 0x100000, code, 0x1000)], 0x100000, notes=pvh8))
    # A vmlinux-like layout: virtual entry, two segments, bss.
    segs = [(0x1000000, 0xFFFFFFFF81000000, code, 0x1000),
            (0x1200000, 0xFFFFFFFF81200000, b"\1" * 64, 0x100000)]
    write(h, "elf_vmlinux_like", u8(0x07) + elf(segs, 0xFFFFFFFF81000010))
    write(h, "elf_bad_entry", u8(0) + elf([(0x100000, 0x100000, code, 0x1000)], 0x5000))
    write(h, "elf_below_1m", u8(0) + elf([(0x8000, 0x8000, code, 0x1000)], 0x8000))
    write(h, "bzimage", u8(0x03) + bzimage())
    write(h, "bzimage_cmdline_limit", u8(0x07) + bzimage(cmdline_size=255))
    write(h, "bzimage_old", u8(0) + bzimage(version=0x020B))
    write(h, "bzimage_32bit", u8(0) + bzimage(xlf=0))
    write(h, "bzimage_huge_init", u8(0) + bzimage(init_size=0xFFFFFFFF, pref=0xFFFFFFFFFFFFF000))
    write(h, "bzimage_unaligned", u8(0x01) + bzimage(setup_sects=0, align=3, reloc=0, pref=0))
    write(h, "garbage", u8(0) + b"\x7fELF" + b"\xff" * 60)


# ---- fuzz_pio -------------------------------------------------------------
def pout(port, val, size_sel=0):
    return u8(0) + u16(port) + u8(size_sel) + u32(val)


def pin(port, size_sel=0):
    return u8(1) + u16(port) + u8(size_sel)


def gen_pio():
    h = "fuzz_pio"
    com = 0x3F8
    # Linux's 8250 probe and a line of output, with interrupts on.
    s = pout(com + 3, 0x80) + pout(com, 0x01) + pout(com + 1, 0x00) + pout(com + 3, 0x03)
    s += pout(com + 2, 0xC7) + pout(com + 4, 0x0B) + pout(com + 1, 0x0F) + pin(com + 5) + pin(com + 6)
    for c in b"Linux version 6.1\r\n":
        s += pout(com, c)
    s += pin(com + 2) + pin(com + 5)
    # Host input, read back, FIFO overrun, loopback.
    line = b"root\nlogin: password\n"
    s += u8(2) + u8(len(line)) + line + pin(com) + pin(com + 5)
    s += u8(2) + u8(255) + b"x" * 255 + pin(com + 5)
    s += pout(com + 4, 0x1F) + pout(com, 0x55) + pin(com) + pout(com + 4, 0x0B)
    write(h, "serial_linux", s)
    # i8042: Linux's probe (self test, read config, write config), then a CPU reset.
    s = pin(0x64) + pout(0x64, 0xAA) + pin(0x60) + pout(0x64, 0x20) + pin(0x60)
    s += pout(0x64, 0x60) + pout(0x60, 0x47) + pout(0x64, 0xAD) + pout(0x64, 0xFE)
    write(h, "i8042_probe_reset", s)
    # Test device: markers of every phase, an exit; then wide, odd and stray accesses.
    s = b"".join(pout(0xF5, (arg << 8) | phase, 4) for phase, arg in ((0, 96), (1, 96), (2, 96), (3, 90), (4, 0), (9, 1)))
    s += pout(0xF4, 0) + pout(0xF4, 3) + pin(0xF5, 4) + pout(0xF6, 1, 3) + pout(0xF7, 1, 4)
    s += pout(0x3FF, 1, 4) + pout(0x3F8, 0x41, 4) + pin(0x3FA, 2) + pin(0x80) + pout(0xCF8, 0x80000000, 4)
    s += pin(0xFFFF, 4) + u8(3) + u16(0x3F8) + u8(16) + b"rep outsb works\n"
    write(h, "testdev_and_strays", s)
    # Test device clock (0xf9): 4-byte reads across the fake clock's 32-bit wrap, then
    # other widths, writes, the tail ports and a read running past the range.
    s = b"".join(pin(0xF9, 4) for _ in range(16))
    s += pin(0xF9, 0) + pin(0xF9, 3) + pin(0xF9, 6) + pin(0xF9, 7) + pout(0xF9, 0, 4) + pout(0xF9, 1)
    s += pin(0xFA, 4) + pin(0xFC) + pout(0xFC, 1) + pin(0xFD, 4) + pin(0xF6, 4) + pin(0xF9, 4)
    write(h, "testdev_clock", s)


# ---- fuzz_api --------------------------------------------------------------
def http(method, path, body=None, headers=(), version="HTTP/1.1"):
    h = ["%s %s %s" % (method, path, version), "Host: localhost"] + list(headers)
    if body is not None:
        h += ["Content-Type: application/json", "Content-Length: %d" % len(body)]
    return ("\r\n".join(h) + "\r\n\r\n").encode() + (body.encode() if body is not None else b"")


def gen_api():
    h = "fuzz_api"
    api, metrics = u8(0), u8(1)
    write(h, "get_root", api + http("GET", "/"))
    write(h, "get_vm", api + http("GET", "/vm"))
    write(h, "get_balloon", api + http("GET", "/balloon"))
    write(h, "put_balloon", api + http("PUT", "/balloon",
                                       '{"amount_mib": 64, "deflate_on_oom": true, "stats_polling_interval_s": 1}'))
    write(h, "patch_balloon", api + http("PATCH", "/balloon", '{"amount_mib": 300}'))
    write(h, "patch_stats", api + http("PATCH", "/balloon/statistics", '{"stats_polling_interval_s": 5}'))
    write(h, "get_stats", api + http("GET", "/balloon/statistics"))
    write(h, "get_reporting", api + http("GET", "/balloon/reporting"))
    write(h, "flush_metrics", api + http("PUT", "/actions", '{"action_type": "FlushMetrics"}'))
    write(h, "bad_json", api + http("PUT", "/balloon", '{"amount_mib": 64,,}'))
    write(h, "wrong_types", api + http("PATCH", "/balloon", '{"amount_mib": "lots", "x": [1, {"y": null}]}'))
    write(h, "huge_number", api + http("PATCH", "/balloon", '{"amount_mib": 99999999999999999999999}'))
    write(h, "bad_utf8", api + http("PUT", "/actions", '{"action_type": "\xff\xfe"}'))
    write(h, "bad_method", api + http("DELETE", "/balloon"))
    write(h, "bad_ctype", api + http("PUT", "/balloon", "amount=3", headers=["Content-Type: text/plain"]))
    write(h, "too_long", api + b"PUT /balloon HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{")
    write(h, "chunked", api + b"PATCH /balloon HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"amo\r\n10\r\nunt_mib\": 32}   \r\n0\r\n\r\n")
    write(h, "short_body", api + b"PUT /balloon HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{\"a")
    write(h, "pipelined", api + http("GET", "/vm") + http("GET", "/balloon") + http("GET", "/nope"))
    write(h, "http10", api + http("GET", "/vm", version="HTTP/1.0"))
    write(h, "garbage", api + b"\x00\x01GET\r\n\r\n\xff" * 3)
    write(h, "metrics", metrics + http("GET", "/metrics"))
    write(h, "metrics_dashboard_data", metrics + http("GET", "/dashboard/data"))
    write(h, "metrics_control_refused", metrics + http("PUT", "/balloon", '{"amount_mib": 1}'))
    write(h, "metrics_root", metrics + http("GET", "/"))


def main():
    # Generated seeds are rewritten; regress_* files (inputs that once found a
    # bug, kept as regression tests) are left alone.
    if os.path.isdir(OUT):
        for d in ("fuzz_virtqueue", "fuzz_virtio_mmio", "fuzz_balloon", "fuzz_balloon_seq",
                  "fuzz_loader", "fuzz_pio", "fuzz_api"):
            p = os.path.join(OUT, d)
            for f in os.listdir(p) if os.path.isdir(p) else []:
                if not f.startswith("regress_"):
                    os.remove(os.path.join(p, f))
    gen_virtqueue()
    gen_virtio_mmio()
    gen_balloon()
    gen_balloon_seq()
    gen_loader()
    gen_pio()
    gen_api()
    for d in sorted(os.listdir(OUT)):
        print("%s: %d seeds" % (d, len(os.listdir(os.path.join(OUT, d)))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
