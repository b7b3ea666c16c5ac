#!/bin/sh
# guest-kernel.sh - prepare the guest kernel cache (run by `make guest`).
#
# usage: scripts/guest-kernel.sh [DIR]
#
# DIR defaults to ${FC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fc-tools}/kernel.
# It takes Debian's current kernel image package (the dependency of the
# linux-image-amd64 metapackage, or $FC_KERNEL_PKG), downloads it without
# installing it, and leaves in DIR:
#
#   vmlinux        uncompressed ELF kernel (PVH entry; QEMU -kernel, Firecracker)
#   modules/*.ko   the guest's modules, uncompressed
#   modules.load   the load order, one file name (in modules/) per line
#   version        the kernel release, e.g. 6.1.0-57-amd64
#   config         the kernel's build configuration (for reference)
#
# DIR appears complete or not at all: the work happens in a temporary
# directory next to it, renamed into place at the end. If DIR already holds
# vmlinux, modules.load and version, nothing is done. Progress goes to
# stderr; the last line on stdout is DIR, made absolute. Exit status: 0,
# 2 bad command line, 5 failure (no apt, download or extraction failed).
set -eu

prog=guest-kernel.sh
say() { printf '%s: %s\n' "$prog" "$*" >&2; }
# exit codes follow HACKING.md: 2 bad command line, 5 system failure
die() { say "$*"; exit 5; }
usage() { say "usage: $prog [DIR]"; exit 2; }

case "${1:-}" in
-h|--help)
	sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
	exit 0 ;;
esac
[ $# -le 1 ] || usage

if [ $# -eq 1 ]; then
	[ -n "$1" ] || usage
	dir=$1
else
	[ -n "${FC_CACHE:-}${XDG_CACHE_HOME:-}${HOME:-}" ] ||
		die "no cache directory: set FC_CACHE, XDG_CACHE_HOME or HOME, or give DIR"
	dir=${FC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fc-tools}/kernel
fi
dir=${dir%/}
[ -n "$dir" ] || usage
case $dir in
/*) ;;
*) dir=$(pwd)/$dir ;;
esac

is_complete() {
	[ -s "$1/vmlinux" ] && [ -f "$1/modules.load" ] && [ -s "$1/version" ]
}

if is_complete "$dir"; then
	say "kernel $(cat "$dir/version") already in $dir"
	printf '%s\n' "$dir"
	exit 0
fi

if [ -e "$dir" ] && ! rmdir "$dir" 2>/dev/null; then
	die "$dir: exists but is not a complete kernel cache; remove it first"
fi

# The modules the guest loads, in order. crc32c is not a declared dependency
# of ext4/jbd2, but they need the algorithm; the generic one works on any CPU.
WANT="virtio_ring virtio virtio_mmio virtio_console virtio_blk crc32c_generic
jbd2 mbcache crc16 ext4 vsock vmw_vsock_virtio_transport_common
vmw_vsock_virtio_transport"

for t in apt-get apt-cache dpkg-deb xz grep od; do
	command -v "$t" >/dev/null 2>&1 || die "$t: command not found"
done

parent=$(dirname -- "$dir")
mkdir -p -- "$parent"
tmp=$(mktemp -d "$parent/.kernel.tmp.XXXXXX")
dl=
cleanup() { rm -rf -- "$tmp" ${dl:+"$dl"}; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

updated=
apt_update() {
	[ -z "$updated" ] || return 1
	updated=1
	say "apt-get update"
	apt-get update >&2 || die "apt-get update failed"
}

# --- which package ----------------------------------------------------------
resolve() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *|\{0,1\}Depends: <\{0,1\}\(linux-image-[^ >]*\).*/\1/p' |
		grep -v -e '-amd64-unsigned$' | head -n 1
}
pkg=${FC_KERNEL_PKG:-}
if [ -z "$pkg" ]; then
	pkg=$(resolve) || true
	if [ -z "$pkg" ] && apt_update; then
		pkg=$(resolve) || true
	fi
	[ -n "$pkg" ] || die "linux-image-amd64: cannot resolve its kernel image package (apt-cache depends)"
fi
say "kernel package: $pkg"

# --- download and unpack -------------------------------------------------------
mkdir "$tmp/x" "$tmp/out" "$tmp/out/modules"
# As root, apt downloads as user _apt, who must be able to write the target
# directory (else apt warns and downloads unsandboxed): use one under /tmp
# (the cache may be under root's private home) owned by _apt.
dl=$(mktemp -d "${TMPDIR:-/tmp}/fc-kernel-dl.XXXXXX")
if [ "$(id -u)" = 0 ] && id _apt >/dev/null 2>&1; then
	chown _apt "$dl" 2>/dev/null || true
fi
if ! (cd "$dl" && apt-get -q download "$pkg" >&2); then
	apt_update || true
	(cd "$dl" && apt-get -q download "$pkg" >&2) ||
		die "$pkg: apt-get download failed"
fi
deb=$(find "$dl" -name '*.deb' | head -n 1)
[ -n "$deb" ] || die "$pkg: apt-get download left no .deb"
say "unpacking $(basename -- "$deb")"
dpkg-deb -x "$deb" "$tmp/x"
rm -f -- "$deb"

set -- "$tmp/x"/lib/modules/*/
if [ $# -ne 1 ] || [ ! -d "$1" ]; then
	die "$pkg: expected exactly one lib/modules/<release> directory"
fi
mdir=${1%/}
release=$(basename -- "$mdir")
vmlinuz=$tmp/x/boot/vmlinuz-$release
[ -f "$vmlinuz" ] || die "$pkg: no boot/vmlinuz-$release"

# --- vmlinux out of vmlinuz ------------------------------------------------------
# The bzImage carries the kernel as an XZ stream after its setup code; find
# the XZ magic FD 37 7A 58 5A 00 and decompress from there (--single-stream
# ignores whatever follows the stream). Try each candidate offset until one
# yields an ELF file.
is_elf() { [ "$(od -An -tx1 -N4 -- "$1" | tr -d ' \n')" = 7f454c46 ]; }
found=
for off in $(LC_ALL=C grep -obUaP '\xFD7zXZ\x00' -- "$vmlinuz" | cut -d: -f1); do
	if tail -c +"$((off + 1))" -- "$vmlinuz" |
		xz -dc --single-stream >"$tmp/out/vmlinux" 2>/dev/null &&
		is_elf "$tmp/out/vmlinux"; then
		found=$off
		break
	fi
done
[ -n "$found" ] || die "$vmlinuz: no XZ stream holding an ELF kernel"
say "vmlinux: XZ stream at offset $found, $(wc -c <"$tmp/out/vmlinux") bytes"

# --- modules ------------------------------------------------------------------------
builtin=$mdir/modules.builtin
: >"$tmp/out/modules.load"
for m in $WANT; do
	# module names treat - and _ alike; files use either
	alt=$(printf '%s' "$m" | tr _ -)
	src=
	for n in "$m" "$alt"; do
		src=$(find "$mdir/kernel" -type f \( -name "$n.ko" -o -name "$n.ko.xz" \
			-o -name "$n.ko.zst" -o -name "$n.ko.gz" \) | head -n 1)
		[ -z "$src" ] || break
	done
	if [ -z "$src" ]; then
		if [ -f "$builtin" ] && grep -qE "/($m|$alt)\.ko\$" "$builtin"; then
			continue	# built into the kernel
		fi
		if [ "$m" = crc32c_generic ]; then
			# fall back to the SSE4.2 one (needs -cpu with sse4.2)
			src=$(find "$mdir/kernel" -type f -name 'crc32c-intel.ko*' | head -n 1)
		fi
		[ -n "$src" ] || die "$pkg: module $m is neither a file nor built in"
	fi
	base=$(basename -- "$src")
	case $base in
	*.ko)     cp -- "$src" "$tmp/out/modules/$base" ;;
	*.ko.xz)  base=${base%.xz};  xz -dc -- "$src" >"$tmp/out/modules/$base" ;;
	*.ko.zst) base=${base%.zst}; zstd -qdc -- "$src" >"$tmp/out/modules/$base" ;;
	*.ko.gz)  base=${base%.gz};  gzip -dc -- "$src" >"$tmp/out/modules/$base" ;;
	esac
	is_elf "$tmp/out/modules/$base" || die "$src: not an ELF module"
	printf '%s\n' "$base" >>"$tmp/out/modules.load"
done

# Warn (only) about declared dependencies that are neither listed before a
# module nor built in.
if command -v modinfo >/dev/null 2>&1; then
	seen=
	while read -r f; do
		for d in $(modinfo -F depends "$tmp/out/modules/$f" 2>/dev/null | tr , ' '); do
			d=$(printf '%s' "$d" | tr - _)
			case " $seen " in *" $d "*) continue ;; esac
			[ -f "$builtin" ] && grep -qE "/($d|$(printf '%s' "$d" | tr _ -))\.ko\$" "$builtin" && continue
			say "warning: $f needs $d, which is not loaded before it"
		done
		seen="$seen $(printf '%s' "${f%.ko}" | tr - _)"
	done <"$tmp/out/modules.load"
fi

cp -- "$tmp/x/boot/config-$release" "$tmp/out/config" 2>/dev/null || true
printf '%s\n' "$release" >"$tmp/out/version"
rm -rf -- "$tmp/x" "$dl"
chmod 0755 "$tmp/out"

# --- into place --------------------------------------------------------------------
# rename(2) does not replace a non-empty directory, so a concurrent run that
# finished first wins and this one's copy is thrown away.
if ! mv -T -- "$tmp/out" "$dir" 2>/dev/null; then
	is_complete "$dir" || die "$dir: cannot move the kernel into place"
	say "$dir: completed by another run meanwhile"
fi
say "kernel $release in $dir ($(du -sh --apparent-size -- "$dir" | cut -f1))"
printf '%s\n' "$dir"
