#!/usr/bin/env bats
# fc-snap's command line: options, and failures that need no VM (or a
# VM that cannot boot), with their exit codes and one-line messages.

bats_require_minimum_version 1.5.0

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	cd "$BATS_TEST_TMPDIR"
}

# A well-formed image manifest around a root filesystem that is junk.
fake_image() {
	mkdir -p "$1"
	head -c 1M /dev/zero >"$1/rootfs.ext4"
	cat >"$1/manifest.json" <<-'EOF2'
	{"format":1,"kind":"image","function":"f","runtime":"nodejs",
	 "handler":"index.handler","timeout":3,"memory_mib":128,"rootfs":"rootfs.ext4"}
	EOF2
}

@test "--help prints usage on stdout and exits 0" {
	run -0 --separate-stderr fc-snap --help
	[[ "$output" == "usage: fc-snap "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run -0 fc-snap --version
	[[ "$output" =~ ^fc-snap\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "an unknown option is a usage error" {
	run -2 fc-snap --bogus img -o out
	[[ "$output" == *"unrecognized option '--bogus'"* ]]
}

@test "no image, no output, too many arguments: usage errors" {
	run -2 fc-snap -o out
	[[ "$output" == "fc-snap: no image given"* ]]
	run -2 fc-snap img
	[[ "$output" == "fc-snap: no output given (-o DIR)"* ]]
	run -2 fc-snap -o out a b
	[[ "$output" == "fc-snap: too many arguments"* ]]
}

@test "bad numbers are usage errors" {
	run -2 fc-snap -t 0 -o out img
	[ "$output" = "fc-snap: invalid value for --boot-timeout: '0'" ]
	run -2 fc-snap --vcpus=x -o out img
	[[ "$output" == *"invalid value"*"'x'" ]]
}

@test "a missing image is bad input, named" {
	run -3 fc-snap nothere.img -o out
	[ "$output" = "fc-snap: nothere.img/manifest.json: No such file or directory" ]
	[ ! -e out ]
}

@test "a malformed manifest is bad input" {
	mkdir bad.img
	echo '{"format":1,' >bad.img/manifest.json
	run -3 fc-snap bad.img -o out
	[[ "$output" == "fc-snap: bad.img/manifest.json: invalid JSON"* ]]
	echo '{"format":1,"kind":"snapshot","rootfs":"r"}' >bad.img/manifest.json
	run -3 fc-snap bad.img -o out
	[ "$output" = "fc-snap: bad.img: not an image (its manifest says snapshot)" ]
}

@test "an existing output is refused without --force" {
	fake_image img
	mkdir out
	run -2 fc-snap img -o out
	[ "$output" = "fc-snap: out: already exists (use --force to replace it)" ]
}

@test "--force replaces only a snapshot or an empty directory" {
	fake_image img
	mkdir -p victim/sub && echo precious >victim/sub/data
	run -2 fc-snap --force img -o victim
	[ "$output" = "fc-snap: victim: not an image (no manifest.json); not replacing it" ] ||
	[[ "$output" == "fc-snap: victim: not a"*"not replacing it" ]]
	[ "$(cat victim/sub/data)" = precious ]
	echo precious >file
	run -2 fc-snap --force img -o file
	[ "$(cat file)" = precious ]
	for bad in . .. / ./ sub/.. ''; do
		run -2 fc-snap --force img -o "$bad"
		[[ "$output" == "fc-snap: -o "*"not a directory to create" ]] || { echo "$bad: $output"; return 1; }
	done
	[ "$(cat victim/sub/data)" = precious ]
}

@test "an image manifest that lies is bad input" {
	fake_image img
	sed -i 's/"memory_mib":128/"memory_mib":200000/' img/manifest.json
	run -3 fc-snap img -o out
	[ "$output" = "fc-snap: img/manifest.json: memory_mib 200000 is out of range (128 to 10240)" ]
	fake_image img2
	sed -i 's|"rootfs":"rootfs.ext4"|"rootfs":"../../etc/hostname"|' img2/manifest.json
	run -3 fc-snap img2 -o out
	[[ "$output" == "fc-snap: img2/manifest.json: rootfs '../../etc/hostname' is not a file name" ]]
	fake_image img3
	rm img3/rootfs.ext4 && mkfifo img3/rootfs.ext4
	run -3 timeout 10 fc-snap img3 -o out
	[ "$output" = "fc-snap: img3/rootfs.ext4: not a regular file" ]
	[ ! -e out ]
}

@test "a missing kernel says how to get one" {
	fake_image img
	run -5 fc-snap --kernel "$BATS_TEST_TMPDIR/nokernel" img -o out
	[[ "$output" == *"nokernel/vmlinux"*"make guest"* ]]
	[ ! -e out ]
	[ -z "$(ls -d out.tmp-* 2>/dev/null)" ]
}

@test "an image that cannot boot fails, names its console log, leaves nothing running" {
	fake_image img
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir "$TMPDIR"
	run -5 fc-snap -t 60 img -o out
	[[ "$output" == "fc-snap: img: "*"(guest console: out.console.log)" ]]
	[ -s out.console.log ]
	[ ! -e out ]
	[ -z "$(ls -d out.tmp-* 2>/dev/null)" ]
	[ -z "$(ls -A "$TMPDIR")" ]
	! pgrep -f "qemu-system.*$BATS_TEST_TMPDIR" >/dev/null
}

@test "a module that does not export the handler fails with Runtime.HandlerNotFound" {
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR" fn
	echo 'exports.other = async () => 1;' >fn/index.js
	(cd fn && zip -q ../fn.zip index.js)
	fc-build -q fn.zip -o fn.img
	run -1 fc-snap fn.img -o fn.snap
	[[ "$output" == *"fc-snap: fn.img: Runtime.HandlerNotFound: index.handler is undefined or not exported"* ]]
	[ ! -e fn.snap ] && [ ! -e fn.snap.console.log ]
	[ -z "$(ls -A "$TMPDIR")" ]
}
