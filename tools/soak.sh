#!/usr/bin/env bash
# Soak: the patched guest's workload cycles alloc/touch/free/verify many times
# while free page reporting runs, with a kept set checked after every cycle.
# Passes only with every cycle verified and zero corrupted words.
# Usage: tools/soak.sh [CYCLES (default 50)] [MIB per cycle (default 64)]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cycles=${1:-50} mib=${2:-64}
kernel=${MINI_VMM_KERNEL:-$("$top/guest/build-kernel.sh" | tail -n 1)}
out=$(mktemp -d /tmp/mini-vmm-soak.XXXXXX)
echo "soak: $cycles cycles of $mib MiB, 256 MiB guest, reporting delay 100 ms (logs: $out)"
start=$(date +%s)
set +e
"$top/build/mini-vmm" --kernel "$kernel" --memory 256M --balloon-reporting \
	--serial "file:$out/console.log" \
	--cmdline "console=ttyS0 panic=-1 reboot=k page_reporting.delay_ms=100 mvmm_workload.mib=$mib mvmm_workload.cycles=$cycles" \
	</dev/null 2>"$out/mini-vmm.log" &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
	sleep 20
	echo "  [$(( $(date +%s) - start )) s] $(grep -a -c 'verified' "$out/console.log" 2>/dev/null) cycles verified"
done
wait "$pid"
rc=$?
set -e
verified=$(grep -a -c "mvmm_workload: cycle=[0-9]* verified .* corrupted=0" "$out/console.log" || true)
bad=$(grep -a "corrupted=[1-9]" "$out/console.log" || true)
result=$(grep -a "mvmm_workload: result=" "$out/console.log" || true)
totals=$(grep -a -o "balloon totals:.*" "$out/mini-vmm.log" || true)
echo "soak: exit $rc after $(( $(date +%s) - start )) s; $verified of $cycles cycles verified clean"
echo "soak: $result"
echo "soak: $totals"
echo "soak: $(( cycles * mib )) MiB cycled; returned per cycle (mini-vmm's reclaim lines):"
grep -a -o "reclaim: .*" "$out/mini-vmm.log" | sort | uniq -c | sort -rn | head -n 5
if [ "$rc" -ne 0 ] || [ -n "$bad" ] || [ "$verified" -ne "$cycles" ]; then
	echo "soak: FAIL" >&2
	exit 1
fi
echo "soak: PASS"
