#!/usr/bin/env bash
# Free page hinting with the real Linux 6.1 driver (issue 14): the patched
# guest's in-kernel workload touches and frees memory, then waits settle_ms
# (reporting is off, so nothing else gives that memory back). Meanwhile this
# script starts a hinting run through Firecracker's endpoint, waits until the
# driver's STOP was answered with DONE (GET /balloon/hinting/status: host_cmd
# 1, guest_cmd 0), and checks the device discarded hinted memory. The
# workload then checks every word it wrote (zero or its pattern) and its kept
# set: nothing the guest still used was discarded.
# Exit 0 pass, 1 fail, 77 skip (only when /dev/kvm is absent).
#
# Usage: hinting-test.sh NAME MINI_VMM [--timeout S] [--min-hinted-mib N] -- MINI_VMM_ARGS...
set -uo pipefail

name=$1 vmm=$2
shift 2
timeout_s=900 min_hinted=16
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout_s=$2; shift 2 ;;
	--min-hinted-mib) min_hinted=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "hinting-test: unknown option $1" >&2; exit 1 ;;
	esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/boot/verdict.sh"
skip_without_kvm
kernel=${MINI_VMM_KERNEL:-}
if [ -z "$kernel" ]; then
	kernel=$("$top/guest/build-kernel.sh" | tail -n 1) || { echo "FAIL: guest kernel build failed"; exit 1; }
fi
[ -f "$kernel" ] || { echo "FAIL: guest kernel '$kernel' does not exist"; exit 1; }

out=${MINI_VMM_ARTIFACTS:-$top/build/tests/artifacts}/$name
mkdir -p "$out"
console=$out/console.log vmmlog=$out/mini-vmm.log body=$out/body
# The socket in a local directory: the build tree may be on a file system
# without Unix sockets (the nested host's shared mount says ENXIO).
sockdir=$(mktemp -d "${TMPDIR:-/tmp}/hinting-test.XXXXXX")
trap 'rm -rf "$sockdir"' EXIT
sock=$sockdir/api.sock
rm -f "$console"
echo "hinting-test $name: $vmm --kernel $kernel $* (console: $console)"
start=$(date +%s)
timeout --signal=TERM --kill-after=10 "$timeout_s" \
	"$vmm" --kernel "$kernel" --serial "file:$console" --api-socket "$sock" "$@" \
	</dev/null 2>"$vmmlog" &
pid=$!

fail() {
	echo "FAIL: $*"
	echo "--- last console lines:"; tail -n 20 "$console" 2>/dev/null
	echo "--- mini-vmm log:"; tail -n 20 "$vmmlog"
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

wait "$pid"
rc=$?
echo "hinting-test $name: mini-vmm exited $rc after $(($(date +%s) - start)) s"
grep -a "mvmm_workload:" "$console"
[ "$rc" -eq 124 ] && fail "timed out after $timeout_s s"
[ "$rc" -eq 0 ] || fail "mini-vmm exit status $rc, expected 0"
check_workload mvmm_workload "$console"
echo "PASS: $name: $((hinted >> 20)) MiB hinted and discarded before DONE, workload verified"
