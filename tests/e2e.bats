#!/usr/bin/env bats
# End to end: zip -> fc-build -> fc-snap -> fc-invoke in real (emulated) VMs.
# Boots twice per run (examples/hello and a test function); every test
# after that restores the snapshots.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	export W="$BATS_FILE_TMPDIR"
	# Runs leave their run directories here, so a leak is visible.
	export TMPDIR="$W/tmp"
	mkdir -p "$TMPDIR"
	(cd "$ROOT/examples/hello" && zip -q -r "$W/hello.zip" .)
	(cd "$ROOT/tests/fixtures/testfn" && zip -q -r "$W/testfn.zip" .)
	fc-build -q "$W/hello.zip" -o "$W/hello.img"
	fc-snap -q "$W/hello.img" -o "$W/hello.snap"
	fc-build -q "$W/testfn.zip" -o "$W/testfn.img"
	fc-snap -q "$W/testfn.img" -o "$W/testfn.snap"
}

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
}

# No run directory, no QEMU left behind by the previous command.
assert_clean() {
	[ -z "$(ls -A "$TMPDIR")" ] || { ls -la "$TMPDIR"; return 1; }
	! pgrep -f "qemu-system.*$W" >/dev/null
}

@test "hello: the example answers with its greeting" {
	run -0 --separate-stderr sh -c 'echo "{\"name\":\"Ada\"}" | fc-invoke "$W/hello.snap"'
	[ "$output" = "{\"greeting\":\"Hello, Ada\",\"node\":\"$(node --version)\"}" ]
	[[ "$stderr" == *"REPORT RequestId: "*"Restore Duration: "* ]]
	assert_clean
}

@test "hello: a second restore of the same snapshot answers too" {
	run -0 --separate-stderr fc-invoke -q "$W/hello.snap" <<<'{"name":"Grace"}'
	[ "$output" = "{\"greeting\":\"Hello, Grace\",\"node\":\"$(node --version)\"}" ]
	[ -z "$stderr" ]
	assert_clean
}

@test "each restore is a fresh VM: module state does not carry over" {
	run -0 fc-invoke -q "$W/testfn.snap" <<<'{"__self":1}'
	[[ "$output" == *'"calls":1,'* ]]
	first=$output
	run -0 fc-invoke -q "$W/testfn.snap" <<<'{"__self":1}'
	[[ "$output" == *'"calls":1,'* ]]
	[ "$output" != "$first" ]
}

@test "the event comes from a file as well as stdin" {
	echo '{"name":"File"}' >"$W/ev.json"
	run -0 fc-invoke -q "$W/hello.snap" "$W/ev.json"
	[[ "$output" == '{"greeting":"Hello, File",'* ]]
}

@test "a thrown error gives Lambda's shape and the function-error exit code" {
	run -1 --separate-stderr fc-invoke -q "$W/testfn.snap" <<<'{"__throw":"bad thing"}'
	node -e '
		const r = JSON.parse(process.argv[1]);
		if (r.errorType !== "TypeError") throw new Error("errorType " + r.errorType);
		if (r.errorMessage !== "bad thing") throw new Error("errorMessage");
		if (!Array.isArray(r.trace) || !/^TypeError: bad thing/.test(r.trace[0]))
			throw new Error("trace " + JSON.stringify(r.trace));
	' "$output"
	assert_clean
}

@test "function logs go to stderr, the response alone to stdout" {
	run -0 --separate-stderr fc-invoke -q "$W/testfn.snap" <<<'{"__log":"xyzzy"}'
	[ "$output" = '{"logged":"xyzzy"}' ]
	[[ "$stderr" == *"log line: xyzzy"* ]]
	[[ "$stderr" == *"error line: xyzzy"* ]]
}

@test "sample events pass through an echo handler unchanged" {
	for ev in "$ROOT"/tests/fixtures/events/*.json; do
		want=$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(require("fs").readFileSync(process.argv[1]))))' "$ev")
		run -0 fc-invoke -q "$W/testfn.snap" "$ev"
		[ "$output" = "$want" ] || { echo "differs: $ev"; echo "$output"; return 1; }
	done
	assert_clean
}

@test "invalid event JSON is refused before any VM starts" {
	run -3 --separate-stderr fc-invoke "$W/hello.snap" <<<'{"name":'
	[[ "$stderr" == "fc-invoke: stdin: invalid JSON at byte "* ]]
	[ -z "$output" ]
	assert_clean
}

@test "the guest clock is the host's, not the snapshot's" {
	run -0 fc-invoke -q "$W/testfn.snap" <<<'{"__self":1}'
	guest=$(node -e 'console.log(JSON.parse(process.argv[1]).now)' "$output")
	host=$(date +%s%3N)
	[ $((host - guest)) -lt 5000 ] && [ $((guest - host)) -lt 1000 ]
}

@test "a damaged snapshot is bad input naming the file, never a hang" {
	d="$W/damaged.snap"
	rm -rf "$d" && cp -r --sparse=always "$W/hello.snap" "$d"
	printf 'x' | dd of="$d/state" bs=1 seek=100 conv=notrunc status=none
	run -3 fc-invoke "$d" <<<'{}'
	[ "$output" = "fc-invoke: $d/state: checksum does not match the manifest (the snapshot is damaged)" ]
	cp "$W/hello.snap/state" "$d/state"
	truncate -s 1M "$d/mem"
	run -3 fc-invoke "$d" <<<'{}'
	[ "$output" = "fc-invoke: $d/mem: not 256 MiB of guest memory (the snapshot is damaged)" ]
	[ "$(stat -c %s "$d/mem")" = 1048576 ]
	rm -rf "$d" && cp -r --sparse=always "$W/hello.snap" "$d"
	sed -i 's|"state": "state"|"state": "../../etc/hostname"|' "$d/manifest.json"
	run -3 fc-invoke "$d" <<<'{}'
	[[ "$output" == *"file names must be plain names inside the snapshot" ]]
	rm -rf "$d"
	assert_clean
}
