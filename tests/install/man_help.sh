#!/usr/bin/env bash
# install/man_help: the man page (docs/mini-vmm.1, as built) documents every
# option `mini-vmm --help` lists, in its OPTIONS section, and no option
# --help lacks; it renders without a groff warning.
#   man_help.sh MINI_VMM MAN_PAGE
set -u
vmm=$1 man=$2
fail=0
[ -s "$man" ] || { echo "FAIL: no man page at $man"; exit 1; }

# --help: the options that start a line ("  --kernel PATH", "  -h, --help").
help_opts=$("$vmm" --help | sed -nE 's/^  (-[a-z], )?(--[a-z][a-z-]*).*/\2/p' | sort -u)
# The man page: each .TP item of OPTIONS (up to the next .SH), its first
# line, outside the nested list (.RS/.RE) of --balloon's keys.
man_opts=$(awk '
	/^\.SH / { in_opts = ($2 == "OPTIONS") ; next }
	!in_opts { next }
	/^\.RS/ { nested++ } /^\.RE/ { nested-- }
	/^\.TP/ { item = 1; next }
	item { item = 0; if (!nested) print }' "$man" |
	sed 's/\\-/-/g' | grep -oE -- '--[a-z][a-z-]*' | sort -u)
[ -n "$help_opts" ] || { echo "FAIL: no option found in mini-vmm --help"; exit 1; }
for o in $help_opts; do
	grep -qx -- "$o" <<<"$man_opts" || { echo "FAIL: $o is in --help but not in the man page's OPTIONS ($man)"; fail=1; }
done
for o in $man_opts; do
	grep -qx -- "$o" <<<"$help_opts" || { echo "FAIL: $o is in the man page's OPTIONS but not in --help"; fail=1; }
done
echo "options: $(wc -w <<<"$help_opts") in --help, $(wc -w <<<"$man_opts") in the man page"

if command -v groff >/dev/null; then
	warnings=$(groff -man -ww -z "$man" 2>&1)
	[ -z "$warnings" ] || { echo "FAIL: groff warns: $warnings"; fail=1; }
fi
[ "$fail" = 0 ] && echo "PASS install/man_help"
exit "$fail"
