# Sourced by the boot tier's scripts: when a test may skip, and the checks
# every workload's verdict shares (these call the sourcing script's fail()).

# skip_without_kvm: exit 77 with the reason where there is no /dev/kvm.
skip_without_kvm() {
	if [ ! -e /dev/kvm ]; then
		echo "SKIP: /dev/kvm is absent: the boot tier needs KVM"
		exit 77
	fi
}

# find_guest_kernel: $kernel from $MINI_VMM_KERNEL, else the patched
# kernel from guest/build-kernel.sh (cached); FAIL (exit 1) if there is
# none. Needs $top, the checkout.
find_guest_kernel() {
	kernel=${MINI_VMM_KERNEL:-}
	if [ -z "$kernel" ]; then
		kernel=$("$top/guest/build-kernel.sh" | tail -n 1) || { echo "FAIL: guest kernel build failed"; exit 1; }
	fi
	[ -f "$kernel" ] || { echo "FAIL: guest kernel '$kernel' does not exist"; exit 1; }
}

# skip_unless_real_kvm: also exit 77 on an emulating KVM (kvm_pvm), where
# guest user space cannot make system calls.
skip_unless_real_kvm() {
	skip_without_kvm
	if [ -e /sys/module/kvm_pvm ]; then
		echo "SKIP: this KVM (kvm_pvm) emulates guest kernel code and guest user space cannot" \
			"make system calls here (docs/host-quirks.md); this test needs VT-x/SVM"
		exit 77
	fi
}

# check_workload PREFIX CONSOLE: the workload (PREFIX "mvmm_workload" in the
# kernel, "mvmm_user" in user space) passed with nothing corrupted and
# checked its kept set intact.
check_workload() {
	local prefix=$1 console=$2 result
	result=$(grep -a "$prefix: result=" "$console" | tail -n 1 | tr -d '\r')
	[ -n "$result" ] || fail "no '$prefix: result=' line on the console"
	case $result in *"result=pass corrupted=0 "*) ;; *) fail "workload: $result" ;; esac
	grep -a -q "$prefix: kept checked=[1-9][0-9]* corrupted=0" "$console" ||
		fail "the kept set was not checked intact"
}

# check_reclaim VMMLOG MIN_FREED_MIB MIN_RETURN_PCT: mini-vmm's last
# "reclaim:" summary shows enough freed, enough of it returned, and nothing
# corrupted. Prints the line.
check_reclaim() {
	local vmmlog=$1 min_freed=$2 min_pct=$3 line freed pct corrupted
	line=$(grep -a -o "reclaim: freed=.*" "$vmmlog" | tail -n 1)
	[ -n "$line" ] || fail "mini-vmm printed no reclaim: summary (markers lost?)"
	freed=$(sed -E 's/.*freed=([0-9]+).*/\1/' <<<"$line")
	pct=$(sed -E 's/.*\(([0-9]+)%\).*/\1/' <<<"$line")
	corrupted=$(sed -E 's/.*corrupted=([0-9]+).*/\1/' <<<"$line")
	[ "$freed" -ge "$min_freed" ] || fail "freed $freed MiB, expected at least $min_freed"
	[ "$pct" -ge "$min_pct" ] || fail "host got back $pct% of freed memory, expected >= $min_pct%"
	[ "$corrupted" -eq 0 ] || fail "corrupted=$corrupted"
	echo "$line"
}

# guest_stack VMMLOG KERNEL: where a guest stopped from outside was, by name.
# mini-vmm logs RIP and the kernel-text words on a running vCPU's stack when
# it is stopped by a signal (vmm/vcpu.c); each is looked up in the
# System.map beside the kernel (guest/build-kernel.sh keeps it there).
guest_stack() {
	local map
	map=$(dirname "$2")/System.map
	[ -f "$map" ] || return 0
	grep -aoE "RIP 0x[0-9a-f]+|kernel text on its stack .*" "$1" |
		grep -oE "(0x)?ffffffff[0-9a-f]{8}" | sed 's/^0x//' |
		python3 -c '
import bisect, sys
syms = []
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) == 3 and f[1] in "tTwW":
        syms.append((int(f[0], 16), f[2]))
syms.sort()
keys = [a for a, _ in syms]
for w in sys.stdin.read().split():
    v = int(w, 16)
    i = bisect.bisect_right(keys, v) - 1
    print(f"  {w} {syms[i][1]}+{v - syms[i][0]:#x}" if i >= 0 else f"  {w} ?")
' "$map"
	# Interrupt frames on that stack: was IF set in the code they interrupted?
	grep -aoE "[0-9a-f]{16} \[frame RFLAGS 0x[0-9a-f]+ IF=[01]\]" "$1" | sed 's/^/  interrupted at /'
}
