#!/usr/bin/env bats
# fc-poold's command line and its socket: permissions, one daemon per
# socket, stale sockets, status, clean stops. No VM starts here: the pools
# keep no warm VM (--min 0) and get no request, so a snapshot manifest is
# all they read.

bats_require_minimum_version 1.5.0

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$PATH"
	cd "$BATS_TEST_TMPDIR"
	export TMPDIR="$BATS_TEST_TMPDIR/tmp"
	mkdir -p "$TMPDIR" fn.snap
	cat >fn.snap/manifest.json <<-'EOF2'
	{"format":1,"kind":"snapshot","function":"fn","rootfs":"rootfs.ext4",
	 "vmm":"qemu","memory_mib":128,"vcpus":1,"protocol":1,"timeout":3,
	 "state":"state","memory_file":"mem"}
	EOF2
	# The files a restore checks before it starts anything.
	truncate -s 128M fn.snap/mem
	touch fn.snap/rootfs.ext4 fn.snap/state
	POOL=
}

teardown() {
	if [ -n "$POOL" ] && kill -0 "$POOL" 2>/dev/null; then
		kill -TERM "$POOL"
		wait "$POOL" || true
	fi
}

# Start a pool with no warm VM on socket $1 (more options after it).
start() {
	local sock=$1
	shift
	fc-poold -s "$sock" --min 0 "$@" fn.snap 2>>poold.log &
	POOL=$!
	for _ in $(seq 100); do
		fc-poold -s "$sock" --status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	cat poold.log
	return 1
}

@test "--help prints usage on stdout and exits 0" {
	run -0 --separate-stderr fc-poold --help
	[[ "$output" == "usage: fc-poold "* ]]
	[ -z "$stderr" ]
}

@test "--version prints the version" {
	run -0 fc-poold -V
	[[ "$output" =~ ^fc-poold\ [0-9]+\.[0-9]+\.[0-9]+$ ]]
}

@test "usage errors: no socket, no snapshot, bad numbers, min above max" {
	run -2 fc-poold fn.snap
	[[ "$output" == "fc-poold: no socket given (-s PATH)"* ]]
	run -2 fc-poold -s p.sock
	[[ "$output" == "fc-poold: no snapshot given"* ]]
	run -2 fc-poold -s p.sock --max 0 fn.snap
	[ "$output" = "fc-poold: invalid value for --max: '0' (1 to 256)" ]
	run -2 fc-poold -s p.sock --min 3 --max 2 fn.snap
	[ "$output" = "fc-poold: fn.snap: --min 3 is more than --max 2" ]
	run -2 fc-poold -s p.sock --socket-mode 999 fn.snap
	[ "$output" = "fc-poold: invalid socket mode '999' (octal)" ]
	run -2 fc-poold -s p.sock --name 'a b' fn.snap
	[[ "$output" == "fc-poold: invalid function name 'a b'"* ]]
	run -2 fc-poold -s p.sock fn.snap --name x
	[[ "$output" == "fc-poold: --name must come before its snapshot"* ]]
	run -2 fc-poold -s p.sock --status fn.snap
	[[ "$output" == "fc-poold: --status takes no snapshot"* ]]
	[ ! -e p.sock ]
}

@test "a bad snapshot is refused before the socket exists" {
	run -3 fc-poold -s p.sock nothere
	[ "$output" = "fc-poold: nothere/manifest.json: No such file or directory" ]
	sed -i 's/"protocol":1/"protocol":2/' fn.snap/manifest.json
	run -3 fc-poold -s p.sock fn.snap
	[[ "$output" == "fc-poold: fn.snap: agent protocol 2"* ]]
	[ ! -e p.sock ] && [ ! -e p.sock.lock ]
}

@test "two snapshots of the same function need --name" {
	cp -r fn.snap fn2.snap
	run -2 fc-poold -s p.sock fn.snap fn2.snap
	[ "$output" = "fc-poold: fn.snap and fn2.snap are both function 'fn': name one with --name" ]
}

@test "the socket is its owner's only; --socket-mode sets it" {
	start p.sock
	[ "$(stat -c %a p.sock)" = 600 ]
	kill -TERM "$POOL" && wait "$POOL"
	start q.sock --socket-mode 0660
	[ "$(stat -c %a q.sock)" = 660 ]
}

@test "a second daemon on the same socket refuses to start" {
	start p.sock
	run -3 fc-poold -s p.sock --min 0 fn.snap
	[ "$output" = "fc-poold: p.sock: another fc-poold (pid $POOL) serves it" ]
	# The first one is untouched.
	run -0 fc-poold -s p.sock --status
	[[ "$output" == '{"server":"fc-poold",'* ]]
}

@test "a stale socket from a killed daemon is reclaimed" {
	start p.sock
	kill -KILL "$POOL"
	wait "$POOL" || true
	[ -S p.sock ] && [ -e p.sock.lock ]
	run -5 fc-poold -s p.sock --status
	[ "$output" = "fc-poold: p.sock: no fc-poold is listening" ]
	start p.sock
	grep -q "^fc-poold: removed the stale socket p.sock$" poold.log
	run -0 fc-poold -s p.sock --status
}

@test "a path that is not a socket is left alone" {
	echo precious >p.sock
	run -3 fc-poold -s p.sock --min 0 fn.snap
	[ "$output" = "fc-poold: p.sock: exists and is not a socket" ]
	[ "$(cat p.sock)" = precious ]
}

@test "--status prints one JSON line with each function's figures" {
	start p.sock --max 3 --queue 5
	run -0 --separate-stderr fc-poold -s p.sock --status
	[ -z "$stderr" ]
	node -e '
		const s = JSON.parse(process.argv[1]), f = s.functions[0];
		if (s.server !== "fc-poold" || f.name !== "fn") throw new Error("names");
		if (f.min !== 0 || f.max !== 3 || f.queue !== 5) throw new Error("settings");
		for (const k of ["warm", "busy", "queued", "served", "errors"])
			if (f[k] !== 0) throw new Error(k);
		for (const k of ["restore_ms", "invoke_ms"])
			if (typeof f[k].p50 !== "number" || typeof f[k].p99 !== "number")
				throw new Error(k);
	' "$output"
}

@test "SIGTERM stops an idle pool and removes its socket and lock" {
	start p.sock
	kill -TERM "$POOL"
	wait "$POOL"
	[ ! -e p.sock ] && [ ! -e p.sock.lock ]
	[ -z "$(ls -A "$TMPDIR")" ]
	grep -q "^fc-poold: stopped$" poold.log
}

@test "-q: nothing on stderr for a start and a stop" {
	fc-poold -q -s p.sock --min 0 fn.snap 2>quiet.log &
	POOL=$!
	for _ in $(seq 100); do [ -S p.sock ] && break; sleep 0.05; done
	kill -TERM "$POOL"
	wait "$POOL"
	[ ! -s quiet.log ]
}

@test "fc-invoke: a socket that is not a pool is bad input, a dead one a failure" {
	node -e 'require("net").createServer(c => c.end("hello\n")).listen("other.sock")' &
	srv=$!
	for _ in $(seq 100); do [ -S other.sock ] && break; sleep 0.05; done
	run -3 fc-invoke other.sock <<<'{}'
	[[ "$output" == "fc-invoke: other.sock: "*"not an fc-poold socket" ]]
	kill "$srv"
	wait "$srv" || true
	start p.sock
	kill -KILL "$POOL"
	wait "$POOL" || true
	run -5 fc-invoke p.sock <<<'{}'
	[ "$output" = "fc-invoke: p.sock: no fc-poold is listening" ]
}

@test "requests a pool refuses: bad JSON, a function it does not serve" {
	start p.sock
	run -3 fc-invoke -f nope p.sock <<<'{}'
	[ "$output" = "fc-invoke: no function named 'nope' here (serving fn)" ]
	# A raw client: a request whose payload is not JSON.
	run -0 node -e '
		const c = require("net").connect("p.sock");
		const p = Buffer.from("{\"event\":");
		const h = Buffer.from([0x49, 0, 0, 0, p.length]);
		let got = Buffer.alloc(0);
		c.on("data", d => { got = Buffer.concat([got, d]); });
		c.write(Buffer.concat([h, p]));
		setTimeout(() => { process.stdout.write(got.toString("latin1")); c.end(); }, 500);
	'
	[[ "$output" == *'X'*'{"code":3,"message":"bad request: invalid JSON at byte 9: '* ]]
}

@test "a snapshot that cannot be restored: requests get the reason, exit 5" {
	# fn.snap's state is not a migration stream: QEMU fails at once.
	echo garbage >fn.snap/state
	fc-poold -s p.sock --min 1 fn.snap 2>>poold.log &
	POOL=$!
	for _ in $(seq 100); do grep -q "could not restore" poold.log && break; sleep 0.1; done
	grep -q "^fc-poold: fn: could not restore fn.snap: .*; next try in 1 s$" poold.log
	run -5 fc-invoke p.sock <<<'{}'
	[[ "$output" == "fc-invoke: fn: could not restore a VM: "* ]]
	[ -z "$(ls -A "$TMPDIR")" ]
}
