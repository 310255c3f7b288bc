#!/usr/bin/env bash
# Soak: the patched guest's workload cycles alloc/touch/free/verify many times
# while free page reporting runs, with a kept set checked after every cycle.
# Passes only with every cycle verified and zero corrupted words.
#
# Usage: tools/soak.sh [OPTIONS] [CYCLES [MIB]]
#
#   CYCLES  workload cycles, 1 to 10000 (default 50)
#   MIB     MiB allocated, written, freed and verified per cycle, 1 to 128
#           (default 64): the guest has 256 MiB, and its kernel, the kept set
#           (4 MiB) and the workload's bookkeeping need the other half
#
# Options:
#   --log-dir DIR    console.log and mini-vmm.log go here (default
#                    build/soak/<date>-<time>; created if missing)
#   --timeout S      stop mini-vmm after S seconds (default: 120 + 30 per
#                    cycle + 1 per 4 MiB per cycle; a clean cycle takes ~2 s
#                    on kvm_pvm, a stuck one is cut off by the guest's own
#                    30 s settle limit)
#   --mini-vmm PATH  the binary (default build/mini-vmm)
#   -h, --help       this text
#
# Environment: MINI_VMM_KERNEL (guest vmlinux; default: guest/build-kernel.sh,
# built on this machine), MINI_VMM_VM_HOST=auto|direct|nested (default auto).
#
# Where it runs: like the kvm and boot tests, on this machine's /dev/kvm where
# it opens, else (or with MINI_VMM_VM_HOST=nested) this script runs itself
# again inside tools/kvm-host's nested SVM host (QEMU TCG: several times
# slower, so its wall times only compare with other runs in that host). The
# logs are in --log-dir either way (it is shared with the nested host).
#
# Exit status: 0 pass; 1 the soak failed (the lines before say why: mini-vmm's
# exit status and what it means, a timeout, a guest panic, the workload's
# result, the first corrupted cycle); 2 bad usage or something missing;
# 124/125 from tools/kvm-host: the nested host timed out / itself failed.
set -euo pipefail
script=$(readlink -f "${BASH_SOURCE[0]}")
top=$(cd "$(dirname "$script")/.." && pwd)

readonly GUEST_MIB=256 MAX_MIB=128 MAX_CYCLES=10000 MAX_TIMEOUT_S=86400

usage() { sed -n '2,/^set -euo/s/^# \{0,1\}//p' "$script" | sed '/^set -euo/d'; }
die_usage() {
	echo "soak: $*" >&2
	echo "soak: usage: tools/soak.sh [--log-dir DIR] [--timeout S] [--mini-vmm PATH] [CYCLES [MIB]] (--help)" >&2
	exit 2
}
# check_int NAME VALUE MIN MAX: a whole number in [MIN, MAX], or a usage error.
check_int() {
	case $2 in
	'' | *[!0-9]*) die_usage "$1 '$2': expected a whole number from $3 to $4" ;;
	esac
	# At most 9 digits before any arithmetic; 10# so that leading zeros
	# do not make it octal.
	if [ "${#2}" -gt 9 ] || [ $((10#$2)) -lt "$3" ] || [ $((10#$2)) -gt "$4" ]; then
		die_usage "$1 $2: must be from $3 to $4$5"
	fi
}

log_dir='' timeout_s='' mini_vmm=$top/build/mini-vmm
pos=()
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) usage; exit 0 ;;
	--log-dir) [ $# -ge 2 ] || die_usage "--log-dir needs a directory"; log_dir=$2; shift 2 ;;
	--log-dir=*) log_dir=${1#*=}; shift ;;
	--timeout) [ $# -ge 2 ] || die_usage "--timeout needs seconds"; timeout_s=$2; shift 2 ;;
	--timeout=*) timeout_s=${1#*=}; shift ;;
	--mini-vmm) [ $# -ge 2 ] || die_usage "--mini-vmm needs a path"; mini_vmm=$2; shift 2 ;;
	--mini-vmm=*) mini_vmm=${1#*=}; shift ;;
	--) shift; pos+=("$@"); break ;;
	-*) die_usage "unknown option $1" ;;
	*) pos+=("$1"); shift ;;
	esac
done
[ ${#pos[@]} -le 2 ] || die_usage "too many arguments: ${pos[*]}"
cycles=${pos[0]:-50} mib=${pos[1]:-64}
check_int CYCLES "$cycles" 1 "$MAX_CYCLES" ""
check_int MIB "$mib" 1 "$MAX_MIB" \
	" (the guest has $GUEST_MIB MiB; its kernel, the 4 MiB kept set and the bookkeeping need the rest)"
cycles=$((10#$cycles)) mib=$((10#$mib))
if [ -z "$timeout_s" ]; then
	timeout_s=$((120 + cycles * (30 + mib / 4)))
	[ "$timeout_s" -le "$MAX_TIMEOUT_S" ] || timeout_s=$MAX_TIMEOUT_S
fi
check_int --timeout "$timeout_s" 10 "$MAX_TIMEOUT_S" " s"
timeout_s=$((10#$timeout_s))
vm_host=${MINI_VMM_VM_HOST:-auto}
case $vm_host in
auto | direct | nested) ;;
*) echo "soak: MINI_VMM_VM_HOST must be auto, direct or nested" >&2; exit 2 ;;
esac

mini_vmm=$(readlink -f "$mini_vmm")
[ -x "$mini_vmm" ] || { echo "soak: mini-vmm not found at $mini_vmm: build it (tools/build.sh) or pass --mini-vmm PATH" >&2; exit 2; }
# The kernel is built here, never in the nested host (it has no compiler
# cache and is several times slower); the path goes in through the env.
if [ -z "${MINI_VMM_KERNEL:-}" ]; then
	MINI_VMM_KERNEL=$("$top/guest/build-kernel.sh" | tail -n 1)
fi
[ -f "$MINI_VMM_KERNEL" ] || { echo "soak: guest kernel $MINI_VMM_KERNEL does not exist (guest/build-kernel.sh)" >&2; exit 2; }
export MINI_VMM_KERNEL

if [ -z "$log_dir" ]; then
	log_dir=$top/build/soak/$(date +%Y%m%d-%H%M%S)
	[ ! -e "$log_dir" ] || log_dir=$log_dir-$$
fi
mkdir -p "$log_dir" || { echo "soak: cannot create --log-dir $log_dir" >&2; exit 2; }
log_dir=$(readlink -f "$log_dir")

# --- where the guest runs -----------------------------------------------------
if [ "${KVM_HOST_KIND:-}" = nested ]; then
	vm_host=direct # already inside the nested host: its /dev/kvm is ours
fi
kind=$("$top/tools/kvm-host" --probe)
if [ "$vm_host" = auto ]; then
	if [ "$kind" = none ]; then vm_host=nested; else vm_host=direct; fi
fi
if [ "$vm_host" = direct ] && [ "$kind" = none ]; then
	echo "soak: MINI_VMM_VM_HOST=direct, but /dev/kvm is absent or does not open here" >&2
	exit 2
fi
if [ "$vm_host" = nested ]; then
	# The nested host boots in about a minute under TCG; 600 s more covers it.
	outer=$((timeout_s + 600))
	echo "soak: running in the nested SVM host (tools/kvm-host --nested --timeout $outer: QEMU TCG, several times slower); logs: $log_dir"
	set +e
	"$top/tools/kvm-host" --nested --quiet --share "$log_dir" --timeout "$outer" -- \
		"$script" --log-dir "$log_dir" --timeout "$timeout_s" --mini-vmm "$mini_vmm" "$cycles" "$mib"
	rc=$?
	set -e
	case $rc in
	124) echo "soak: FAIL: the nested host was killed after $outer s (tools/kvm-host timeout); logs: $log_dir" >&2 ;;
	125) echo "soak: FAIL: the nested host itself failed (tools/kvm-host exit 125: not the soak's fault; its message is above); logs: $log_dir" >&2 ;;
	esac
	exit "$rc"
fi

# --- the run --------------------------------------------------------------------
console=$log_dir/console.log vmm_log=$log_dir/mini-vmm.log
rm -f "$console" "$vmm_log"
where="this machine's /dev/kvm ($kind)"
[ "${KVM_HOST_KIND:-}" != nested ] || where="the nested SVM host's /dev/kvm (kvm_amd under QEMU TCG)"
echo "soak: $cycles cycles of $mib MiB, $GUEST_MIB MiB guest, reporting delay 100 ms, on $where; bound $timeout_s s (logs: $log_dir)"
start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout_s" "$mini_vmm" --kernel "$MINI_VMM_KERNEL" --memory "${GUEST_MIB}M" --balloon-reporting \
	--serial "file:$console" \
	--cmdline "console=ttyS0 panic=-1 reboot=k page_reporting.delay_ms=100 mvmm_workload.mib=$mib mvmm_workload.cycles=$cycles" \
	</dev/null 2>"$vmm_log" &
pid=$!
# timeout(1) runs mini-vmm in its own process group: pass an interrupt on.
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; echo "soak: interrupted (logs: $log_dir)" >&2; exit 130' INT TERM
next=$((start + 20))
while kill -0 "$pid" 2>/dev/null; do
	sleep 1
	if [ "$(date +%s)" -ge "$next" ]; then
		echo "  [$(($(date +%s) - start)) s] $(grep -a -c 'verified' "$console" 2>/dev/null) cycles verified"
		next=$((next + 20))
	fi
done
wait "$pid"
rc=$?
trap - INT TERM
set -e
elapsed=$(($(date +%s) - start))
# timeout(1): 124 when it stopped mini-vmm with SIGTERM, 137 when SIGKILL was
# needed 10 s later (137 is also any other SIGKILL, e.g. the OOM killer).
timed_out=0
if [ "$rc" -eq 124 ] || { [ "$rc" -eq 137 ] && [ "$elapsed" -ge "$timeout_s" ]; }; then
	timed_out=1
fi

verified=$(grep -a -c "mvmm_workload: cycle=[0-9]* verified .* corrupted=0" "$console" 2>/dev/null || true)
verified=${verified:-0}
result=$(grep -a -o "mvmm_workload: result=.*" "$console" 2>/dev/null | tr -d '\r' || true)
totals=$(grep -a -o "balloon totals:.*" "$vmm_log" 2>/dev/null || true)
echo "soak: mini-vmm exit $rc after $elapsed s; $verified of $cycles cycles verified clean"
echo "soak: ${result:-no result line from the workload}"
[ -z "$totals" ] || echo "soak: $totals"
echo "soak: $((cycles * mib)) MiB cycled; returned per cycle (mini-vmm's reclaim lines):"
reclaim=$(grep -a -o "reclaim: .*" "$vmm_log" 2>/dev/null | sort | uniq -c | sort -rn | head -n 5 || true)
echo "${reclaim:-      (none)}"

# What went wrong, most specific first; every cause found is named.
exit_meaning() {
	case $1 in
	0) echo "clean stop (power-off, reset or exit port pass)" ;;
	1) echo "VMM error (its message is in mini-vmm.log)" ;;
	2) echo "bad command line" ;;
	3) echo "the guest reported failure through the exit port" ;;
	4) echo "the guest triple-faulted" ;;
	5) echo "fatal vCPU exit (emulation failure, failed entry, unknown exit)" ;;
	*) if [ "$1" -gt 128 ]; then echo "stopped by signal $(($1 - 128)) ($(kill -l $(($1 - 128)) 2>/dev/null || echo '?'))"; else echo "unknown status"; fi ;;
	esac
}
causes=()
if [ "$timed_out" = 1 ]; then
	last=$(grep -a -o "mvmm_workload: .*" "$console" 2>/dev/null | tail -n 1 | tr -d '\r' || true)
	causes+=("timed out: mini-vmm still ran after $timeout_s s, at cycle $((verified + 1)) of $cycles (last workload line: ${last:-none})")
elif [ "$rc" -ne 0 ]; then
	causes+=("mini-vmm exit $rc: $(exit_meaning "$rc")")
	vmm_err=$(grep -a -m 1 -iE "error|fatal|triple|emulation" "$vmm_log" 2>/dev/null || true)
	[ -z "$vmm_err" ] || causes+=("mini-vmm.log: $vmm_err")
fi
panic=$(grep -a -m 1 -E "Kernel panic|BUG:|Oops|general protection fault" "$console" 2>/dev/null | tr -d '\r' || true)
[ -z "$panic" ] || causes+=("guest kernel: $panic")
workload_err=$(grep -a -m 1 -E "mvmm_workload: .*(alloc failed|must be|no memory|init_on_)" "$console" 2>/dev/null | tr -d '\r' || true)
[ -z "$workload_err" ] || causes+=("workload: ${workload_err#*mvmm_workload: }")
first_bad=$(grep -a -m 1 -E "mvmm_workload: (cycle=[0-9]+ verified|kept checked=).* corrupted=[1-9]" "$console" 2>/dev/null | tr -d '\r' || true)
[ -z "$first_bad" ] || causes+=("first corruption: ${first_bad#*mvmm_workload: }")
if [ -z "$result" ]; then
	[ "$rc" -ne 0 ] || [ -n "$panic" ] ||
		causes+=("the guest stopped without a workload result line (mini-vmm exit 0: the guest reset or powered off early)")
elif [[ $result != *"result=pass corrupted=0 cycles=$cycles"* ]]; then
	causes+=("workload result: ${result#mvmm_workload: } (expected result=pass corrupted=0 cycles=$cycles)")
fi
if [ ${#causes[@]} -eq 0 ] && [ "$verified" -ne "$cycles" ]; then
	causes+=("only $verified of $cycles cycles printed a clean 'verified' line")
fi
if [ ${#causes[@]} -ne 0 ]; then
	for c in "${causes[@]}"; do echo "soak: $c" >&2; done
	echo "soak: FAIL (logs: $console, $vmm_log)" >&2
	exit 1
fi
echo "soak: PASS (logs: $log_dir)"
