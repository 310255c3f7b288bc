#!/usr/bin/env bash
# Boots the patched guest kernel in mini-vmm, runs its in-kernel workload and
# checks the outcome. Exit 0 pass, 1 fail, 77 skip (only when /dev/kvm is absent).
#
# Usage: boot-test.sh NAME MINI_VMM [--min-freed-mib N] [--min-return-pct P]
#                     [--timeout S] [--config-json JSON] -- MINI_VMM_ARGS...
# --config-json: the guest comes from a Firecracker-format --config-file
# (with --no-api) holding JSON, "@KERNEL@" replaced by the kernel's path,
# instead of --kernel.
# The kernel comes from $MINI_VMM_KERNEL, else from guest/build-kernel.sh (cached).
set -uo pipefail

name=$1 vmm=$2
shift 2
min_freed=0 min_pct=0 timeout_s=600 config_json=
while [ $# -gt 0 ]; do
	case $1 in
	--min-freed-mib) min_freed=$2; shift 2 ;;
	--min-return-pct) min_pct=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--config-json) config_json=$2; shift 2 ;;
	--) shift; break ;;
	*) echo "boot-test: unknown option $1" >&2; exit 1 ;;
	esac
done

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/boot/verdict.sh"
skip_without_kvm
find_guest_kernel

out=${MINI_VMM_ARTIFACTS:-$top/build/tests/artifacts}/$name
mkdir -p "$out"
console=$out/console.log vmmlog=$out/mini-vmm.log
guest=(--kernel "$kernel")
if [ -n "$config_json" ]; then
	printf '%s\n' "${config_json//@KERNEL@/$kernel}" >"$out/vm.json"
	guest=(--config-file "$out/vm.json" --no-api)
	echo "boot-test $name: --config-file $out/vm.json: $(cat "$out/vm.json")"
fi
echo "boot-test $name: $vmm ${guest[*]} $* (console: $console)"
start=$(date +%s)
timeout --signal=TERM --kill-after=10 "$timeout_s" \
	"$vmm" "${guest[@]}" --serial "file:$console" "$@" </dev/null 2>"$vmmlog" &
pid=$!
# Progress while the (slow, emulated) guest boots: its latest workload line.
while kill -0 "$pid" 2>/dev/null; do
	sleep 15
	last=$(grep -a "mvmm_workload:" "$console" 2>/dev/null | tail -n 1)
	echo "  [$(( $(date +%s) - start )) s] ${last:-$(tail -c 200 "$console" 2>/dev/null | tr -d '\r' | tail -n 1)}"
done
wait "$pid"
rc=$?
echo "boot-test $name: mini-vmm exited $rc after $(( $(date +%s) - start )) s"
grep -a "mvmm_workload:" "$console"
grep -a -E "reclaim:|stopping:|error" "$vmmlog"

fail() {
	echo "FAIL: $*"
	echo "--- last console lines:"; tail -n 20 "$console"
	echo "--- mini-vmm log:"; tail -n 20 "$vmmlog"
	echo "--- the guest's vCPUs, by symbol (if it was stopped running):"; guest_stack "$vmmlog" "$kernel"
	exit 1
}
[ "$rc" -eq 124 ] && fail "timed out after $timeout_s s"
[ "$rc" -eq 0 ] || fail "mini-vmm exit status $rc, expected 0"
check_workload mvmm_workload "$console"
# mini-vmm offers the TSC-deadline timer wherever KVM emulates it (it says
# when it cannot); then the guest must have found it (issue #13: without it
# Linux spent 2 s calibrating its LAPIC timer).
if ! grep -q "TSC-deadline timer: not available" "$vmmlog"; then
	grep -aq "TSC deadline timer available" "$console" ||
		fail "the guest did not find the TSC-deadline timer mini-vmm offers (CPUID.1:ECX[24])"
fi
if [ "$min_freed" -gt 0 ] || [ "$min_pct" -gt 0 ]; then
	check_reclaim "$vmmlog" "$min_freed" "$min_pct"
fi
echo "PASS: $name"
