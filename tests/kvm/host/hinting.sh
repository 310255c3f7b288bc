#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host side of kvm/tiny_hinting: drives Firecracker's hinting endpoints
# against the real device while the guest plays Linux's driver. Status
# before any run, PATCH /balloon/hinting/start (acknowledge_on_stop), the
# status once the guest saw DONE, the hinting metrics, PATCH
# /balloon/hinting/stop; then a balloon target of 1 MiB lets the guest end.
. "$(dirname "$0")/lib.sh"

# $1 method, $2 path, $3 body (or ""): prints the HTTP code, body in $scratch/body.
# A request curl could not make at all (000) is said on stderr, with curl's
# exit status and message, and tried again, up to 3 times.
call() {
	local args=(-sS -o "$scratch/body" -w '%{http_code}' --max-time 10 --unix-socket "$api"
		-X "$1") code rc
	[ -n "$3" ] && args+=(-H 'Content-Type: application/json' -d "$3")
	for try in 1 2 3; do
		code=$(curl "${args[@]}" "http://localhost$2" 2>"$scratch/curl_err")
		rc=$?
		[ "$code" != 000 ] && break
		echo "note: $1 $2: curl exit $rc ($(cat "$scratch/curl_err")), try $try" >&2
		sleep 0.5
	done
	echo "$code"
}

# On a failure: what mini-vmm's API looked like (socket, fds, threads).
diagnose() {
	echo "diagnosis: socket: $(ls -la "$api" 2>&1)"
	echo "diagnosis: listening: $(ss -xlp 2>/dev/null | grep -F "$api" || echo none)"
	echo "diagnosis: fds: $(ls "/proc/$pid/fd" 2>/dev/null | wc -l)"
	for t in /proc/"$pid"/task/*; do
		echo "diagnosis: thread $(cat "$t/comm" 2>/dev/null) $(awk '{print $3}' "$t/stat" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
	done
}

json() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("null" if v is None else v)' \
		"$scratch/body" "$1"
}

wait_serial 'tiny_hinting: ready' 120
code=$(call GET /balloon/hinting/status "")
[ "$code" = 200 ] || fail "GET /balloon/hinting/status before a run: $code $(cat "$scratch/body")"
echo "status before a run: $(cat "$scratch/body")"
[ "$(json host_cmd)" = 0 ] || fail "host_cmd before a run: $(json host_cmd)"
code=$(call PATCH /balloon/hinting/start '{"acknowledge_on_stop": true}')
[ "$code" = 204 ] || fail "PATCH /balloon/hinting/start: $code $(cat "$scratch/body")"
wait_serial 'tiny_hinting: DONE seen' 120
code=$(call GET /balloon/hinting/status "")
echo "status after the guest saw DONE: $(cat "$scratch/body")"
[ "$code" = 200 ] || fail "GET /balloon/hinting/status: $code"
[ "$(json host_cmd)" = 1 ] || fail "host_cmd after the run: $(json host_cmd), expected 1 (DONE)"
[ "$(json guest_cmd)" = 0 ] || fail "guest_cmd after the run: $(json guest_cmd), expected 0 (STOP)"
wait_serial 'tiny_hinting: checked' 120
code=$(call GET /metrics "")
[ "$code" = 200 ] || { diagnose; fail "GET /metrics: $code"; }
for m in balloon_hint_runs_total balloon_hint_commands_total balloon_hint_chains_total \
	balloon_hints_done_total balloon_hint_discarded_bytes_total balloon_hints_ignored_total; do
	echo "metrics: $m $(metric $m)"
done
[ "$(metric balloon_hint_runs_total)" = 1 ] || fail "hint runs: $(metric balloon_hint_runs_total)"
[ "$(metric balloon_hints_done_total)" = 4 ] || fail "hints done: $(metric balloon_hints_done_total)"
[ "$(metric balloon_hint_discarded_bytes_total)" = $((16 << 20)) ] ||
	fail "hinted bytes discarded: $(metric balloon_hint_discarded_bytes_total), expected 16 MiB"
# The hint before the run and the one after DONE: kept.
[ "$(metric balloon_hints_ignored_total)" = 2 ] ||
	fail "hints ignored: $(metric balloon_hints_ignored_total), expected 2"
code=$(call PATCH /balloon/hinting/stop "")
[ "$code" = 204 ] || fail "PATCH /balloon/hinting/stop: $code $(cat "$scratch/body")"
code=$(call PATCH /balloon '{"amount_mib": 1}')
[ "$code" = 204 ] || fail "PATCH /balloon amount_mib=1: $code $(cat "$scratch/body")"
echo "PASS: a hinting run through the API, 16 MiB discarded before DONE"
