#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs COMMAND with at least N free 2 MiB huge pages in the host's pool and
# /proc/sys/vm/nr_hugepages writable (the test empties and refills the pool
# itself), raising the pool for it and putting nr_hugepages back after.
#
#   with_hugepages.sh N -- COMMAND...
#
# COMMAND finds the pool size it may restore in HUGE_PAGES_TARGET. Exits 77
# with the reason where huge pages cannot be had (no root, no hugetlb, too
# little memory), COMMAND's status otherwise.
set -u
want=$1
shift
[ "${1:-}" = -- ] && shift
sysctl=/proc/sys/vm/nr_hugepages

skip() {
	echo "SKIP: $*"
	exit 77
}
free_pages() {
	awk '$1 == "HugePages_Free:" { print $2 }' /proc/meminfo
}

[ -e /dev/kvm ] || skip "/dev/kvm is absent (no KVM on this machine)"
[ -r "$sysctl" ] || skip "$sysctl is absent: this kernel has no hugetlb pages"
orig=$(cat "$sysctl")
[ -w "$sysctl" ] && echo "$orig" >"$sysctl" 2>/dev/null ||
	skip "$sysctl is not writable (the test empties the huge page pool: run as root)"
restore() {
	echo "$orig" >"$sysctl"
	echo "with_hugepages: nr_hugepages back to $orig"
}
free=$(free_pages)
if [ "$free" -lt "$want" ]; then
	echo $((orig + want - free)) >"$sysctl"
	free=$(free_pages)
	if [ "$free" -lt "$want" ]; then
		restore
		skip "the kernel gave $free free huge pages, the test needs $want"
	fi
fi
echo "with_hugepages: nr_hugepages $orig -> $(cat "$sysctl"), $free free"
HUGE_PAGES_TARGET=$(cat "$sysctl") "$@"
rc=$?
restore
exit $rc
