#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang into build-fuzz/ and
# runs each for SECONDS (default 60) from a copy of its seed corpus, reporting
# per harness: runs, coverage, corpus growth, findings. The checked-in corpus
# is never modified; set MINI_VMM_FUZZ_KEEP=1 to keep the grown corpora.
#
#   tools/fuzz.sh [SECONDS] [HARNESS...]     e.g. tools/fuzz.sh 10, tools/fuzz.sh 300 balloon
#
# Exit 0: no finding. 1: a harness crashed, leaked, timed out or failed to
# build; the input is kept in build-fuzz/fuzz-artifacts/<harness>/ and the
# line to reproduce it is printed. 77: clang or libFuzzer is not installed.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
shift || true
dir=${MINI_VMM_FUZZ_BUILD:-$top/build-fuzz}

if ! command -v clang >/dev/null; then
	echo "fuzz: SKIP: clang is not installed (tools/install-deps.sh)"
	exit 77
fi
if ! clang -print-file-name=libclang_rt.fuzzer-x86_64.a | grep -q /; then
	echo "fuzz: SKIP: libFuzzer (libclang-rt-14-dev) is not installed"
	exit 77
fi

harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
	for f in "$top"/tests/fuzz/fuzz_*.c; do
		h=$(basename "$f" .c)
		h=${h#fuzz_}
		case $h in common | main) continue ;; esac
		harnesses+=("$h")
	done
fi

mkdir -p "$dir"
echo "fuzz: configuring $dir (clang, libFuzzer + ASan + UBSan)"
if ! CC=clang cmake -S "$top" -B "$dir" -DMINI_VMM_FUZZ=ON >"$dir/configure.log" 2>&1; then
	tail -n 20 "$dir/configure.log" >&2
	echo "fuzz: configure failed (log: $dir/configure.log)" >&2
	exit 1
fi
targets=()
for h in "${harnesses[@]}"; do targets+=(--target "fuzz_$h"); done
echo "fuzz: building ${harnesses[*]}"
if ! cmake --build "$dir" -j"$(nproc)" "${targets[@]}" >"$dir/build.log" 2>&1; then
	grep -E "error|Error" "$dir/build.log" | head -n 30 >&2
	echo "fuzz: build failed (log: $dir/build.log)" >&2
	exit 1
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
work=$(mktemp -d "${TMPDIR:-/tmp}/mini-vmm-fuzz.XXXXXX")
[ -n "${MINI_VMM_FUZZ_KEEP:-}" ] || trap 'rm -rf "$work"' EXIT
rc=0
results=()
for h in "${harnesses[@]}"; do
	bin=$dir/tests/fuzz/fuzz_$h
	seeds=$top/tests/fuzz/corpus/fuzz_$h
	art=$dir/fuzz-artifacts/$h
	corpus=$work/$h
	log=$dir/fuzz-$h.log
	mkdir -p "$art" "$corpus"
	[ -d "$seeds" ] && cp "$seeds"/* "$corpus"/ 2>/dev/null
	nseeds=$(ls "$corpus" | wc -l)
	before=$(ls "$art" | wc -l)
	echo "fuzz: $h for ${secs}s ($nseeds seeds) ..."
	"$bin" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$art/" "$corpus" >"$log" 2>&1
	status=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	ft=$(grep -Eo 'ft: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	after=$(ls "$art" | wc -l)
	findings=$((after - before))
	if [ "$status" -ne 0 ] && [ "$findings" -eq 0 ]; then
		findings=1 # e.g. a crash in initialisation, before any input
	fi
	line=$(printf "%-12s %5ss %10s runs  cov %6s  ft %6s  corpus %4s -> %-5s  findings %s" \
		"$h" "$secs" "${runs:-?}" "${cov:-?}" "${ft:-?}" "$nseeds" "$(ls "$corpus" | wc -l)" "$findings")
	results+=("$line")
	if [ "$findings" -ne 0 ]; then
		rc=1
		echo "fuzz: $h: FINDING (exit $status); log: $log"
		grep -E "ERROR|SUMMARY|FUZZ_ASSERT|runtime error" "$log" | head -n 5
		for a in $(ls -t "$art" | head -n "$findings"); do
			echo "  reproduce: $bin $art/$a"
		done
	fi
done
echo "== fuzz summary (${secs}s each; logs: $dir/fuzz-<harness>.log)"
printf '%s\n' "${results[@]}"
[ -n "${MINI_VMM_FUZZ_KEEP:-}" ] && echo "fuzz: grown corpora kept in $work"
exit "$rc"
