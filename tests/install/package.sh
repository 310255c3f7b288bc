#!/usr/bin/env bash
# package/deb: the Debian package built from this tree (CPack, DEB) has the
# project's version and the real runtime dependencies (dpkg-shlibdeps, and
# python3 for the tools), each an installed Debian package; unpacked into a
# scratch root it holds the files, its mini-vmm runs and `man -w` finds
# its man page.
#   package.sh CPACK BUILD_DIR WORK_DIR
set -u
cpack=$1 build=$2 work=$3
fail() { echo "FAIL: $*"; exit 1; }
rm -rf "$work" && mkdir -p "$work"
for t in dpkg-deb dpkg-shlibdeps man; do
	command -v "$t" >/dev/null || fail "$t missing: tools/install-deps.sh installs it"
done

start=$(date +%s)
(cd "$build" && "$cpack" -G DEB -B "$work/pkg") >"$work/cpack.log" 2>&1 ||
	fail "cpack failed: $(tail -n 20 "$work/cpack.log")"
deb=$(ls "$work"/pkg/mini-vmm_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no mini-vmm_*.deb in $work/pkg: $(tail -n 5 "$work/cpack.log")"
echo "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB) in $(($(date +%s) - start)) s"

version=$(sed -nE 's/^project\(mini-vmm VERSION ([0-9.]+).*/\1/p' "$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")/CMakeLists.txt")
[ "$(dpkg-deb -f "$deb" Package)" = mini-vmm ] || fail "package name $(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "version $(dpkg-deb -f "$deb" Version), project $version"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "architecture"
desc=$(dpkg-deb -f "$deb" Description)
[ "$(grep -c "built around memory reclamation" <<<"$desc")" = 1 ] && [ "$(wc -l <<<"$desc")" -ge 3 ] ||
	fail "the Description: a summary line and a long text, once each: $desc"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
for p in liburing2 libcap-ng0 libseccomp2 libmicrohttpd12 libjson-c5 libc6 python3; do
	grep -Eq "(^|, )$p( |,|$)" <<<"$depends" || fail "Depends lacks $p"
done
# Each dependency is a real package name (installed here, since mini-vmm runs here).
for p in $(sed -E 's/\([^)]*\)//g; s/[|,]/ /g' <<<"$depends"); do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed" ||
		fail "Depends names $p, which is not an installed package"
done

root=$work/root
dpkg-deb -x "$deb" "$root" || fail "dpkg-deb -x"
for f in usr/bin/mini-vmm usr/bin/mini-vmm-ctl usr/bin/plot-reclaim usr/share/man/man1/mini-vmm.1.gz \
	usr/share/mini-vmm/grafana-dashboard.json usr/share/doc/mini-vmm/LICENSE \
	usr/share/doc/mini-vmm/CHANGELOG.md usr/share/doc/mini-vmm/docs/install.md; do
	[ -s "$root/$f" ] || fail "the package lacks /$f"
done
want=$("$build/mini-vmm" --version)
got=$("$root/usr/bin/mini-vmm" --version) || fail "the packaged mini-vmm --version exited $?"
[ "$got" = "$want" ] || fail "packaged --version '$got', built '$want'"
echo "packaged mini-vmm --version: $got"
page=$(man -M "$root/usr/share/man" -w mini-vmm 2>&1) || fail "man -w mini-vmm: $page"
[ "$page" = "$root/usr/share/man/man1/mini-vmm.1.gz" ] || fail "man -w found '$page'"
"$root/usr/bin/mini-vmm-ctl" --help >/dev/null || fail "the packaged mini-vmm-ctl --help"
echo "PASS package/deb ($(($(date +%s) - start)) s)"
