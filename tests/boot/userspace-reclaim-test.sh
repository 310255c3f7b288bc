#!/usr/bin/env bash
# Free page reporting proven from guest user space: boots a guest kernel with
# an initramfs whose /init is tests/boot/userspace-reclaim.c, which maps,
# touches, frees and re-maps memory, checks every word it wrote and stops the
# VM through the exit port. Exit 0 pass, 1 fail, 77 skip: only without
# /dev/kvm, or on an emulating KVM (kvm_pvm), where guest user space cannot
# make system calls (docs/host-quirks.md).
#
# Usage: userspace-reclaim-test.sh NAME MINI_VMM INIT_BINARY [--unpatched]
#            [--timeout S] [--min-freed-mib N] [--min-return-pct P]
#            [--stats-freshness INTERVAL_S MIB HOLD_MS] -- MINI_VMM_ARGS...
#        userspace-reclaim-test.sh --kernel-only [--unpatched]
# The kernel comes from $MINI_VMM_KERNEL (patched) or, with --unpatched, from
# $MINI_VMM_KERNEL_UNPATCHED; else from guest/build-kernel.sh [--unpatched]
# (cached). --kernel-only only does that (a CTest fixture, so the tests keep
# tight timeouts while a first build takes minutes). Artifacts (console,
# mini-vmm log, initramfs) stay in ${MINI_VMM_ARTIFACTS:-build/tests/artifacts}/NAME.
# --stats-freshness: mini-vmm also writes a --metrics-log every 250 ms, and
# tests/boot/stats_freshness.py judges it (the guest polled every INTERVAL_S,
# the program freeing and holding MIB MiB for HOLD_MS each).
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/boot/verdict.sh"
readonly PROGRESS_INTERVAL_S=10

kernel_only=0 unpatched=0 timeout_s=300 min_freed=0 min_pct=0 freshness=()
if [ "${1:-}" = --kernel-only ]; then
	kernel_only=1
	shift
else
	[ $# -ge 3 ] || { sed -n '9,13s/^# \{0,1\}//p' "$0" >&2; exit 1; }
	name=$1 vmm=$2 init=$3
	shift 3
fi
while [ $# -gt 0 ]; do
	case $1 in
	--unpatched) unpatched=1; shift ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--min-freed-mib) min_freed=$2; shift 2 ;;
	--min-return-pct) min_pct=$2; shift 2 ;;
	--stats-freshness) freshness=("$2" "$3" "$4"); shift 4 ;;
	--) shift; break ;;
	*) echo "userspace-reclaim-test: unknown option $1" >&2; exit 1 ;;
	esac
done

skip_unless_real_kvm

# --- the kernel --------------------------------------------------------------
if [ "$unpatched" = 1 ]; then
	kind=unpatched var=MINI_VMM_KERNEL_UNPATCHED build_args=(--unpatched)
	kernel=${MINI_VMM_KERNEL_UNPATCHED:-}
else
	kind=patched var=MINI_VMM_KERNEL build_args=()
	kernel=${MINI_VMM_KERNEL:-}
fi
if [ -n "$kernel" ]; then
	echo "$kind guest kernel from \$$var: $kernel"
else
	echo "\$$var is not set: guest/build-kernel.sh ${build_args[*]} (cached; minutes if not)"
	kernel=$("$top/guest/build-kernel.sh" "${build_args[@]}" | tail -n 1) ||
		{ echo "FAIL: $kind guest kernel build failed"; exit 1; }
fi
[ -f "$kernel" ] || { echo "FAIL: $kind guest kernel '$kernel' does not exist"; exit 1; }
if [ "$kernel_only" = 1 ]; then
	echo "PASS: $kind guest kernel ready: $kernel"
	exit 0
fi

# --- the run -----------------------------------------------------------------
out=${MINI_VMM_ARTIFACTS:-$top/build/tests/artifacts}/$name
mkdir -p "$out"
console=$out/console.log vmmlog=$out/mini-vmm.log initrd=$out/initramfs.cpio
metrics=$out/metrics.jsonl
rm -f "$console" "$vmmlog" "$metrics"
extra=()
[ ${#freshness[@]} -eq 0 ] || extra=(--metrics-log "$metrics" --metrics-interval 250ms)
/usr/bin/python3 "$top/tests/boot/mkinitramfs.py" "$init" "$initrd" ||
	{ echo "FAIL: could not write the initramfs $initrd"; exit 1; }

echo "userspace-reclaim-test $name: $vmm --kernel $kernel --initrd $initrd $*" \
	"(artifacts: $out)"
start=$(date +%s)
timeout --signal=TERM --kill-after=10 "$timeout_s" \
	"$vmm" --kernel "$kernel" --initrd "$initrd" --serial "file:$console" "$@" "${extra[@]}" \
	</dev/null 2>"$vmmlog" &
pid=$!
# Progress: the guest's latest line every few seconds.
while kill -0 "$pid" 2>/dev/null; do
	for _ in $(seq "$PROGRESS_INTERVAL_S"); do
		sleep 1
		kill -0 "$pid" 2>/dev/null || break
	done
	last=$(grep -a "mvmm_user:" "$console" 2>/dev/null | tail -n 1)
	[ -n "$last" ] || last=$(tail -c 300 "$console" 2>/dev/null | tr -d '\r' | tail -n 1)
	echo "  [$(($(date +%s) - start)) s] ${last:-(no console output yet)}"
done
wait "$pid"
rc=$?
echo "userspace-reclaim-test $name: mini-vmm exited $rc after $(($(date +%s) - start)) s"
grep -a "mvmm_user:" "$console"
grep -a -E "guest marker:|reclaim:|stopping|error" "$vmmlog"

fail() {
	echo "FAIL: $name: $*"
	echo "--- last console lines ($console):"
	tail -n 25 "$console" | tr -d '\r'
	echo "--- last mini-vmm log lines ($vmmlog):"
	tail -n 20 "$vmmlog"
	echo "--- the guest's vCPUs, by symbol (if it was stopped running):"; guest_stack "$vmmlog" "$kernel"
	exit 1
}
[ "$rc" -eq 124 ] && fail "timed out after $timeout_s s"
[ "$rc" -eq 0 ] || fail "mini-vmm exit status $rc, expected 0"
# reboot=k makes a panic or a reboot() exit 0 too: the verdict is the line.
check_workload mvmm_user "$console"
check_reclaim "$vmmlog" "$min_freed" "$min_pct"
if [ ${#freshness[@]} -ne 0 ]; then
	/usr/bin/python3 "$top/tests/boot/stats_freshness.py" "$metrics" "$vmmlog" \
		--interval "${freshness[0]}" --mib "${freshness[1]}" --hold-ms "${freshness[2]}" ||
		fail "the guest's statistics did not follow it (metrics log: $metrics)"
fi
echo "PASS: $name ($kind kernel)"
