#!/usr/bin/env bash
# install/cmake_install: `cmake --install` into a scratch root (DESTDIR) puts
# mini-vmm, mini-vmm-ctl, plot-reclaim, the man page, the Grafana dashboard
# and the docs in their GNUInstallDirs places, and what it installed runs.
#   cmake_install.sh CMAKE BUILD_DIR SOURCE_DIR WORK_DIR
set -u
cmake=$1 build=$2 src=$3 work=$4
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"

# The package's prefix, /usr, then the default one, /usr/local.
DESTDIR=$work/root "$cmake" --install "$build" --prefix /usr >"$work/install.log" 2>&1 ||
	fail "cmake --install failed: $(tail -n 5 "$work/install.log")"
DESTDIR=$work/root-default "$cmake" --install "$build" >>"$work/install.log" 2>&1 ||
	fail "cmake --install (default prefix) failed: $(tail -n 5 "$work/install.log")"
[ -x "$work/root-default/usr/local/bin/mini-vmm" ] || fail "the default prefix is not /usr/local"

r=$work/root/usr
for f in bin/mini-vmm bin/mini-vmm-ctl bin/plot-reclaim; do
	[ -f "$r/$f" ] && [ -x "$r/$f" ] || fail "$f missing or not executable"
done
for f in share/man/man1/mini-vmm.1.gz share/mini-vmm/grafana-dashboard.json \
	share/doc/mini-vmm/README.md share/doc/mini-vmm/CHANGELOG.md share/doc/mini-vmm/LICENSE; do
	[ -s "$r/$f" ] || fail "$f missing"
done
for f in "$src"/docs/*.md "$src"/docs/*.png; do
	[ -s "$r/share/doc/mini-vmm/docs/$(basename "$f")" ] || fail "docs/$(basename "$f") not installed"
done
cmp -s "$src/LICENSE" /usr/share/common-licenses/GPL-2 || fail "LICENSE is not Debian's GPL-2 text"
cmp -s "$src/docs/grafana-dashboard.json" "$r/share/mini-vmm/grafana-dashboard.json" ||
	fail "the dashboard differs from docs/grafana-dashboard.json"

# What was installed runs.
want=$("$build/mini-vmm" --version)
got=$("$r/bin/mini-vmm" --version) || fail "the installed mini-vmm --version exited $?"
[ "$got" = "$want" ] || fail "installed --version '$got', built '$want'"
"$r/bin/mini-vmm-ctl" --help | grep -q "balloon" || fail "the installed mini-vmm-ctl --help"
page=$(man -M "$r/share/man" -w mini-vmm 2>&1) || fail "man -w mini-vmm: $page"
[ "$page" = "$r/share/man/man1/mini-vmm.1.gz" ] || fail "man -w found '$page'"
MANPAGER=cat MANWIDTH=80 man -M "$r/share/man" mini-vmm 2>&1 | grep -q -- "--log-path FILE" ||
	fail "the installed man page does not render"
echo "installed: $(cd "$work/root" && find . -type f | wc -l) files under /usr"
echo "PASS install/cmake_install"
