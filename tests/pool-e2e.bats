#!/usr/bin/env bats
# fc-poold with real (emulated) VMs: warm VMs serving many clients, VMs
# that die, time out or idle, a full queue, and a clean stop. One snapshot
# (tests/fixtures/poolfn) is made for the whole file; each test runs its
# own pool on its own socket.

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
	S="$BATS_TEST_TMPDIR/pool.sock"
	LOG="$BATS_TEST_TMPDIR/poold.log"
	POOL=
}

# Stop the test's pool however the test ended; no VM may outlive it.
teardown() {
	if [ -n "$POOL" ] && kill -0 "$POOL" 2>/dev/null; then
		kill -TERM "$POOL"
		sleep 0.5
		kill -TERM "$POOL" 2>/dev/null || true
		wait "$POOL" || true
	fi
	for pid in $(pgrep -f "qemu-system.*$W"); do kill -KILL "$pid"; done
	[ -z "$(ls -A "$TMPDIR")" ] || { ls -la "$TMPDIR"; rm -rf "${TMPDIR:?}"/*; }
}

# Start a pool of poolfn on $S with the given options; wait until the
# status says it holds the warm VMs asked for (--min, 1 by default).
pool() {
	local min=1 a
	for a in "$@"; do [[ "$a" == --min=* ]] && min=${a#--min=}; done
	fc-poold -v -s "$S" "$@" "$W/poolfn.snap" 2>>"$LOG" &
	POOL=$!
	wait_for "\"warm\":$min,"
}

# Wait (up to 60 s) until the pool's status matches a pattern.
wait_for() {
	for _ in $(seq 300); do
		fc-poold -s "$S" --status 2>/dev/null | grep -q -- "$1" && return 0
		sleep 0.2
	done
	echo "status never matched $1:"
	fc-poold -s "$S" --status
	cat "$LOG"
	return 1
}

# A field of the first function in the status, e.g. served.
field() {
	fc-poold -s "$S" --status |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>
			console.log(JSON.parse(s).functions[0][process.argv[1]]))' "$1"
}

# The pid of the VM in the given state (busy, idle).
vm_pid() {
	fc-poold -s "$S" --status |
		node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{
			const v=JSON.parse(s).functions[0].vms.find(v=>v.state===process.argv[1]);
			console.log(v ? v.pid : "")})' "$1"
}

# Nothing of the pool left: no VMM, no run directory, no socket, no lock.
assert_gone() {
	run ! kill -0 "$POOL"
	[ -z "$(pgrep -f "qemu-system.*$W")" ]
	[ -z "$(ls -A "$TMPDIR")" ]
	[ ! -e "$S" ] && [ ! -e "$S.lock" ]
}

@test "50 invocations from 4 concurrent clients: every response is the right one" {
	pool --min=2 --max=4
	pids=()
	for k in 1 2 3 4; do
		(
			for i in $(seq $((k <= 2 ? 13 : 12))); do	# 50 in all
				out=$(fc-invoke -q "$S" <<<"{\"client\":$k,\"n\":$i}") || exit 1
				[[ "$out" == *"\"echo\":{\"client\":$k,\"n\":$i}}" ]] || exit 1
				echo ok
			done
		) >"$BATS_TEST_TMPDIR/client.$k" &
		pids+=($!)
	done
	wait "${pids[@]}"
	[ "$(cat "$BATS_TEST_TMPDIR"/client.* | grep -c ok)" = 50 ]
	[ "$(field served)" = 50 ]
	[ "$(field errors)" = 0 ]
	[ "$(pgrep -fc "qemu-system.*$W")" -le 4 ]
}

@test "a warm VM keeps its state across invocations; --fresh does not" {
	pool --min=1 --max=1
	run -0 --separate-stderr fc-invoke "$S" <<<'{"a":1}'
	[[ "$output" == '{"calls":1,'* ]]
	[[ "$stderr" == "REPORT RequestId: "*"Memory Size: 256 MB"* ]]
	run -0 fc-invoke -q "$S" <<<'{"a":2}'
	[ "$output" = '{"calls":2,"echo":{"a":2}}' ]
	kill -TERM "$POOL" && wait "$POOL"

	rm -f "$LOG"
	pool --min=1 --fresh
	for i in 1 2 3; do
		run -0 fc-invoke -q "$S" <<<'{"a":1}'
		[ "$output" = '{"calls":1,"echo":{"a":1}}' ]
	done
	[ "$(field served)" = 3 ]
}

@test "a VM killed during an invocation: the request fails, the next succeeds" {
	pool --min=1 --max=1
	fc-invoke -q -t 30 "$S" <<<'{"sleep_ms":20000}' >"$BATS_TEST_TMPDIR/out" \
		2>"$BATS_TEST_TMPDIR/err" &
	client=$!
	wait_for '"busy":1,'
	kill -KILL "$(vm_pid busy)"
	rc=0
	wait "$client" || rc=$?
	[ "$rc" = 5 ]
	[ ! -s "$BATS_TEST_TMPDIR/out" ]
	grep -q "^fc-invoke: poolfn: the VM serving the request died: qemu was killed by signal 9$" \
		"$BATS_TEST_TMPDIR/err"
	run -0 fc-invoke -q "$S" <<<'{"after":1}'
	[ "$output" = '{"calls":1,"echo":{"after":1}}' ]
	[ "$(field errors)" = 1 ]
	grep -q "VM 1 (pid [0-9]*) died during a request" "$LOG"
}

@test "a handler that times out: Sandbox.Timedout, exit 4, and a new VM" {
	pool --min=1 --max=1
	run -0 fc-invoke -q "$S" <<<'{"n":1}'
	run -4 --separate-stderr fc-invoke -t 1 "$S" <<<'{"sleep_ms":5000}'
	[[ "$output" == '{"errorType":"Sandbox.Timedout","errorMessage":"'*'Task timed out after 1.00 seconds"}' ]]
	[[ "$stderr" == "REPORT RequestId: "* ]]
	# The timed-out VM is never used again: a fresh one serves.
	run -0 fc-invoke -q "$S" <<<'{"n":2}'
	[ "$output" = '{"calls":1,"echo":{"n":2}}' ]
	grep -q "VM 1 timed out; replacing it" "$LOG"
	# A runtime that exits is replaced just the same.
	run -1 fc-invoke -q "$S" <<<'{"exit":3}'
	[[ "$output" == '{"errorType":"Runtime.ExitError",'* ]]
	run -0 fc-invoke -q "$S" <<<'{"n":3}'
	[ "$output" = '{"calls":1,"echo":{"n":3}}' ]
}

@test "a full queue answers 'throttled' at once, exit 6" {
	pool --min=1 --max=1 --queue=1
	pids=()
	for i in 1 2; do
		fc-invoke -q -t 30 "$S" <<<'{"sleep_ms":4000}' >/dev/null &
		pids+=($!)
	done
	wait_for '"queued":1,'
	start=$(date +%s%N)
	run -6 --separate-stderr fc-invoke -q "$S" <<<'{}'
	[ $(( ($(date +%s%N) - start) / 1000000 )) -lt 2000 ]
	[ "$stderr" = "fc-invoke: poolfn: throttled: 1 running and 1 waiting (at most 1 and 1)" ]
	[ -z "$output" ]
	wait "${pids[@]}"
	[ "$(field throttled)" = 1 ]
	[ "$(field served)" = 2 ]
}

@test "SIGTERM with invocations in flight: they finish, then nothing is left" {
	pool --min=2 --max=2
	pids=()
	for i in 1 2; do
		fc-invoke -q -t 30 "$S" <<<"{\"sleep_ms\":2000,\"i\":$i}" \
			>"$BATS_TEST_TMPDIR/out.$i" &
		pids+=($!)
	done
	wait_for '"busy":2,'
	kill -TERM "$POOL"
	wait "${pids[0]}"
	wait "${pids[1]}"
	grep -q '"i":1}}$' "$BATS_TEST_TMPDIR/out.1"
	grep -q '"i":2}}$' "$BATS_TEST_TMPDIR/out.2"
	wait "$POOL"
	assert_gone
	grep -q "stopping: finishing 2 invocations in flight" "$LOG"
}

@test "idle VMs beyond the minimum stop; --min 0 scales to zero" {
	pool --min=0 --max=2 --idle=1
	[ "$(field warm)" = 0 ]
	[ -z "$(pgrep -f "qemu-system.*$W")" ]
	# A request restores a VM on demand: a cold start, so REPORT has the restore.
	run -0 --separate-stderr fc-invoke "$S" <<<'{"n":1}'
	[ "$output" = '{"calls":1,"echo":{"n":1}}' ]
	[[ "$stderr" == *"Restore Duration: "* ]]
	wait_for '"warm":0,"busy":0,"starting":0,'
	[ -z "$(pgrep -f "qemu-system.*$W")" ]
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "two functions on one socket: each by name; none named is an error" {
	fc-poold -s "$S" --min 1 --name one "$W/poolfn.snap" --min 0 --name two \
		"$W/poolfn.snap" 2>>"$LOG" &
	POOL=$!
	wait_for '"name":"one".*"warm":1,'
	run -0 fc-invoke -q -f one "$S" <<<'{"f":1}'
	[ "$output" = '{"calls":1,"echo":{"f":1}}' ]
	run -0 fc-invoke -q --function two "$S" <<<'{"f":2}'
	[ "$output" = '{"calls":1,"echo":{"f":2}}' ]
	run -3 fc-invoke -q "$S" <<<'{}'
	[ "$output" = "fc-invoke: name a function: this pool serves one, two" ]
	run -3 fc-invoke -q -f three "$S" <<<'{}'
	[ "$output" = "fc-invoke: no function named 'three' here (serving one, two)" ]
}

@test "status: SIGHUP logs it, --status prints it as JSON" {
	pool --min=1
	run -0 fc-invoke -q "$S" <<<'{}'
	kill -HUP "$POOL"
	for _ in $(seq 50); do grep -q "poolfn: 1 warm" "$LOG" && break; sleep 0.1; done
	grep -q "^fc-poold: poolfn: 1 warm, 0 busy, 0 starting, 0 waiting; served 1, 0 errors, 0 throttled; restore p50 [0-9]* ms" "$LOG"
	run -0 fc-poold -s "$S" --status
	node -e '
		const s = JSON.parse(process.argv[1]), f = s.functions[0];
		for (const k of ["warm", "busy", "queued", "served", "errors"])
			if (typeof f[k] !== "number") throw new Error(k);
		for (const k of ["restore_ms", "invoke_ms"])
			if (!(f[k].p50 > 0 && f[k].p99 >= f[k].p50)) throw new Error(k);
		if (f.vms.length !== 1 || !(f.vms[0].private_kb > 0)) throw new Error("vms");
	' "$output"
}

@test "VMs a SIGKILLed daemon left running are stopped by the next one" {
	pool --min=1
	orphan=$(vm_pid idle)
	[ -n "$orphan" ]
	# Another daemon leaves a live daemon's VMs alone.
	fc-poold -s "$S.2" --min 0 "$W/poolfn.snap" 2>>"$LOG" &
	other=$!
	for _ in $(seq 100); do fc-poold -s "$S.2" --status >/dev/null 2>&1 && break; sleep 0.05; done
	kill -0 "$orphan"
	kill -TERM "$other"
	wait "$other"
	kill -KILL "$POOL"
	wait "$POOL" || true
	kill -0 "$orphan"	# nothing could stop it: it is running on its own
	pool --min=1
	for _ in $(seq 40); do kill -0 "$orphan" 2>/dev/null || break; sleep 0.05; done
	run ! kill -0 "$orphan"
	grep -q "stopped VM pid $orphan, left running by a killed fc-poold" "$LOG"
	[ "$(ls "$TMPDIR" | wc -l)" = 1 ]	# the new pool's one VM
}
