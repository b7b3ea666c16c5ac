#!/usr/bin/env bats
# fc-restore and VM handles: a VM restored once and invoked again and
# again, its handle as text or a file, stopping it, and handles that are
# malformed or dead. One snapshot (tests/fixtures/poolfn) for the file.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	export W="$BATS_FILE_TMPDIR"
	# VMs keep their run directories here, so a leak is visible.
	export TMPDIR="$W/tmp"
	mkdir -p "$TMPDIR"
	(cd "$ROOT/tests/fixtures/poolfn" && zip -q -r "$W/poolfn.zip" .)
	fc-build -q "$W/poolfn.zip" -o "$W/poolfn.img"
	fc-snap -q "$W/poolfn.img" -o "$W/poolfn.snap"
}

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	cd "$BATS_TEST_TMPDIR"
	H=
}

# However a test ends, its VM goes.
teardown() {
	[ -z "$H" ] || fc-restore -q --kill "$H" || true
	for pid in $(pgrep -f "qemu-system.*$W"); do kill -KILL "$pid"; done
	[ -z "$(ls -A "$TMPDIR")" ] || { ls -la "$TMPDIR"; rm -rf "${TMPDIR:?}"/*; }
}

pid_of() {
	sed 's/.*"pid":\([0-9]*\).*/\1/' <<<"$1"
}

assert_clean() {
	[ -z "$(pgrep -f "qemu-system.*$W")" ]
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "--help prints usage on stdout and exits 0" {
	run -0 --separate-stderr fc-restore --help
	[[ "$output" == "usage: fc-restore "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run -0 fc-restore --version
	[[ "$output" =~ ^fc-restore\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "usage errors: no snapshot, too many, --kill with a snapshot or --output" {
	run -2 fc-restore
	[[ "$output" == "fc-restore: no snapshot given"* ]]
	run -2 fc-restore a b
	[[ "$output" == "fc-restore: too many arguments"* ]]
	run -2 fc-restore --kill h a
	[[ "$output" == "fc-restore: too many arguments"* ]]
	run -2 fc-restore --kill h -o f
	[[ "$output" == "fc-restore: --output makes no sense with --kill"* ]]
}

@test "a missing or incomplete snapshot is bad input, and leaves nothing" {
	run -3 fc-restore nothere
	[ "$output" = "fc-restore: nothere/manifest.json: No such file or directory" ]
	mkdir bad.snap
	echo '{"format":1,"kind":"snapshot","rootfs":"r"}' >bad.snap/manifest.json
	run -3 fc-restore bad.snap
	[ "$output" = "fc-restore: bad.snap/manifest.json: incomplete snapshot manifest" ]
	assert_clean
}

@test "malformed handles are bad input, to fc-invoke and to --kill" {
	run -3 fc-invoke '{"handle":1}' <<<'{}'
	[ "$output" = 'fc-invoke: handle: not a VM handle (no "vmm")' ]
	run -3 fc-invoke '{"handle":1,' <<<'{}'
	[[ "$output" == "fc-invoke: handle: invalid JSON at byte "* ]]
	echo '{"handle":1,"vmm":"qemu","pid":123,"channel":"/etc/x","rundir":"/tmp/fc-restore.x","snapshot":"/s"}' >h.json
	run -3 fc-invoke h.json <<<'{}'
	[ "$output" = "fc-invoke: h.json: bad channel path in handle" ]
	run -3 fc-restore --kill h.json
	[ "$output" = "fc-restore: h.json: bad channel path in handle" ]
	echo 'not a handle' >junk
	run -3 fc-invoke junk <<<'{}'
	[ "$output" = "fc-invoke: junk: not a snapshot directory, a VM handle or a pool socket" ]
}

@test "--kill never stops a process that is not the handle's VM" {
	sleep 60 &
	other=$!
	mkdir "$TMPDIR/fc-restore.fake"
	h="{\"handle\":1,\"vmm\":\"qemu\",\"pid\":$other,\"channel\":\"$TMPDIR/fc-restore.fake/agent.sock\",\"rundir\":\"$TMPDIR/fc-restore.fake\",\"snapshot\":\"/s\"}"
	run -5 fc-invoke "$h" <<<'{}'
	[ "$output" = "fc-invoke: the VM (pid $other) is gone" ]
	# Nor removes a directory that is not a VM's run directory.
	mkdir -p "$TMPDIR/fc-restore.fake/sub" && echo precious >"$TMPDIR/fc-restore.fake/sub/data"
	run -3 fc-restore --kill "$h"
	[ "$output" = "fc-restore: $TMPDIR/fc-restore.fake: not a run directory of fc-restore" ]
	kill -0 "$other"
	[ "$(cat "$TMPDIR/fc-restore.fake/sub/data")" = precious ]
	rm -rf "$TMPDIR/fc-restore.fake"
	kill "$other"
}

@test "a client killed mid-call: the next client on the handle gets its own answer" {
	H=$(fc-restore -q "$W/poolfn.snap")
	fc-invoke -q "$H" <<<'{"n":"A","sleep_ms":2000}' >/dev/null 2>&1 &
	a=$!
	sleep 0.7
	kill -KILL "$a"
	wait "$a" || true
	run -0 fc-invoke -q "$H" <<<'{"n":"B"}'
	[ "$output" = '{"calls":2,"echo":{"n":"B"}}' ]
	run -0 fc-invoke -q "$H" <<<'{"n":"C"}'
	[ "$output" = '{"calls":3,"echo":{"n":"C"}}' ]
}

@test "a handle serves invocation after invocation: module state persists" {
	H=$(fc-restore "$W/poolfn.snap")
	node -e '
		const h = JSON.parse(process.argv[1]);
		for (const k of ["vmm", "channel", "rundir", "snapshot", "started"])
			if (typeof h[k] !== "string") throw new Error(k);
		if (!(h.pid > 1) || h.function !== "poolfn") throw new Error("pid");
	' "$H"
	run -0 --separate-stderr fc-invoke "$H" <<<'{"n":1}'
	[ "$output" = '{"calls":1,"echo":{"n":1}}' ]
	[[ "$stderr" == "REPORT RequestId: "* && "$stderr" != *"Restore Duration"* ]]
	run -0 fc-invoke -q "$H" <<<'{"n":2}'
	[ "$output" = '{"calls":2,"echo":{"n":2}}' ]
	run -0 fc-invoke -q "$H" <<<'{"n":3}'
	[ "$output" = '{"calls":3,"echo":{"n":3}}' ]
	# The VM is detached: a session of its own, not the caller's.
	[ "$(ps -o sid= -p "$(pid_of "$H")")" != "$(ps -o sid= -p $$)" ]
	run -0 fc-restore --kill "$H"
	H=
	assert_clean
}

@test "a handle in a file (--output); concurrent clients take turns" {
	run -0 fc-restore -o h.json "$W/poolfn.snap"
	[ -z "$output" ]
	H=$(cat h.json)
	pids=()
	for i in 1 2 3; do
		fc-invoke -q h.json <<<"{\"c\":$i}" >"out.$i" &
		pids+=($!)
	done
	wait "${pids[@]}"
	cat out.* | grep -c '"calls"' | grep -qx 3
	[ "$(cat out.* | sed 's/{"calls":\([0-9]\).*/\1/' | sort | tr -d '\n')" = 123 ]
	run -0 fc-restore --kill h.json
	H=
	assert_clean
}

@test "--kill stops the VM; its handle is then dead: exit 5" {
	H=$(fc-restore "$W/poolfn.snap")
	pid=$(pid_of "$H")
	run -0 fc-restore --kill "$H"
	[ -z "$output" ]
	assert_clean
	run -5 fc-invoke "$H" <<<'{}'
	[ "$output" = "fc-invoke: the VM (pid $pid) is gone" ]
	run -0 fc-restore --kill "$H"
	[ "$output" = "fc-restore: the VM (pid $pid) was already gone" ]
	H=
}

@test "a VM killed from outside during an invocation: exit 5" {
	H=$(fc-restore "$W/poolfn.snap")
	fc-invoke -q -t 30 "$H" <<<'{"sleep_ms":20000}' >/dev/null 2>err &
	client=$!
	sleep 1
	kill -KILL "$(pid_of "$H")"
	rc=0
	wait "$client" || rc=$?
	[ "$rc" = 5 ]
	grep -q "^fc-invoke: the VM (pid [0-9]*) exited$" err
	run -0 fc-restore -q --kill "$H"
	H=
	assert_clean
}

@test "a time-out stops the runtime for good: kill the handle" {
	H=$(fc-restore "$W/poolfn.snap")
	run -4 fc-invoke -q -t 1 "$H" <<<'{"sleep_ms":5000}'
	[[ "$output" == '{"errorType":"Sandbox.Timedout",'* ]]
	run -4 fc-invoke -q "$H" <<<'{}'
	[[ "$output" == '{"errorType":"Sandbox.Timedout",'* ]]
}

@test "a handle that cannot be written out stops its VM: exit 5" {
	run -5 sh -c 'fc-restore "$0" >/dev/full' "$W/poolfn.snap"
	[ "$output" = "fc-restore: standard output: No space left on device" ]
	assert_clean
}
