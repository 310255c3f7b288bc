#!/usr/bin/env bash
# Builds everything with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan/ (-DMINI_VMM_SANITIZE=ON) and runs the unit, kvm and fault tiers
# there with CTest. Any sanitizer report fails the run (halt_on_error). The kvm
# tier runs through tools/kvm-host --auto: on /dev/kvm where it opens, else in
# the nested SVM host (MINI_VMM_VM_HOST=direct|nested forces one).
#
#   tools/test-sanitize.sh [BUILD_DIR] [-- extra ctest args]
#
# Exit: CTest's status (0 all passed). tools/test.sh calls this after the
# normal build's tiers.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$top/build-asan}
shift || true
[ "${1:-}" = -- ] && shift
start=$(date +%s)

echo "== sanitize: building $dir (ASan + UBSan)"
"$top/tools/build.sh" "$dir" -DMINI_VMM_SANITIZE=ON || exit 1

# halt_on_error: the first report fails the test. detect_leaks: LSan at exit.
# The kvm tier's guests run the real binary, which installs its seccomp
# filters: vmm/seccomp.c allows the sanitizer runtime what it needs in this
# build (and only in this build).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
echo "== sanitize: ctest -L 'unit|fault' (ASAN_OPTIONS=$ASAN_OPTIONS)"
log=$dir/ctest-sanitize.log
(cd "$dir" && ctest -L "unit|fault" -LE '^kvm$' --output-on-failure --timeout 900 "$@") 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
echo "== sanitize: ctest -L kvm through tools/kvm-host --${MINI_VMM_VM_HOST:-auto}"
"$top/tools/kvm-host" --"${MINI_VMM_VM_HOST:-auto}" --timeout 1800 -- \
	ctest --test-dir "$dir" -L '^kvm$' --output-on-failure --timeout 900 "$@" 2>&1 | tee -a "$log"
[ "${PIPESTATUS[0]}" = 0 ] || rc=1
if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
	echo "sanitize: a sanitizer reported an error (see $log)" >&2
	rc=1
fi
echo "sanitize: finished in $(( $(date +%s) - start )) s, ctest exit $rc"
exit "$rc"
