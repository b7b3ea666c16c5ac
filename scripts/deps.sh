#!/bin/sh
# deps.sh - install the Debian packages fc-tools needs, only those missing.
# Usage: scripts/deps.sh   (as root, or it says what to run)
set -eu

missing=""
need() {	# need PACKAGE TEST...: add PACKAGE when the test fails
	pkg=$1; shift
	"$@" >/dev/null 2>&1 || missing="$missing $pkg"
}
has() { command -v "$1"; }
pc() { pkg-config --exists "$1"; }

need gcc has cc
need make has make
need pkg-config has pkg-config
need libarchive-dev pc libarchive
need libcurl4-openssl-dev pc libcurl
need libssl-dev pc libcrypto
need libjsmn-dev test -f /usr/include/jsmn.h
need libc6-dev test -f /usr/lib/x86_64-linux-gnu/libc.a
need qemu-system-x86 has qemu-system-x86_64
need e2fsprogs has mke2fs
need e2fsprogs has debugfs
need nodejs has node
need bats has bats
need mandoc has mandoc
need zip has zip
need xz-utils has xz
need python3 has python3
need bc has bc
need python3-yaml python3 -c 'import yaml'
need ca-certificates test -d /etc/ssl/certs

[ -z "$missing" ] && exit 0
missing=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
if [ "$(id -u)" != 0 ]; then
	echo "deps: missing packages: $missing" >&2
	echo "deps: run 'make deps' as root (or: sudo apt-get install $missing)" >&2
	exit 1
fi
echo "deps: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
