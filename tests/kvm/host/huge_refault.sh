#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Host side of kvm/tiny_huge_refault (run under with_hugepages.sh): once the
# guest has reported a huge page, empty the host's huge page pool (pages in
# use stay, as surplus), so the device's read of a buffer in that page
# cannot fault it back in; let the guest attack (balloon target 1 MiB);
# refill the pool and let it check its last report (target 2 MiB). mini-vmm
# must live through it, and count the refusals: 3 chains, host_memory.
. "$(dirname "$0")/lib.sh"

sysctl=/proc/sys/vm/nr_hugepages
target=${HUGE_PAGES_TARGET:?run under with_hugepages.sh}

pool() {
	grep -E '^HugePages_(Total|Free|Surp)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
}

wait_serial 'tiny_huge_refault: reported the huge page' 120
echo 0 >"$sysctl"
echo "pool emptied: $(pool)"
[ "$(awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo)" = 0 ] ||
	fail "huge pages still free after emptying the pool: $(pool)"
set_target 1
wait_serial 'tiny_huge_refault: attack over' 120
echo "$target" >"$sysctl"
echo "pool refilled: $(pool)"
code=$(api_get /metrics)
[ "${code%% *}" = 200 ] || fail "GET /metrics after the attack: $code"
refused=$(awk '$1 == "mini_vmm_balloon_rejected_chains_total{reason=\"host_memory\"}" { print $2 }' \
	"$scratch/body")
echo "metrics: balloon_rejected_chains_total{reason=\"host_memory\"} $refused"
[ "$refused" = 3 ] || fail "$refused chains refused for host_memory, expected 3"
set_target 2
wait_serial 'tiny_huge_refault: report 2 discarded' 120
echo "PASS: mini-vmm refused the 3 chains and lived"
