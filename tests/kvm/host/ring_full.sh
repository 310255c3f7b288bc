#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host side of kvm/tiny_ring_full (issue 12, item 2): while the guest keeps
# the reporting queue full, the API must answer and SIGTERM must stop
# mini-vmm. Each request is timed (curl's time_total: connect to last
# byte) N times with the guest idle (until we set a balloon target, its
# signal to start) and N times while it floods; then
# SIGTERM, timed until mini-vmm has exited.
#
# Targets (issue 12): the API within 100 ms, SIGTERM within 1 s. They are
# asserted as such on a host fast enough for them to mean something: direct
# KVM whose API answers an idle guest within FAST_HOST_MS. In the nested
# QEMU TCG host (KVM_HOST_KIND=nested, set by tools/kvm-host) or on a slower
# direct host they are not: the nested host answers an idle guest in
# 20-150 ms and single requests under the flood in up to ~460 ms (its 2
# vCPUs are shared by the flood's threads and curl; one CI run saw an idle
# worst of 46 ms, then 121 ms under the flood). There the test says so and
# asserts the larger of SLOW_API_FLOOR_MS and SLOW_API_FACTOR x the idle
# worst case, and SLOW_EXIT_MS. Either
# way a device thread held by the guest fails: before issue 12's fix the
# notify callback ran as long as the guest fed the ring, the API waited on
# its lock and SIGTERM was never read (the guest floods for 120 s).
# The figures, the device loop's longest callback and the notify budget's
# yields are printed for the record.
. "$(dirname "$0")/lib.sh"

N=5
API_LIMIT_MS=100
EXIT_LIMIT_MS=1000
FAST_HOST_MS=50
SLOW_API_FACTOR=4
SLOW_API_FLOOR_MS=500
SLOW_EXIT_MS=3000

# Times N requests to each of /balloon and /metrics; prints "label ms..." and
# the maximum in $scratch/max.
time_api() {
	local label=$1 max=0 url code ms all r
	for url in /balloon /metrics; do
		all=
		for _ in $(seq "$N"); do
			r=$(api_get "$url")
			code=${r%% *} ms=${r#* }
			[ "$code" = 200 ] || fail "$label: GET $url answered $code"
			all="$all $ms"
			max=$(awk -v a="$max" -v b="$ms" 'BEGIN { print (b > a) ? b : a }')
		done
		echo "$label: GET $url ms:$all"
	done
	echo "$max" >"$scratch/max"
}

wait_serial 'tiny_ring_full: idle' 120
time_api "guest idle"
idle_max=$(cat "$scratch/max")
set_target 1 # the guest's signal to start

wait_serial 'tiny_ring_full: flooding' 60
sleep 1
api_get /metrics >/dev/null
yields0=$(metric balloon_notify_yields_total) done0=$(metric discard_reports_completed_total)
time_api "ring kept full"
flood_max=$(cat "$scratch/max")
sleep 1
api_get /metrics >/dev/null
yields1=$(metric balloon_notify_yields_total) done1=$(metric discard_reports_completed_total)
longest=$(metric event_loop_max_callback_seconds)
serial_has '^(PASS|FAIL)' && fail "the guest stopped flooding before SIGTERM"
vmm_alive || fail "mini-vmm exited during the flood"

t0=$(now_us)
kill -TERM "$pid"
while vmm_alive; do
	[ $(($(now_us) - t0)) -lt 30000000 ] || fail "mini-vmm still runs 30 s after SIGTERM"
	sleep 0.005
done
exit_ms=$((($(now_us) - t0) / 1000))

echo "API latency, worst of $N x 2 requests: guest idle $idle_max ms, ring kept full $flood_max ms"
echo "during the flood (1 s + the requests): $((done1 - done0)) reports completed," \
	"$((yields1 - yields0)) notify yields"
echo "device loop's longest callback (event_loop_max_callback_seconds): $longest s"
echo "SIGTERM to exit: $exit_ms ms"
[ $((done1 - done0)) -gt 0 ] || fail "no report completed while the ring was kept full"
[ $((yields1 - yields0)) -gt 0 ] || fail "no notify yield: the ring was not kept full"
slow=
if [ "${KVM_HOST_KIND:-}" = nested ]; then
	slow="the nested QEMU TCG host"
elif awk -v a="$idle_max" -v l="$FAST_HOST_MS" 'BEGIN { exit !(a > l) }'; then
	slow="a slow host (idle API worst $idle_max ms > $FAST_HOST_MS ms)"
fi
if [ -n "$slow" ]; then
	API_LIMIT_MS=$(awk -v a="$idle_max" -v f="$SLOW_API_FACTOR" -v l="$SLOW_API_FLOOR_MS" \
		'BEGIN { x = a * f; print (x > l) ? x : l }')
	EXIT_LIMIT_MS=$SLOW_EXIT_MS
	echo "NOTE: $slow: the 100 ms and 1 s targets are not checkable here;" \
		"asserting $API_LIMIT_MS ms (max of $SLOW_API_FLOOR_MS, $SLOW_API_FACTOR x idle)" \
		"and $EXIT_LIMIT_MS ms"
fi
awk -v a="$flood_max" -v l="$API_LIMIT_MS" 'BEGIN { exit !(a <= l) }' ||
	fail "an API request took $flood_max ms while the ring was kept full (limit $API_LIMIT_MS ms)"
[ "$exit_ms" -le "$EXIT_LIMIT_MS" ] ||
	fail "mini-vmm took $exit_ms ms to exit after SIGTERM (limit $EXIT_LIMIT_MS ms)"
echo "PASS: API within $API_LIMIT_MS ms, SIGTERM within $EXIT_LIMIT_MS ms"
