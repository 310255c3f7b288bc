#!/usr/bin/env bash
# Keep guest/patches/ a real kernel patch series: made by git format-patch
# from a git tree of Debian's linux-source-6.1, and clean under the kernel's
# own scripts/checkpatch.pl --strict. See docs/guest-kernel.md ("Changing
# the patches").
#
# Usage: guest/patches.sh tree [DIR]     a git tree to work on the series in
#        guest/patches.sh export [DIR]   rewrite guest/patches/ from that tree
#        guest/patches.sh check          the series applies and is clean
#
#   tree    extracts the source into DIR (default
#           ${MINI_VMM_CACHE:-$HOME/.cache/mini-vmm}/kernel-git), commits it
#           as the tag "base" and applies guest/patches/ on the branch
#           "mini-vmm" with git am, one commit per patch. Edit, rebase and
#           commit there as in any kernel tree (commits need Signed-off-by).
#   export  runs git format-patch base..HEAD in DIR into guest/patches/
#           (replacing what is there), then the same checks as "check".
#   check   in a scratch tree (the files the series changes and what
#           checkpatch needs): git am of guest/patches/ onto the pristine
#           source, git format-patch again must give the committed files
#           byte for byte (so they were made by this script, not edited by
#           hand), and checkpatch.pl --strict must report no error, warning
#           or check for any patch. Exit 0 when all hold.
#
# Environment:
#   MINI_VMM_CACHE           cache root (default $HOME/.cache/mini-vmm)
#   MINI_VMM_KERNEL_TARBALL  source tarball (default
#                            /usr/src/linux-source-6.1.tar.xz)

set -euo pipefail

script_path=$(readlink -f "${BASH_SOURCE[0]}")
guest_dir=$(dirname "$script_path")
patch_dir=$guest_dir/patches
tarball=${MINI_VMM_KERNEL_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
default_tree=${MINI_VMM_CACHE:-$HOME/.cache/mini-vmm}/kernel-git

# format-patch options. Output must depend only on the commits, so the check
# can regenerate the files: no commit ids (--zero-commit), no git version
# (--no-signature), fixed abbreviation length for the index lines.
format_patch_opts=(--zero-commit --no-signature --abbrev=12 --no-renames)

# checkpatch runs scripts/spdxcheck.py with "env python3": prefer the
# system's, which has Debian's python3-ply, over a pyenv or venv one.
checkpatch_path=/usr/bin:$PATH

log() { printf '%s\n' "$*" >&2; }
die() { log "patches: error: $*"; exit 1; }

usage() {
	sed -n '2,27s/^# \{0,1\}//p' "$script_path" >&2
}

# need PACKAGE WHAT COMMAND...: note WHAT as missing unless COMMAND succeeds.
missing=0
need() {
	local pkg=$1 what=$2
	shift 2
	"$@" >/dev/null 2>&1 && return 0
	log "$what not found: apt-get install $pkg"
	missing=1
}

need_tools() {
	local tool
	for tool in git tar perl python3; do
		need "$tool" "$tool" command -v "$tool"
	done
	need xz-utils xz command -v xz
	# checkpatch runs scripts/spdxcheck.py on new files; without these python
	# modules that check crashes and checkpatch skips it without a word.
	need python3-ply "python3 module ply (checkpatch's SPDX check)" \
		env PATH="$checkpatch_path" python3 -c 'import ply'
	need python3-git "python3 module git (checkpatch's SPDX check)" \
		env PATH="$checkpatch_path" python3 -c 'import git'
	need linux-source-6.1 "kernel source $tarball (or set MINI_VMM_KERNEL_TARBALL)" \
		test -f "$tarball"
	[ "$missing" = 0 ] || die "missing tools or files (see above)"
}

patches() {
	shopt -s nullglob
	local all=("$patch_dir"/*.patch)
	shopt -u nullglob
	[ ${#all[@]} -gt 0 ] || die "no patches in $patch_dir"
	printf '%s\n' "${all[@]}"
}

# git with a fixed identity for the base commit; the patches carry their own.
base_git() {
	local date=$1
	shift
	GIT_AUTHOR_NAME='Debian linux-source' GIT_AUTHOR_EMAIL='debian-kernel@lists.debian.org' \
		GIT_COMMITTER_NAME='Debian linux-source' GIT_COMMITTER_EMAIL='debian-kernel@lists.debian.org' \
		GIT_AUTHOR_DATE=$date GIT_COMMITTER_DATE=$date git "$@"
}

# The files the series changes that exist in the source (new files left out),
# one per line: what a partial tree needs for git am.
touched_files() {
	local p
	while IFS= read -r p; do
		awk '/^diff --git a\// { if (f != "" && !nf) print f; f = substr($3, 3); nf = 0; next }
			/^new file mode/ { nf = 1 }
			END { if (f != "" && !nf) print f }' "$p"
	done < <(patches) | sort -u
}

# What checkpatch needs from the tree besides the changed files: itself, its
# word lists, the SPDX checker and the licenses it reads (from git), and the
# top-level files by which it recognises a kernel tree.
checkpatch_files=(scripts/checkpatch.pl scripts/spelling.txt scripts/const_structs.checkpatch
	scripts/spdxcheck.py scripts/spdxexclude LICENSES COPYING CREDITS Kbuild MAINTAINERS Makefile README)
checkpatch_dirs=(Documentation arch include drivers fs init ipc kernel lib scripts)

# make_tree DIR [partial]: pristine source committed as tag "base", patches
# applied on branch "mini-vmm". "partial" extracts only the files the series
# changes and what checkpatch needs (seconds instead of minutes: the check
# runs in CI on 2 cores); the full tree is for working on the series.
make_tree() {
	local dir=$1 mode=${2:-full} version pkg date p top members=()
	[ ! -e "$dir" ] || [ -z "$(ls -A "$dir" 2>/dev/null)" ] ||
		die "$dir exists and is not empty: remove it, or give another DIR"
	mkdir -p "$dir"
	top=$(basename "$tarball")
	top=${top%.tar.*}
	if [ "$mode" = partial ]; then
		mapfile -t members < <({ touched_files; printf '%s\n' "${checkpatch_files[@]}"; } |
			sort -u | sed "s|^|$top/|")
		log "extracting ${#members[@]} paths of $(basename "$tarball") into $dir ..."
	else
		log "extracting $(basename "$tarball") into $dir ..."
	fi
	tar -xf "$tarball" -C "$dir" --strip-components=1 "${members[@]}" ||
		die "could not extract $tarball (a patch changes a file the source does not have?)"
	[ -f "$dir/scripts/checkpatch.pl" ] || die "$tarball has no scripts/checkpatch.pl"
	for p in "${checkpatch_dirs[@]}"; do
		mkdir -p "$dir/$p"
	done
	version=$(sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p; s/^SUBLEVEL = //p' "$dir/Makefile" |
		paste -sd.)
	pkg=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null || echo unknown)
	date="@$(stat -L -c %Y "$tarball") +0000"
	log "committing the pristine source (Linux ${version:-unknown}, linux-source-6.1 $pkg) as tag base ..."
	git -C "$dir" init -q -b mini-vmm
	# Debian's .gitignore ignores the whole top level (it is meant for their
	# packaging repository): add everything regardless.
	git -C "$dir" add -f -A .
	base_git "$date" -C "$dir" commit -q --no-verify \
		-m "Linux ${version:-unknown} (Debian linux-source-6.1 $pkg)"
	git -C "$dir" tag base
	log "applying $(patches | wc -l) patch(es) with git am ..."
	while IFS= read -r p; do
		log "      $(basename "$p")"
		git -C "$dir" am -q --committer-date-is-author-date "$p" ||
			die "$(basename "$p") does not apply (git am stopped in $dir)"
	done < <(patches)
}

# canary_checkpatch DIR: checkpatch in DIR must find the faults of a known
# bad patch. Its SPDX check in particular is skipped without a word when
# spdxcheck.py cannot run (a missing file or python module), which would make
# "clean" mean nothing.
canary_checkpatch() {
	local dir=$1 out
	out=$(cd "$dir" && PATH=$checkpatch_path ./scripts/checkpatch.pl --strict --terse - 2>&1 <<-'EOF'
		From: Canary <canary@example.org>
		Subject: [PATCH] lib: canary

		Signed-off-by: Canary <canary@example.org>
		---
		diff --git a/lib/canary.c b/lib/canary.c
		new file mode 100644
		index 000000000000..111111111111
		--- /dev/null
		+++ b/lib/canary.c
		@@ -0,0 +1,2 @@
		+// SPDX-License-Identifier: GPL-9.0
		+int canary = 0;
	EOF
	) || true
	if grep -q "GPL-9.0' is not supported" <<<"$out" && grep -q 'do not initialise globals to 0' <<<"$out"; then
		return 0
	fi
	log "      checkpatch in $dir did not find the faults of a known bad patch:"
	printf '%s\n' "$out" | sed 's/^/        /' >&2
	return 1
}

# run_checkpatch DIR: checkpatch --strict on each committed patch file.
run_checkpatch() {
	local dir=$1 p out bad=0
	log "checkpatch.pl --strict (the tree's own) ..."
	canary_checkpatch "$dir" || return 1
	while IFS= read -r p; do
		# Run from the tree's top so checkpatch knows it is in a kernel tree
		# (spelling list, const structs, SPDX and file checks).
		if out=$(cd "$dir" && PATH=$checkpatch_path ./scripts/checkpatch.pl --strict --terse --showfile "$p" 2>&1) &&
			! grep -qE ': (ERROR|WARNING|CHECK):' <<<"$out"; then
			log "      $(basename "$p"): clean"
		else
			log "      $(basename "$p"): NOT clean"
			printf '%s\n' "$out" | sed 's/^/        /' >&2
			bad=1
		fi
	done < <(patches)
	return "$bad"
}

# check_generated DIR: format-patch of DIR's series equals the files.
check_generated() {
	local dir=$1 out
	out=$(mktemp -d "${TMPDIR:-/tmp}/patches-regen.XXXXXX")
	git -C "$dir" format-patch -q "${format_patch_opts[@]}" -o "$out" base..HEAD
	if diff -r "$out" "$patch_dir" >"$out.diff" 2>&1; then
		log "      format-patch gives the committed files byte for byte"
		rm -rf "$out" "$out.diff"
		return 0
	fi
	log "      guest/patches/ is not what git format-patch makes of the series:"
	head -n 40 "$out.diff" | sed 's/^/        /' >&2
	log "      (edit the series in a tree from 'guest/patches.sh tree', then 'guest/patches.sh export')"
	rm -rf "$out" "$out.diff"
	return 1
}

cmd_tree() {
	local dir=${1:-$default_tree}
	need_tools
	make_tree "$dir"
	log "done: $dir (branch mini-vmm, tag base)"
	log "  work there (git rebase -i base, git commit -s), then: guest/patches.sh export $dir"
	printf '%s\n' "$dir"
}

cmd_export() {
	local dir=${1:-$default_tree}
	need_tools
	git -C "$dir" rev-parse -q --verify base >/dev/null ||
		die "$dir is not a tree made by 'guest/patches.sh tree' (no tag base)"
	[ -z "$(git -C "$dir" status --porcelain --untracked-files=no)" ] ||
		die "$dir has uncommitted changes: commit them first"
	local n
	n=$(git -C "$dir" rev-list --count base..HEAD)
	[ "$n" -gt 0 ] || die "$dir has no commits on top of base"
	find "$patch_dir" -maxdepth 1 -name '*.patch' -delete
	git -C "$dir" format-patch -q "${format_patch_opts[@]}" -o "$patch_dir" base..HEAD
	log "wrote $n patch(es) to $patch_dir:"
	patches | sed 's|.*/|      |' >&2
	run_checkpatch "$dir" || die "the series is not checkpatch-clean (see above)"
	log "note: build-kernel.sh's cache key changed; the next build rebuilds the guest kernel"
}

scratch=
cmd_check() {
	need_tools
	local status=0
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/patches-check.XXXXXX")
	trap 'rm -rf "$scratch"' EXIT
	make_tree "$scratch/linux" partial || status=1
	if [ "$status" = 0 ]; then
		check_generated "$scratch/linux" || status=1
		run_checkpatch "$scratch/linux" || status=1
	fi
	if [ "$status" = 0 ]; then
		log "patches: PASS: $(patches | wc -l) patch(es) apply with git am, are format-patch output and checkpatch --strict clean"
	else
		log "patches: FAIL (see above)"
	fi
	return "$status"
}

[ $# -gt 0 ] || { usage; exit 2; }
cmd=$1
shift
case $cmd in
tree) [ $# -le 1 ] || die "tree takes one DIR"; cmd_tree "$@" ;;
export) [ $# -le 1 ] || die "export takes one DIR"; cmd_export "$@" ;;
check) [ $# -eq 0 ] || die "check takes no arguments"; cmd_check ;;
-h | --help) usage ;;
*) usage; die "unknown command: $cmd" ;;
esac
