#!/usr/bin/env bash
# Installs what is missing, builds mini-vmm and the guest kernels, and runs
# every test tier through CTest:
#   this machine:   unit, api, fault, bench smoke, install, package (every
#                   label but kvm and boot), the ASan/UBSan build of
#                   unit+fault, fuzzing (10 s per harness)
#   a working KVM:  kvm (tiny guests), boot (Linux guests), the ASan/UBSan
#                   build of kvm, run through tools/kvm-host: directly on
#                   /dev/kvm where it opens, else in the nested SVM host
#                   (QEMU TCG). Where /dev/kvm is the emulating kvm_pvm, the
#                   tests that need real virtualization (label realvirt) run
#                   again in the nested host.
# A kvm or boot test may skip (exit 77) only when it needs the other kind of
# KVM than the one it ran on (labels realvirt / emulating); any other skip
# fails this script, and each skip's reason is printed here. The last lines
# say where each tier ran and how many of its tests ran, passed, failed.
#
# Usage: tools/test.sh [extra ctest args for every ctest run]
# Environment: MINI_VMM_VM_HOST=auto|direct|nested (default auto) picks where
# the kvm and boot tiers run; docs/testing.md.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
start=$(date +%s)
vm_host=${MINI_VMM_VM_HOST:-auto}

kind=$(tools/kvm-host --probe)
case $vm_host:$kind in
auto:none | nested:*) vm_where=nested ;;
auto:* | direct:*) vm_where=direct-$kind ;;
*) echo "test.sh: MINI_VMM_VM_HOST must be auto, direct or nested" >&2; exit 2 ;;
esac
[ "$vm_where" != direct-none ] ||
	{ echo "test.sh: MINI_VMM_VM_HOST=direct but this machine has no /dev/kvm that opens" >&2; exit 1; }
case $kind in
none) echo "test.sh: no /dev/kvm here: the kvm and boot tiers run in the nested SVM host (tools/kvm-host --nested)" ;;
emulating) echo "test.sh: /dev/kvm is kvm_pvm (emulating): kvm and boot tiers run here, the realvirt tests in the nested SVM host" ;;
real) echo "test.sh: /dev/kvm is real virtualization: every tier runs on this machine" ;;
esac

echo "== [1/6] dependencies"
tools/install-deps.sh

echo "== [2/6] building mini-vmm (build/, and build-asan/ with ASan + UBSan)"
tools/build.sh "$top/build"
tools/build.sh "$top/build-asan" -DMINI_VMM_SANITIZE=ON

echo "== [3/6] guest kernels (cached outside the checkout)"
MINI_VMM_KERNEL=$(guest/build-kernel.sh | tail -n 1)
MINI_VMM_KERNEL_UNPATCHED=$(guest/build-kernel.sh --unpatched | tail -n 1)
export MINI_VMM_KERNEL MINI_VMM_KERNEL_UNPATCHED
echo "guest kernel (patched): $MINI_VMM_KERNEL"
echo "guest kernel (unpatched): $MINI_VMM_KERNEL_UNPATCHED"

export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

rc=0
summary=()
total_pass=0 total_fail=0 total_skip=0 nested_host_failures=0
results=$top/build/test-results
rm -rf "$results"
mkdir -p "$results"

# The output block of one test in a copy of LastTest.log: its SKIP line(s).
skip_reason() {
	awk -v t="$2" '
		$0 ~ "^[0-9]+/[0-9]+ Test: " t "$" { on = 1; next }
		on && /^<end of output>/ { exit }
		on && /SKIP/ { print; found = 1 }
		END { if (!found) print "(the test printed no SKIP line)" }' "$1"
}

# failed_output_has LOG TEST REGEX: in a tier's console log (ctest
# --output-on-failure), the output printed after TEST's result line, up to
# the next test's start, matches REGEX.
failed_output_has() {
	awk -v t="$2" -v re="$3" '
		$0 ~ "Test +#[0-9]+: " t " " { on = 1; next }
		on && /^ *Start +[0-9]+: |^[0-9]+% tests passed/ { on = 0 }
		on && $0 ~ re { found = 1 }
		END { exit !found }' "$1"
}

# What the nested host is known to do to its guests under discard-heavy
# load (docs/testing.md, "How often the nested host itself fails"): its own
# kernel died ("corrupted stack end", RCU stalls) in the same tests whose
# tiny guests triple-faulted. A kvm test failing that way there, and only
# that way, is run once more; it is reported as flaky by name below, and
# fails the run if it fails again.
NESTED_FLAKY_RE='guest triple fault \(KVM_EXIT_SHUTDOWN\)'

# ctest_results LOG: "name status" for every test ctest finished in LOG
# (Passed, Failed, Skipped, Not Run, ...).
ctest_results() {
	sed -nE 's/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: ([^ ]+) \.* *(\*\*\*)?([A-Za-z]+( Run)?).*/\1 \3/p' "$1"
}

# run_tier NAME WHERE DIR [ctest args...]: runs ctest in DIR, here or through
# tools/kvm-host, and judges its skips. WHERE: host, direct-emulating,
# direct-real or nested.
run_tier() {
	local name=$1 where=$2 dir=$3
	shift 3
	local log=$results/$name.log tests_log=$results/$name.tests.log
	local runner=() allowed_label='' t status pass=0 fail=0 skip=0 bad_skip=0 tier_rc try
	local failed=() rerun=() flaky=''
	case $where in
	host) ;;
	direct-*) runner=(tools/kvm-host --direct --timeout 3000 --) ;;
	nested) runner=(tools/kvm-host --nested --timeout 3000 --) ;;
	esac
	case $where in
	direct-emulating) allowed_label=realvirt ;;
	direct-real | nested) allowed_label=emulating ;;
	esac
	echo "== tier $name ($where): ctest $*"
	: >"$log"
	: >"$tests_log"
	local done_re='' done_names
	for try in 1 2 3; do
		set +e
		"${runner[@]}" ctest --test-dir "$dir" --output-on-failure --timeout 900 "$@" \
			${done_re:+-E "$done_re"} 2>&1 | tee "$log.$try"
		tier_rc=${PIPESTATUS[0]}
		set -e
		cat "$log.$try" >>"$log"
		cat "$dir/Testing/Temporary/LastTest.log" >>"$tests_log" 2>/dev/null || :
		# 125: tools/kvm-host proved the nested host itself failed (its
		# kernel died, or it never got /dev/kvm); that, and only that, is
		# retried, at most twice (its kernel died in 3 of about 10 tier
		# runs on 2026-12-07, and 3 times in one tier the same day:
		# docs/testing.md). The retry resumes: every test that finished
		# (passed, failed or skipped) keeps its result and is not run
		# again; the one the host died under runs again from the start.
		[ "$where" = nested ] && [ "$tier_rc" = 125 ] || break
		nested_host_failures=$((nested_host_failures + 1))
		[ "$try" -lt 3 ] || break
		done_names=$(ctest_results "$log" | cut -d' ' -f1 | paste -sd'|')
		done_re=${done_names:+^(${done_names})\$}
		echo "test.sh: the nested host failed (not a test): resuming tier $name (attempt $((try + 1)) of 3)${done_names:+, without the tests that finished: ${done_names//|/ }}"
	done
	local allowed='^$'
	if [ -n "$allowed_label" ]; then
		allowed=$(ctest --test-dir "$dir" -N -L "$allowed_label" | sed -n 's/^ *Test *#[0-9]*: //p' | paste -sd'|')
		allowed="^(${allowed:-\$})\$"
	fi
	while read -r t status; do
		case $status in
		Passed) pass=$((pass + 1)) ;;
		Skipped | "Not Run")
			skip=$((skip + 1))
			if [[ $t =~ $allowed ]]; then
				echo "skipped $t ($where, allowed: it needs the other kind of KVM): $(skip_reason "$tests_log" "$t")"
			else
				echo "SKIPPED $t ($where): $(skip_reason "$tests_log" "$t")"
				if [[ $t == kvm/* || $t == boot/* ]]; then
					echo "test.sh: $t skipped on $where, where it must run: that is a failure" >&2
					bad_skip=1
				fi
			fi
			;;
		*) fail=$((fail + 1)) failed+=("$t") ;;
		esac
	done < <(ctest_results "$log")
	# The nested host's triple faults: once more, by name (NESTED_FLAKY_RE).
	if [ "$where" = nested ] && [ "${#failed[@]}" -gt 0 ] && [ "$tier_rc" != 125 ]; then
		for t in "${failed[@]}"; do
			# (kvm/tiny_triple_fault triple-faults on purpose: never.)
			if [[ $t == kvm/* && $t != kvm/tiny_triple_fault ]] &&
				failed_output_has "$log" "$t" "$NESTED_FLAKY_RE"; then
				rerun+=("$t")
			fi
		done
		if [ "${#rerun[@]}" = "${#failed[@]}" ]; then
			local re
			re="^($(IFS='|'; echo "${rerun[*]}"))\$"
			echo "test.sh: in the nested host ${rerun[*]}: the guest triple-faulted; running once more (docs/testing.md)"
			set +e
			"${runner[@]}" ctest --test-dir "$dir" --output-on-failure --timeout 900 -R "$re" 2>&1 |
				tee "$results/$name.rerun.log"
			local rerun_rc=${PIPESTATUS[0]}
			set -e
			if [ "$rerun_rc" = 0 ]; then
				flaky=" (flaky in the nested host, passed on a second run: ${rerun[*]})"
				echo "test.sh: FLAKY ${rerun[*]}: triple-faulted in the nested host, passed on a second run"
				pass=$((pass + fail)) fail=0 tier_rc=0
			fi
		fi
	fi
	if [ "$tier_rc" != 0 ] && [ "$fail" = 0 ]; then
		fail=1 # ctest (or the nested host) failed without a failed test line
		echo "test.sh: tier $name exited $tier_rc with no failed test: see above" >&2
	fi
	if grep -qE "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:" "$log"; then
		echo "test.sh: tier $name: a sanitizer reported an error (see $log)" >&2
		fail=$((fail + 1))
	fi
	[ "$tier_rc" = 0 ] && [ "$bad_skip" = 0 ] && [ "$fail" = 0 ] || rc=1
	total_pass=$((total_pass + pass)) total_fail=$((total_fail + fail)) total_skip=$((total_skip + skip))
	summary+=("$(printf '%-16s %-34s ran %3d: %3d passed, %d failed, %d skipped%s' \
		"$name" "$(where_label "$where")" $((pass + fail + skip)) "$pass" "$fail" "$skip" "$flaky")")
}
where_label() {
	case $1 in
	host) echo "this machine" ;;
	direct-emulating) echo "direct /dev/kvm (kvm_pvm, emulating)" ;;
	direct-real) echo "direct /dev/kvm (real)" ;;
	nested) echo "nested SVM host (QEMU TCG)" ;;
	esac
}

echo "== [4/6] tiers on this machine"
run_tier unit+api+fault host build -LE '^(kvm|boot)$' "$@"
run_tier asan:unit+fault host build-asan -L 'unit|fault' -LE '^kvm$' "$@"

echo "== [5/6] VM tiers (kvm, boot) on a working KVM"
run_tier kvm+boot "$vm_where" build -L 'kvm|boot' "$@"
run_tier asan:kvm "$vm_where" build-asan -L '^kvm$' "$@"
if [ "$vm_where" = direct-emulating ]; then
	run_tier realvirt nested build -L realvirt "$@"
fi

echo "== [6/6] fuzzing, 10 s per harness"
if tools/fuzz.sh 10; then
	summary+=("$(printf '%-16s %-34s %s' fuzz "this machine" "every harness 10 s, no finding")")
else
	rc=1 total_fail=$((total_fail + 1))
	summary+=("$(printf '%-16s %-34s %s' fuzz "this machine" "FAILED (see above)")")
fi

echo "== where each tier ran"
printf '%s\n' "${summary[@]}"
[ "$nested_host_failures" = 0 ] ||
	echo "test.sh: the nested host itself failed $nested_host_failures time(s) (kvm-host exit 125); a tier whose host died is resumed at most twice"
echo "test.sh: finished in $(($(date +%s) - start)) s, exit $rc"
echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
exit "$rc"
