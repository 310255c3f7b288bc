#!/usr/bin/env bash
# Runs one tiny KVM guest under mini-vmm and judges it.
#
#   run_tiny.sh MINI_VMM GUEST_ELF LOG [--expect REGEX]... [--timeout S] -- [mini-vmm args]
#
# Passes (exit 0) only if mini-vmm exits 0 (the guest wrote 0 to the exit
# port), the guest printed "PASS <name>" and no FAIL line, and every --expect
# regex (extended, matched per line) is found in the guest's serial output.
# A guest crash (triple fault: 4, emulation failure: 5), a guest-reported
# failure (3) or a hang (killed by timeout) fails. Skips (exit 77) only when
# /dev/kvm is absent. The full output is kept in LOG. --expect-log REGEX
# must match a line of mini-vmm's own messages (stderr); --max-log-lines N
# REGEX allows at most N of them to match (a bounded log).
#
# --host-script SCRIPT runs SCRIPT on the host while the guest runs, for
# tests that judge mini-vmm from outside (its memory in /proc, its API, its
# answer to a signal). mini-vmm then gets --api-socket; SCRIPT finds
# MINI_VMM_PID, TINY_SERIAL (the guest's output so far), TINY_VMM_LOG and
# TINY_API_SOCKET in its environment, and must exit 0 for the test to pass.
# --api-boot (with --host-script) starts mini-vmm Firecracker's way, with
# only --api-sock and no --kernel: SCRIPT configures and starts it through
# the API, and finds the guest's path in TINY_KERNEL.
# --config-json JSON boots from a Firecracker-format --config-file instead of
# --kernel: JSON with @KERNEL@ replaced by the guest's path, plus --no-api.
set -u

if [ $# -lt 3 ]; then
	echo "usage: $0 MINI_VMM GUEST_ELF LOG [--expect REGEX]... [--timeout S] -- [args]" >&2
	exit 2
fi
vmm=$1 elf=$2 log=$3
shift 3
expects=()
log_expects=()
max_logs=()
want_status=0
needs_emulation=0
host_script=
api_boot=0
config_json=
limit=240
while [ $# -gt 0 ]; do
	case $1 in
	--expect) expects+=("$2"); shift 2 ;;
	--timeout) limit=$2; shift 2 ;;
	--status) want_status=$2; shift 2 ;;
	--expect-log) log_expects+=("$2"); shift 2 ;;
	--max-log-lines) max_logs+=("$2" "$3"); shift 3 ;;
	--needs-emulating-host) needs_emulation=1; shift ;;
	--host-script) host_script=$2; shift 2 ;;
	--api-boot) api_boot=1; shift ;;
	--config-json) config_json=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "run_tiny.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
name=$(basename "$elf" .elf)

if [ ! -e /dev/kvm ]; then
	echo "SKIP $name: /dev/kvm is absent (no KVM on this machine)"
	exit 77
fi
if [ "$needs_emulation" = 1 ] && [ ! -e /sys/module/kvm_pvm ]; then
	echo "SKIP $name: this KVM runs guest code natively; the test needs an emulating host (kvm_pvm)"
	exit 77
fi
for f in "$vmm" "$elf"; do
	if [ ! -e "$f" ]; then
		echo "FAIL $name: $f does not exist (build first)"
		exit 1
	fi
done

out=$(mktemp -d "${TMPDIR:-/tmp}/run_tiny.XXXXXX")
trap 'rm -rf "$out"' EXIT

echo "== $name: $vmm --kernel $elf $* (timeout ${limit}s)"
start=$(date +%s)
host_rc=0
if [ -n "$config_json" ]; then
	printf '%s\n' "${config_json//@KERNEL@/$elf}" >"$out/vm.json"
	timeout --kill-after=10 "$limit" "$vmm" --config-file "$out/vm.json" --no-api "$@" \
		</dev/null >"$out/serial" 2>"$out/vmm"
	rc=$?
elif [ -z "$host_script" ]; then
	timeout --kill-after=10 "$limit" "$vmm" --kernel "$elf" "$@" \
		</dev/null >"$out/serial" 2>"$out/vmm"
	rc=$?
else
	if [ "$api_boot" = 1 ]; then
		timeout --kill-after=10 "$limit" "$vmm" "$@" --api-sock "$out/api.sock" \
			</dev/null >"$out/serial" 2>"$out/vmm" &
	else
		timeout --kill-after=10 "$limit" "$vmm" --kernel "$elf" "$@" \
			--api-socket "$out/api.sock" </dev/null >"$out/serial" 2>"$out/vmm" &
	fi
	tpid=$!
	pid=
	for _ in $(seq 500); do # timeout's child: mini-vmm itself
		pid=$(ps -o pid= --ppid "$tpid" | tr -d ' ')
		[ -n "$pid" ] && break
		sleep 0.01
	done
	MINI_VMM_PID=$pid TINY_SERIAL=$out/serial TINY_VMM_LOG=$out/vmm \
		TINY_API_SOCKET=$out/api.sock TINY_KERNEL=$elf "$host_script" >"$out/host" 2>&1
	host_rc=$?
	# A host side that gave up leaves mini-vmm running: stop it.
	[ "$host_rc" = 0 ] || kill -TERM "$pid" 2>/dev/null
	wait "$tpid"
	rc=$?
fi
secs=$(( $(date +%s) - start ))
tr -d '\r' <"$out/serial" >"$out/serial.txt"
{
	echo "== $name: mini-vmm exit status $rc after ${secs}s"
	echo "== guest serial output (stdout):"
	cat "$out/serial.txt"
	echo "== mini-vmm messages (stderr):"
	cat "$out/vmm"
	if [ -n "$host_script" ]; then
		echo "== host side ($(basename "$host_script"), exit $host_rc):"
		cat "$out/host"
	fi
} | tee "$log"

fail() {
	echo "FAIL $name: $*" | tee -a "$log"
	exit 1
}

if [ "$host_rc" != 0 ]; then
	fail "the host side ($(basename "$host_script")) failed, exit $host_rc"
fi
for re in "${log_expects[@]}"; do
	if ! grep -Eq -- "$re" "$out/vmm"; then
		fail "expected mini-vmm message missing: /$re/"
	fi
done
for ((i = 0; i < ${#max_logs[@]}; i += 2)); do
	n=$(grep -Ec -- "${max_logs[i + 1]}" "$out/vmm" || true)
	if [ "$n" -gt "${max_logs[i]}" ]; then
		fail "$n mini-vmm messages match /${max_logs[i + 1]}/, at most ${max_logs[i]} allowed"
	fi
done
if [ "$want_status" != 0 ]; then
	# A test of how mini-vmm reports a dying guest: only the status and messages count.
	[ "$rc" = "$want_status" ] || fail "mini-vmm exited $rc, expected $want_status"
	echo "PASS $name (exit $rc as expected, ${secs}s)" | tee -a "$log"
	exit 0
fi
case $rc in
0) ;;
124 | 137) fail "timed out after ${limit}s: the guest or mini-vmm hung" ;;
3) fail "the guest reported failure through the exit port (mini-vmm exit 3)" ;;
4) fail "the guest triple-faulted (mini-vmm exit 4)" ;;
5) fail "fatal vCPU exit, e.g. an instruction KVM cannot emulate (mini-vmm exit 5)" ;;
*) fail "mini-vmm exited with status $rc" ;;
esac
if grep -q '^FAIL' "$out/serial.txt"; then
	fail "the guest printed a FAIL line but mini-vmm exited 0"
fi
if ! grep -qx "PASS $name" "$out/serial.txt"; then
	fail "mini-vmm exited 0 but the guest never printed 'PASS $name'"
fi
for re in "${expects[@]}"; do
	if ! grep -Eq -- "$re" "$out/serial.txt"; then
		fail "expected output missing: /$re/"
	fi
done
echo "PASS $name (${secs}s)" | tee -a "$log"
exit 0
