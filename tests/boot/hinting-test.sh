#!/usr/bin/env bash
# Free page hinting with the real Linux 6.1 driver (issue 14), in a VM set up
# the way a Firecracker client does it: mini-vmm starts with only an API
# socket; this script configures it (PUT /machine-config, /boot-source,
# /balloon with free_page_hinting, stats every second, reporting off), starts
# it (PUT /actions InstanceStart) and checks the state before and after. The
# patched guest's in-kernel workload touches and frees memory, then waits
# settle_ms (reporting is off, so nothing else gives that memory back).
# Meanwhile the script starts a hinting run (PATCH /balloon/hinting/start),
# waits until the driver's STOP was answered with DONE (GET
# /balloon/hinting/status: host_cmd 1, guest_cmd 0), checks the device
# discarded hinted memory, ends the run (PATCH /balloon/hinting/stop), sets
# a balloon target and reads it back in the statistics, and releases it. The
# workload then checks every word it wrote (zero or its pattern) and its kept
# set: nothing the guest still used was discarded.
# Exit 0 pass, 1 fail, 77 skip (only when /dev/kvm is absent).
#
# Usage: hinting-test.sh NAME MINI_VMM [--timeout S] [--min-hinted-mib N]
#                        [--vcpus N] [--mem-mib N] --boot-args ARGS
set -uo pipefail

name=$1 vmm=$2
shift 2
timeout_s=900 min_hinted=16 vcpus=1 mem_mib=256 boot_args=
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=$2; shift 2 ;;
	--min-hinted-mib) min_hinted=$2; shift 2 ;;
	--vcpus) vcpus=$2; shift 2 ;;
	--mem-mib) mem_mib=$2; shift 2 ;;
	--boot-args) boot_args=$2; shift 2 ;;
	*) echo "hinting-test: unknown option $1" >&2; exit 1 ;;
	esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/boot/verdict.sh"
skip_without_kvm
find_guest_kernel

out=${MINI_VMM_ARTIFACTS:-$top/build/tests/artifacts}/$name
mkdir -p "$out"
console=$out/console.log vmmlog=$out/mini-vmm.log body=$out/body
# The socket in a local directory: the build tree may be on a file system
# without Unix sockets (the nested host's shared mount says ENXIO).
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/hinting-test.XXXXXX")
trap 'rm -rf "$sockdir"' EXIT
sock=$sockdir/api.sock
rm -f "$console"
echo "hinting-test $name: $vmm --api-sock $sock --serial file:$console, then the API (kernel $kernel)"
start=$(date +%s)
timeout --signal=TERM --kill-after=10 "$timeout_s" \
	"$vmm" --api-sock "$sock" --serial "file:$console" </dev/null 2>"$vmmlog" &
pid=$!

fail() {
	echo "FAIL: $*"
	echo "--- last console lines:"; tail -n 20 "$console" 2>/dev/null
	echo "--- mini-vmm log:"; tail -n 20 "$vmmlog"
	echo "--- the guest's vCPUs, by symbol (if it was stopped running):"; guest_stack "$vmmlog" "$kernel"
	kill -TERM "$pid" 2>/dev/null
	exit 1
}

# $1 method, $2 path, $3 body or "": the HTTP code; the body in $body.
call() {
	local args=(-s -o "$body" -w '%{http_code}' --max-time 10 --unix-socket "$sock" -X "$1")
	[ -n "$3" ] && args+=(-H 'Content-Type: application/json' -d "$3")
	curl "${args[@]}" "http://localhost$2"
}

field() {
	python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("null" if v is None else v)' \
		"$body" "$1"
}

# The value of mini_vmm_$1 (every series carries vm_id="...": ignored).
metric() {
	awk -v m="mini_vmm_$1" '{ n = $1; sub(/vm_id="[^"]*",?/, "", n); sub(/\{\}$/, "", n) }
		n == m { print $2 }' "$body"
}

# $1 method, $2 path, $3 body, $4 the expected HTTP code.
expect_call() {
	local code
	code=$(call "$1" "$2" "$3")
	[ "$code" = "$4" ] || fail "$1 $2 $3: $code $(cat "$body"), expected $4"
}

# Configure and start, Firecracker's way.
until [ -S "$sock" ]; do
	kill -0 "$pid" 2>/dev/null || fail "mini-vmm exited before its API socket was there"
	[ $(($(date +%s) - start)) -lt 30 ] || fail "no API socket $sock after 30 s"
	sleep 0.1
done
expect_call GET / "" 200
[ "$(field state)" = "Not started" ] || fail "state before InstanceStart: $(cat "$body")"
expect_call PUT /machine-config "{\"vcpu_count\": $vcpus, \"mem_size_mib\": $mem_mib}" 204
expect_call PUT /boot-source "$(python3 -c 'import json,sys; print(json.dumps(
	{"kernel_image_path": sys.argv[1], "boot_args": sys.argv[2]}))' "$kernel" "$boot_args")" 204
expect_call PUT /balloon '{"amount_mib": 0, "deflate_on_oom": false, "stats_polling_interval_s": 1,
	"free_page_hinting": true, "free_page_reporting": false}' 204
expect_call PUT /actions '{"action_type": "InstanceStart"}' 204
expect_call GET / "" 200
[ "$(field state)" = Running ] || fail "state after InstanceStart: $(cat "$body")"
expect_call GET /balloon "" 200
[ "$(field free_page_hinting)" = True ] && [ "$(field free_page_reporting)" = False ] ||
	fail "GET /balloon after start: $(cat "$body")"
echo "  configured through the API (machine-config, boot-source, balloon), InstanceStart: Running"

# Wait for the workload to have freed its memory.
until grep -aEq "mvmm_workload: cycle=[0-9]+ freed mib=" "$console" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || fail "mini-vmm exited before the workload freed its memory"
	[ $(($(date +%s) - start)) -lt "$timeout_s" ] || fail "no 'freed' line in $timeout_s s"
	sleep 1
done
t_freed=$(($(date +%s) - start))
code=$(call PATCH /balloon/hinting/start '{"acknowledge_on_stop": true}')
[ "$code" = 204 ] || fail "PATCH /balloon/hinting/start: $code $(cat "$body")"
echo "  [$t_freed s] workload freed its memory; hinting run started"
# The run: the driver's id, its blocks, its STOP; the device's DONE.
done_s=
while kill -0 "$pid" 2>/dev/null; do
	code=$(call GET /balloon/hinting/status "")
	[ "$code" = 200 ] || fail "GET /balloon/hinting/status: $code $(cat "$body")"
	if [ "$(field host_cmd)" = 1 ] && [ "$(field guest_cmd)" = 0 ]; then
		done_s=$(($(date +%s) - start))
		break
	fi
	grep -aq "mvmm_workload: cycle=[0-9]* settled" "$console" &&
		fail "the workload settled before the run ended: $(cat "$body")"
	sleep 0.5
done
[ -n "$done_s" ] || fail "mini-vmm exited during the hinting run"
echo "  [$done_s s] run over: $(cat "$body")"
code=$(call GET /metrics "")
[ "$code" = 200 ] || fail "GET /metrics: $code"
for m in balloon_hint_runs_total balloon_hint_commands_total balloon_hint_chains_total \
	balloon_hints_done_total balloon_hint_discarded_bytes_total balloon_hints_ignored_total \
	balloon_hint_done_deferred_total; do
	echo "  metrics: $m $(metric $m)"
done
hinted=$(metric balloon_hint_discarded_bytes_total)
[ "$((${hinted:-0} >> 20))" -ge "$min_hinted" ] ||
	fail "hinted and discarded $((${hinted:-0} >> 20)) MiB, expected at least $min_hinted"

# The run is over; Firecracker's stop ends it from the host's side too.
expect_call PATCH /balloon/hinting/stop "" 204
expect_call GET /balloon/hinting/status "" 200
echo "  after PATCH /balloon/hinting/stop: $(cat "$body")"
[ "$(field host_cmd)" = 1 ] || fail "host_cmd after stop: $(cat "$body"), expected 1 (DONE)"

# A balloon target, as the guest's driver sees it, and back.
expect_call PATCH /balloon '{"amount_mib": 8}' 204
for _ in $(seq 120); do
	expect_call GET /balloon/statistics "" 200
	[ "$(field actual_mib)" = 8 ] && break
	kill -0 "$pid" 2>/dev/null || fail "mini-vmm exited while the balloon inflated"
	sleep 0.5
done
[ "$(field actual_mib)" = 8 ] || fail "balloon not at 8 MiB after 60 s: $(cat "$body")"
[ "$(field free_memory)" != null ] && [ "$(field total_memory)" != null ] ||
	fail "no guest statistics with stats_polling_interval_s 1: $(cat "$body")"
echo "  balloon at 8 MiB: $(cat "$body")"
expect_call PATCH /balloon '{"amount_mib": 0}' 204

wait "$pid"
rc=$?
echo "hinting-test $name: mini-vmm exited $rc after $(($(date +%s) - start)) s"
grep -a "mvmm_workload:" "$console"
[ "$rc" -eq 124 ] && fail "timed out after $timeout_s s"
[ "$rc" -eq 0 ] || fail "mini-vmm exit status $rc, expected 0"
check_workload mvmm_workload "$console"
echo "PASS: $name: $((hinted >> 20)) MiB hinted and discarded before DONE, workload verified"
