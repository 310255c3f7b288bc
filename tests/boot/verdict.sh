# Sourced by the boot tier's scripts: the checks every workload's verdict
# shares. Each calls the sourcing script's fail() with the reason.

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
