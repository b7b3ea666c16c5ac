#!/usr/bin/env bats
# fc-invoke's command line and the inputs it refuses before any VM starts.

bats_require_minimum_version 1.5.0

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	cd "$BATS_TEST_TMPDIR"
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR" snap
	cat >snap/manifest.json <<-'EOF2'
	{"format":1,"kind":"snapshot","rootfs":"rootfs.ext4","vmm":"qemu",
	 "memory_mib":128,"vcpus":1,"protocol":1,"kernel":"vmlinux",
	 "initrd":"initrd","cmdline":"x","state":"state","memory_file":"mem"}
	EOF2
}

@test "--help prints usage on stdout and exits 0" {
	run -0 --separate-stderr fc-invoke --help
	[[ "$output" == "usage: fc-invoke "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run -0 fc-invoke -V
	[[ "$output" =~ ^fc-invoke\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "usage errors: no target, unknown option, bad time-out, extra arguments" {
	run -2 fc-invoke
	[[ "$output" == "fc-invoke: no target given"* ]]
	run -2 fc-invoke -x snap
	[[ "$output" == *"invalid option -- 'x'"* ]]
	run -2 fc-invoke -t 0 snap
	[ "$output" = "fc-invoke: invalid time-out '0' (1 to 900 seconds)" ]
	run -2 fc-invoke --timeout=901 snap
	run -2 fc-invoke snap a b
	[[ "$output" == "fc-invoke: too many arguments"* ]]
}

@test "a missing target is bad input" {
	run -3 fc-invoke nothere </dev/null
	[ "$output" = "fc-invoke: nothere: No such file or directory" ]
}

@test "an image is not a snapshot" {
	mkdir img
	echo '{"format":1,"kind":"image","rootfs":"r"}' >img/manifest.json
	run -3 fc-invoke img <<<'{}'
	[[ "$output" == "fc-invoke: img: not a snapshot (its manifest says image)" ]]
}

@test "invalid JSON events are refused with the byte offset" {
	for ev in '{' '{"a":1,}' 'nul' '"\x"' '[1 2]' '{"a":01}' '{} {}'; do
		run -3 fc-invoke snap <<<"$ev"
		[[ "$output" == "fc-invoke: stdin: invalid JSON at byte "* ]] ||
			{ echo "event: $ev -> $output"; return 1; }
	done
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "an empty event is refused" {
	run -3 fc-invoke snap </dev/null
	[[ "$output" == "fc-invoke: stdin: "*"empty"* ]]
}

@test "an event file that is missing is named" {
	run -3 fc-invoke snap nothere.json
	[ "$output" = "fc-invoke: nothere.json: No such file or directory" ]
}

@test "events over 6 MB are refused; exactly 6 MB is read" {
	node -e 'const n=6291556; process.stdout.write("\"" + "a".repeat(n-2) + "\"")' >big.json
	[ "$(stat -c %s big.json)" = 6291556 ]
	# Exactly at the limit the event is accepted, and what fails next is
	# the snapshot's missing memory file, checked after the event.
	run -3 fc-invoke snap big.json
	[ "$output" = "fc-invoke: snap/mem: No such file or directory" ]
	echo -n ' ' >>big.json
	run -3 fc-invoke snap big.json
	[ "$output" = "fc-invoke: big.json: event is larger than 6291556 bytes" ]
}

@test "an incomplete snapshot manifest is bad input" {
	echo '{"format":1,"kind":"snapshot","rootfs":"r"}' >snap/manifest.json
	run -3 fc-invoke snap <<<'{}'
	[[ "$output" == *"incomplete snapshot manifest" ]]
}

@test "a snapshot of another protocol version is refused" {
	sed -i 's/"protocol":1/"protocol":2/' snap/manifest.json
	run -3 fc-invoke snap <<<'{}'
	[[ "$output" == *"agent protocol 2"* ]]
}
