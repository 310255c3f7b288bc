#!/usr/bin/env bash
# unit/cli_log: mini-vmm's own lines carry a timestamp; --log-path sends them
# to the end of a file (nothing on stderr); --no-seccomp and --seccomp log
# say, in the log, that they are unsafe; the default says nothing of it.
# No KVM needed: a run that fails at setup logs enough.
#   cli_log.sh MINI_VMM WORK_DIR
set -u
vmm=$1 work=$2
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
stamp='^\[ +[0-9]+\.[0-9]{3}\] mini-vmm: '

"$vmm" --kernel /nonexistent 2>"$work/default.err" >/dev/null
grep -Eq "${stamp}error: " "$work/default.err" || fail "no timestamped error line: $(cat "$work/default.err")"
grep -q seccomp "$work/default.err" && fail "the default run talks of seccomp: $(cat "$work/default.err")"

echo "kept" >"$work/vm.log"
"$vmm" --kernel /nonexistent --log-path "$work/vm.log" --no-seccomp 2>"$work/path.err" >/dev/null
rc=$?
[ "$rc" = 2 ] || fail "exit $rc, expected 2 (a kernel that does not exist is refused before /dev/kvm)"
[ -s "$work/path.err" ] && fail "--log-path: stderr still got: $(cat "$work/path.err")"
[ "$(head -n 1 "$work/vm.log")" = kept ] || fail "--log-path did not append: $(head -n 2 "$work/vm.log")"
tail -n +2 "$work/vm.log" | grep -Evq "$stamp" && fail "a line without the stamp: $(cat "$work/vm.log")"
grep -Eq "${stamp}warning: seccomp off .*UNSAFE" "$work/vm.log" || fail "--no-seccomp not logged as unsafe: $(cat "$work/vm.log")"
grep -Eq "${stamp}error: " "$work/vm.log" || fail "the error went elsewhere: $(cat "$work/vm.log")"

"$vmm" --kernel /nonexistent --seccomp log 2>"$work/log.err" >/dev/null
grep -Eq "${stamp}warning: seccomp in log mode: UNSAFE" "$work/log.err" || fail "--seccomp log: $(cat "$work/log.err")"

"$vmm" --kernel /nonexistent --log-path "$work/no-such-dir/vm.log" 2>"$work/bad.err" >/dev/null
rc=$?
[ "$rc" = 1 ] && grep -q -- "--log-path $work/no-such-dir/vm.log: No such file" "$work/bad.err" ||
	fail "an unwritable --log-path: exit $rc, $(cat "$work/bad.err")"
echo "PASS unit/cli_log"
