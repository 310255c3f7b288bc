#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host side of kvm/tiny_head_flood (issue 12, item 1): mini-vmm's own
# memory while the guest re-publishes head 0 over a whole ring, kick after
# kick. Guest RAM is a memfd (shared memory, RssShmem), so RssAnon is the
# host's own: heap, stacks. Sampled from the guest's "ready" to its "attack
# over" (the guest waits at each until we set a balloon target: 1, then 2
# MiB), as often as this loop turns; the growth must stay within the stated
# bound (docs/threat-model.md: 512 KiB of heap for a guest's requests)
# plus ALLOWANCE_KIB for what is not heap (thread stacks, allocator pages).
. "$(dirname "$0")/lib.sh"

BOUND_KIB=512
ALLOWANCE_KIB=512

wait_serial 'tiny_head_flood: ready' 120
anon0=$(status_kib RssAnon) rss0=$(status_kib VmRSS) hwm0=$(status_kib VmHWM)
peak=$anon0 samples=0
set_target 1
deadline=$(($(now_us) + 180 * 1000000))
until serial_has 'tiny_head_flood: attack over'; do
	vmm_alive || fail "mini-vmm exited during the attack"
	a=$(status_kib RssAnon)
	[ "${a:-0}" -gt "$peak" ] && peak=$a
	samples=$((samples + 1))
	if [ $((peak - anon0)) -gt $((64 * 1024)) ]; then
		fail "RssAnon grew by $((peak - anon0)) KiB during the attack (from $anon0 KiB)"
	fi
	[ "$(now_us)" -lt "$deadline" ] || fail "no 'attack over' from the guest in 180 s"
	sleep 0.02
done
anon1=$(status_kib RssAnon) rss1=$(status_kib VmRSS) hwm1=$(status_kib VmHWM)
[ "$anon1" -gt "$peak" ] && peak=$anon1
code=$(api_get /metrics)
[ "${code%% *}" = 200 ] || fail "GET /metrics after the attack: $code"
set_target 2
echo "before the attack: RssAnon $anon0 KiB, VmRSS $rss0 KiB, VmHWM $hwm0 KiB"
echo "after the attack:  RssAnon $anon1 KiB, VmRSS $rss1 KiB, VmHWM $hwm1 KiB"
echo "RssAnon peak during the attack ($samples samples): $peak KiB (+$((peak - anon0)) KiB)"
echo "VmHWM: +$((hwm1 - hwm0)) KiB"
for m in balloon_broken_rings_total discard_host_memory_in_flight_bytes discard_ops_in_flight \
	discard_reports_total discard_ops_total; do
	echo "metrics: $m $(metric $m)"
done
[ "$(metric balloon_broken_rings_total)" = 1 ] ||
	fail "balloon_broken_rings_total is $(metric balloon_broken_rings_total), expected 1"
limit=$((BOUND_KIB + ALLOWANCE_KIB))
[ $((peak - anon0)) -le "$limit" ] ||
	fail "RssAnon grew by $((peak - anon0)) KiB, more than $limit KiB"
[ $((hwm1 - hwm0)) -le "$limit" ] ||
	fail "VmHWM grew by $((hwm1 - hwm0)) KiB, more than $limit KiB"
echo "PASS: host memory within $BOUND_KIB + $ALLOWANCE_KIB KiB"
