#!/usr/bin/env bash
# Installs what is missing, builds mini-vmm and the guest kernel, and runs every
# test tier through CTest: unit, kvm (tiny guests) and boot (the patched Linux).
# Tiers that need /dev/kvm skip (exit 77, with the reason) only where it is
# absent; where it is present a skipped kvm/boot test fails this script.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
start=$(date +%s)

echo "== [1/4] dependencies"
tools/install-deps.sh

echo "== [2/4] building mini-vmm"
tools/build.sh "$top/build"

echo "== [3/4] guest kernel (cached outside the checkout)"
if [ -e /dev/kvm ]; then
	MINI_VMM_KERNEL=$(guest/build-kernel.sh | tail -n 1)
	export MINI_VMM_KERNEL
	echo "guest kernel: $MINI_VMM_KERNEL"
else
	echo "no /dev/kvm: the kvm and boot tiers will skip, so the guest kernel is not built"
fi

echo "== [4/4] tests"
log="$top/build/ctest.log"
set +e
(cd build && ctest --output-on-failure --timeout 900 "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
# Tests labelled realvirt need real VT-x/SVM and skip on an emulating KVM
# (kvm_pvm); tests labelled emulating need one and skip elsewhere. Each says
# why. Every other kvm/boot skip while /dev/kvm exists is a failure.
if [ -e /sys/module/kvm_pvm ]; then host_label=realvirt; else host_label=emulating; fi
allowed=$(cd build && ctest -N -L "$host_label" | sed -n 's/^ *Test *#[0-9]*: //p' | paste -sd'|')
allowed=${allowed:-'^$'}
if [ -e /dev/kvm ] && grep -E "(kvm|boot)/.*(\*\*\*Skipped|Not Run)" "$log" | grep -vE "$allowed"; then
	echo "test.sh: /dev/kvm is present but a kvm or boot test was skipped: that is a failure" >&2
	rc=1
fi

# The unit, kvm and fault tiers again under ASan + UBSan, then each libFuzzer
# harness briefly (tools/fuzz.sh 300 for a real run; docs/fuzzing.md).
echo "== sanitizers (ASan + UBSan)"
tools/test-sanitize.sh "$top/build-asan" || rc=1
echo "== fuzzing, 10 s per harness"
tools/fuzz.sh 10 || rc=1
echo "test.sh: finished in $(( $(date +%s) - start )) s, exit $rc"
exit "$rc"
