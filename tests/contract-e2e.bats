#!/usr/bin/env bats
# Lambda's handler contract and healthy restores, in real (emulated) VMs.
# One snapshot per run; each test restores it.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	export W="$BATS_FILE_TMPDIR"
	export TMPDIR="$W/tmp"
	mkdir -p "$TMPDIR"
	(cd "$ROOT/tests/fixtures/contract" && zip -q -r "$W/contract.zip" .)
	fc-build -q --timeout 5 --memory 256 --name contract --env GREETING=hi \
		"$W/contract.zip" -o "$W/contract.img"
	fc-snap -q "$W/contract.img" -o "$W/contract.snap"
	date +%s >"$W/snapped"
}

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
}

invoke() {	# invoke [fc-invoke options] EVENT_JSON
	local ev=${*: -1}
	fc-invoke -q "${@:1:$#-1}" "$W/contract.snap" <<<"$ev"
}

field() {	# field JSON NAME
	node -e 'const v = JSON.parse(process.argv[1])[process.argv[2]]; console.log(typeof v === "object" ? JSON.stringify(v) : v)' "$1" "$2"
}

@test "build-time and Lambda's environment variables reach the handler" {
	run -0 invoke '{"case":"env"}'
	[ "$output" = '{"GREETING":"hi","name":"contract","memory":"256","root":"/var/task","handler":"index.handler"}' ]
}

@test "context carries the request id, name, memory and remaining time" {
	run -0 fc-invoke -q -r req-42 "$W/contract.snap" <<<'{"case":"context"}'
	[ "$(field "$output" id)" = req-42 ]
	[ "$(field "$output" name)" = contract ]
	[ "$(field "$output" memory)" = 256 ]
	rem=$(field "$output" remaining)
	[ "$rem" -gt 3000 ] && [ "$rem" -le 5000 ]
	[ "$(field "$output" waits)" = true ]
}

@test "a callback handler answers through the callback" {
	run -0 invoke '{"case":"callback"}'
	[ "$output" = '{"via":"callback"}' ]
}

@test "a thrown string gives errorType string" {
	run -1 --separate-stderr invoke '{"case":"throwString"}'
	[ "$output" = '{"errorType":"string","errorMessage":"boom","trace":[]}' ]
}

@test "a result JSON cannot encode is a structured error" {
	run -1 --separate-stderr invoke '{"case":"cycle"}'
	[ "$(field "$output" errorType)" = Runtime.JSONStringifyError ]
}

@test "the function's time-out gives a time-out error and exit code 4" {
	run -4 --separate-stderr invoke '{"case":"hang"}'
	[ "$(field "$output" errorType)" = Sandbox.Timedout ]
	[[ "$(field "$output" errorMessage)" == *"Task timed out after 5.00 seconds" ]]
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "fc-invoke --timeout overrides the function's time-out" {
	run -4 --separate-stderr invoke -t 1 '{"case":"sleep","ms":2000}'
	[[ "$(field "$output" errorMessage)" == *"Task timed out after 1.00 seconds" ]]
	run -0 invoke -t 3 '{"case":"sleep","ms":1500}'
	[ "$output" = null ]
}

@test "a promise that never settles, with nothing left to do, is Runtime.NodeJsExit" {
	run -1 --separate-stderr invoke '{"case":"settleNever"}'
	[ "$(field "$output" errorType)" = Runtime.NodeJsExit ]
}

@test "process.exit in the handler is Runtime.ExitError" {
	run -1 --separate-stderr invoke '{"case":"exit","code":3}'
	[ "$(field "$output" errorType)" = Runtime.ExitError ]
	[[ "$(field "$output" errorMessage)" == *"exit status 3" ]]
}

@test "a guest that reboots or crashes ends the call at once as a VMM failure" {
	for how in b c; do
		run -5 --separate-stderr invoke "{\"case\":\"reboot\",\"how\":\"$how\"}"
		[[ "$stderr" == "fc-invoke: "*"went away"* || "$stderr" == "fc-invoke: "*"exited"* ]] ||
			{ echo "$how: $stderr"; return 1; }
		[ -z "$output" ]
	done
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "a SIGKILLed fc-invoke takes its VM with it" {
	fc-invoke -q "$W/contract.snap" <<<'{"case":"sleep","ms":4000}' >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do pgrep -f "qemu-system.*$W" >/dev/null && break; sleep 0.05; done
	sleep 0.5
	kill -KILL "$pid"
	wait "$pid" || true
	for _ in $(seq 40); do pgrep -f "qemu-system.*$W" >/dev/null || break; sleep 0.05; done
	! pgrep -f "qemu-system.*$W"
	rm -rf "${TMPDIR:?}"/*	# what SIGKILL gave no chance to remove
}

@test "an exception after the response does not spoil the response" {
	run -0 invoke '{"case":"late"}'
	[ "$output" = '"early"' ]
}

@test "50 MB of logs neither block nor corrupt the response" {
	run -0 --separate-stderr invoke -t 120 '{"case":"flood","mb":50}'
	[ "$output" = '{"flooded":50}' ]
	[ "$(grep -c 'INFO	xxxx' <<<"$stderr")" -eq 51200 ]
}

@test "a response of exactly 6 MB passes; one byte more is refused" {
	run -0 bash -c 'fc-invoke -q "$W/contract.snap" <<<"{\"case\":\"big\",\"size\":6291556}" | wc -c'
	[ "$output" -eq 6291557 ]	# plus the newline
	run -1 --separate-stderr invoke '{"case":"big","size":6291557}'
	[ "$(field "$output" errorType)" = Function.ResponseSizeTooLarge ]
}

@test "big integers, unicode escapes, deep nesting and long strings pass exactly" {
	# Node 20's V8 shows JSON.parse the numbers' text; older Node rounds.
	node -e 'require("v8").setFlagsFromString("--harmony-json-parse-with-source");
		JSON.parse("1", (k, v, c) => process.exit(c && c.source === "1" ? 0 : 1))' ||
		skip "this Node.js ($(node --version)) cannot keep big integers' digits"
	ev='{"big":123456789012345678901234567890,"u":"caf\u00e9 \ud83d\ude00","s":"'
	ev+=$(head -c 100000 /dev/zero | tr '\0' 'y')'"}'
	run -0 invoke "{\"case\":\"echo\",\"value\":$ev}"
	want=$(node -e 'process.stdout.write(JSON.stringify(JSON.parse(process.argv[1])).replace("1.2345678901234568e+29","123456789012345678901234567890"))' "$ev")
	[ "$output" = "$want" ]
	deep=$(printf '[%.0s' {1..2000})$(printf ']%.0s' {1..2000})
	run -0 invoke "{\"case\":\"echo\",\"value\":$deep}"
	[ "$output" = "$deep" ]
}

@test "two restores of one snapshot get different random numbers and UUIDs" {
	run -0 invoke '{"case":"fresh"}'
	a=$output
	run -0 invoke '{"case":"fresh"}'
	b=$output
	for k in uuid random bytes; do
		[ "$(field "$a" $k)" != "$(field "$b" $k)" ] || { echo "same $k"; return 1; }
	done
}

@test "the REPORT line has duration, billed duration, memory and restore time" {
	run -0 --separate-stderr fc-invoke "$W/contract.snap" <<<'{"case":"echo","value":1}'
	[[ "$stderr" =~ REPORT\ RequestId:\ [0-9a-f-]{36}$'\t'Duration:\ [0-9.]+\ ms$'\t'Billed\ Duration:\ [0-9]+\ ms$'\t'Memory\ Size:\ 256\ MB$'\t'Max\ Memory\ Used:\ [0-9]+\ MB$'\t'Restore\ Duration:\ [0-9.]+\ ms ]]
}

# Last: it waits until the snapshot is two minutes old.
@test "a VM restored two minutes after its snapshot has the host's time" {
	left=$(($(cat "$W/snapped") + 120 - $(date +%s)))
	[ "$left" -le 0 ] || sleep "$left"
	run -0 invoke '{"case":"fresh"}'
	guest=$(field "$output" now)
	host=$(date +%s%3N)
	diff=$((host - guest))
	[ "${diff#-}" -lt 1000 ] || { echo "guest $guest host $host"; return 1; }
}
