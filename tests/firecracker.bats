#!/usr/bin/env bats
# The Firecracker driver: the exact requests it sends (to tests/fake-
# firecracker, which refuses what the specification does not allow), the
# errors users see, the vsock handshake (against tests/vsock-server), the
# jailer (tests/fake-jailer), the programs on top of it; and at the end the
# same flow with real Firecracker and KVM, where both exist.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	# Drives the driver through struct vm the way the programs do.
	cc -std=c11 -D_GNU_SOURCE -I"$ROOT/lib" -o "$BATS_FILE_TMPDIR/fc-vmmtest" \
		"$ROOT/tests/fc-vmmtest.c" "$ROOT/build/libfc.a" \
		$(pkg-config --libs libcurl libarchive)
}

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	export PATH="$ROOT/build:$BATS_FILE_TMPDIR:$PATH"
	export FC_FIRECRACKER=$ROOT/tests/fake-firecracker
	export FC_JAILER=$ROOT/tests/fake-jailer
	export FAKE_FC_RECORD=$BATS_TEST_TMPDIR/record
	# Run directories go here, so that a leak shows.
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	unset FC_VMM FAKE_FC_FAULT FAKE_FC_START FAKE_FC_VSOCK FAKE_FC_AGENT
	unset FAKE_FC_VERSION FAKE_FC_FORMAT
	mkdir -p "$TMPDIR"
	cd "$BATS_TEST_TMPDIR"
	echo kernel >vmlinux
	echo initrd >initrd
	head -c 65536 /dev/zero >rootfs.ext4
	mkdir snap
}

teardown() {
	if [ -n "${JAIL:-}" ]; then rm -rf "$JAIL"; fi
	if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi
}

# The record with what changes from run to run replaced by words.
requests() {
	sed -e "s|$TMPDIR/[A-Za-z0-9._-]*|RUNDIR|g" -e "s|${JAIL:-/nonexistent}/[^ ]*/root|JAIL|g" \
		-e 's/--id [^ ]*/--id ID/; s/--id=[^ ]*/--id=ID/; s/--start-time-us=[0-9]*/--start-time-us=N/' \
		"$FAKE_FC_RECORD"
}

# Nothing left: no run directory, no fake Firecracker of this test (a
# jailed one is known by the --id= the record shows it got).
assert_clean() {
	[ -z "$(ls -A "$TMPDIR")" ] || { ls -la "$TMPDIR"; return 1; }
	! pgrep -f "fake-firecracker.*$TMPDIR" >/dev/null
	for id in $(sed -n 's/^exec --id=\([^ ]*\) .*/\1/p' "$FAKE_FC_RECORD"); do
		! pgrep -f -- "--id=$id " >/dev/null
	done
}

BOOT='exec --api-sock RUNDIR/api.sock --id ID --log-path firecracker.log --level Warning
cwd RUNDIR
PUT /machine-config {"vcpu_count":1,"mem_size_mib":128} -> 204
PUT /boot-source {"kernel_image_path":"vmlinux","initrd_path":"initrd","boot_args":"console=ttyS0 quiet reboot=k panic=1"} -> 204
PUT /drives/rootfs {"drive_id":"rootfs","path_on_host":"rootfs.ext4","is_root_device":false,"is_read_only":true} -> 204
PUT /vsock {"guest_cid":3,"uds_path":"v.sock"} -> 204
PUT /actions {"action_type":"InstanceStart"} -> 204
vsock CONNECT 1024 -> OK
PATCH /vm {"state":"Paused"} -> 204
PUT /snapshot/create {"snapshot_type":"Full","snapshot_path":"state","mem_file_path":"mem"} -> 204'

LOAD='PUT /snapshot/load {"snapshot_path":"state","mem_backend":{"backend_type":"File","backend_path":"mem"},"resume_vm":true} -> 204'

# A snapshot in snap/ made through the driver, and the record emptied.
snapshot() {
	fc-vmmtest boot vmlinux initrd rootfs.ext4 snap >/dev/null
	ln rootfs.ext4 snap/rootfs.ext4
	: >"$FAKE_FC_RECORD"
}

# --- choosing the driver ------------------------------------------------------

@test "the automatic choice: firecracker with its binary and a usable KVM, else qemu; --vmm and FC_VMM override" {
	if fc-vmmtest kvm >/dev/null; then
		run -0 fc-vmmtest choose
		[ "${lines[0]}" = firecracker ]
		[ "${lines[1]}" = "firecracker: $FC_FIRECRACKER is there and KVM can create VMs" ]
	fi
	run -0 env FC_KVM=/nonexistent fc-vmmtest choose
	[ "${lines[0]}" = qemu ]
	[ "${lines[1]}" = "qemu: $FC_FIRECRACKER is there, but /nonexistent: No such file or directory" ]
	run -0 env FC_FIRECRACKER=/nonexistent/firecracker fc-vmmtest choose
	[ "${lines[1]}" = "qemu: no firecracker binary on PATH or in \$FC_FIRECRACKER" ]
	run -0 env FC_KVM=/nonexistent fc-vmmtest choose firecracker
	[ "${lines[*]}" = "firecracker firecracker, as --vmm says" ]
	run -0 env FC_VMM=qemu fc-vmmtest choose
	[ "${lines[*]}" = "qemu qemu, as \$FC_VMM says" ]
	run -2 fc-vmmtest choose vmware
	[ "$output" = "fc-vmmtest: vmware: unknown VMM (firecracker or qemu)" ]
}

@test "the kernel command line gets reboot=k panic=1, once" {
	run -0 fc-vmmtest bootargs "console=ttyS0 panic=-1"
	[ "$output" = "console=ttyS0 panic=-1 reboot=k panic=1" ]
	run -0 fc-vmmtest bootargs "reboot=k panic=1 quiet"
	[ "$output" = "reboot=k panic=1 quiet" ]
	run -0 fc-vmmtest bootargs ""
	[ "$output" = "reboot=k panic=1" ]
}

@test "--jailer values: uid and gid needed, names allowed, paths absolute" {
	run -0 fc-vmmtest jailer uid=123,gid=100,chroot-base=/srv/j,cgroup-version=2
	[ "$output" = "uid=123 gid=100 chroot-base=/srv/j cgroup-version=2" ]
	run -0 fc-vmmtest jailer "uid=$(id -un 0)"
	[[ "$output" == "uid=0 gid=0 chroot-base=/srv/jailer cgroup-version="[12] ]]
	run -2 fc-vmmtest jailer uid=1
	[ "$output" = "fc-vmmtest: --jailer: needs uid= and gid= (e.g. uid=123,gid=100)" ]
	run -2 fc-vmmtest jailer uid=1,gid=1,chroot-base=rel
	run -2 fc-vmmtest jailer uid=1,gid=1,cgroup-version=3
	run -2 fc-vmmtest jailer uid=1,gid=1,netns=x
	[ "$output" = "fc-vmmtest: --jailer: unknown key 'netns' (uid, gid, chroot-base, cgroup-version)" ]
	run -2 fc-vmmtest jailer uid=no-such-user-here,gid=1
}

# --- the requests ---------------------------------------------------------------

@test "a boot and snapshot send exactly these requests, with relative paths, into the snapshot directory" {
	run -0 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = 'O {"boot":1}' ]
	run -0 requests
	[ "$output" = "$BOOT" ]
	[ "$(cat snap/mem)" = "fake guest memory" ]
	grep -q '"fake_firecracker_snapshot": "10.0.0"' snap/state
	assert_clean
}

@test "a restore is a fresh process in a directory of its own: the disk linked, one snapshot/load" {
	snapshot
	run -0 fc-vmmtest -m 1.16.1 restore snap '{"x":[1,2]}'
	[ "$output" = 'O {"x":[1,2]}' ]
	run -0 requests
	[ "$output" = "exec --api-sock RUNDIR/api.sock --id ID --log-path firecracker.log --level Warning
cwd RUNDIR
drive rootfs.ext4 is a hard link
$LOAD
vsock CONNECT 1024 -> OK" ]
	assert_clean
}

@test "two clones of one snapshot run at once, each with its own v.sock" {
	snapshot
	fc-vmmtest -m 1.16.1 restore snap '{"n":1}' >one &
	fc-vmmtest -m 1.16.1 restore snap '{"n":2}' >two
	wait $!
	[ "$(cat one)" = 'O {"n":1}' ]
	[ "$(cat two)" = 'O {"n":2}' ]
	[ "$(grep -c '^cwd ' record)" -eq 2 ]
	[ "$(requests | grep -c "^$LOAD$")" -eq 2 ]
	assert_clean
}

@test "a snapshot made by another release is refused before any process starts" {
	snapshot
	run -3 fc-vmmtest -m 1.15.0 restore snap '{}'
	[ "$output" = "fc-vmmtest: snap: made by Firecracker v1.15.0, but this host has v1.16.1, which loads only its own release's snapshots (make it again with fc-snap)" ]
	# Without the release on record, the state file's format is compared.
	run -3 env FAKE_FC_VERSION=1.17.0 FAKE_FC_FORMAT=11.0.0 fc-vmmtest restore snap '{}'
	[ "$output" = "fc-vmmtest: snap: snapshot format 10.0.0 is another release's: Firecracker v1.17.0 reads 11.0.0 (make it again with fc-snap)" ]
	[ ! -s record ]
	run -0 env FAKE_FC_VERSION=1.16.2 FAKE_FC_FORMAT=10.1.0 fc-vmmtest restore snap '{}'
	assert_clean
}

# --- errors ---------------------------------------------------------------------

@test "a fault_message reaches the user verbatim, on one line, exit 5" {
	FAKE_FC_FAULT='PUT /boot-source fault Kernel loader: the ELF header is invalid' \
		run -5 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: firecracker: PUT /boot-source: Kernel loader: the ELF header is invalid" ]
	snapshot
	FAKE_FC_FAULT='PUT /snapshot/load fault Load snapshot error: the memory file is too small' \
		run -5 fc-vmmtest -m 1.16.1 restore snap '{}'
	[ "$output" = "fc-vmmtest: firecracker: PUT /snapshot/load: Load snapshot error: the memory file is too small" ]
	assert_clean
}

@test "the HTTP layer's error text (not JSON: a raw newline) reaches the user on one line" {
	FAKE_FC_FAULT='PUT /actions error Invalid request: the body is malformed' \
		run -5 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: firecracker: PUT /actions: Invalid request: the body is malformed All previous unanswered requests will be dropped." ]
	assert_clean
}

@test "a refusal of the fake's own checks reaches the user the same way" {
	mkdir dir.ext4
	run -5 fc-vmmtest boot vmlinux initrd dir.ext4 snap
	[ "$output" = "fc-vmmtest: firecracker: PUT /drives/rootfs: Unable to create the block device: unable to open rootfs.ext4: Is a directory" ]
	assert_clean
}

@test "a call that gets no answer times out with exit 4" {
	FAKE_FC_FAULT='PUT /machine-config hang' run -4 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: firecracker: PUT /machine-config: no reply within 5.0 s" ]
	assert_clean
}

@test "Firecracker dying is reported with its exit code's meaning and last words" {
	FAKE_FC_START='exit 153 Arguments parsing error: unexpected argument' \
		run -5 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: firecracker exited with status 153 (bad command line arguments): fake-firecracker: Arguments parsing error: unexpected argument" ]
	FAKE_FC_FAULT='PUT /vsock exit vsock: out of file descriptors' \
		run -5 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: firecracker exited with status 1 (error): fake-firecracker: vsock: out of file descriptors" ]
	assert_clean
}

@test "the API socket is waited for, however slow it is to appear" {
	FAKE_FC_START='delay 700' run -0 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = 'O {"boot":1}' ]
}

# --- the agent channel ------------------------------------------------------------

@test "the driver retries CONNECT while the guest does not listen yet" {
	FAKE_FC_VSOCK='refuse 6' run -0 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$(grep -c '^vsock CONNECT 1024 -> closed$' record)" -eq 6 ]
	[ "$(grep -c '^vsock CONNECT 1024 -> OK$' record)" -eq 1 ]
}

@test "a frame that comes in the same write as OK is not lost" {
	FAKE_FC_VSOCK=greet run -0 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = 'O {"boot":1}' ]
}

@test "a guest that never listens is a time-out naming the last reason" {
	FAKE_FC_VSOCK=never run -4 fc-vmmtest boot vmlinux initrd rootfs.ext4 snap
	[[ "$output" == "fc-vmmtest: firecracker: $TMPDIR/fc-vmmtest."*"/v.sock: nothing accepted vsock port 1024 in time (connection closed before OK)" ]]
	assert_clean
}

# vsock SERVER-MODE [N]: a vsock-server in the background on vs.sock.
vsock() {
	export VSOCK_RECORD=$BATS_TEST_TMPDIR/vsock-record
	rm -f vs.sock
	"$ROOT/tests/vsock-server" vs.sock "$@" &
	SERVER=$!
}

@test "handshake: CONNECT in one write; what follows OK at once is kept" {
	vsock ok-data
	run -0 fc-vmmtest vsock vs.sock 1024 5000
	[ "$output" = hello ]
	[ "$(cat vsock-record)" = "CONNECT 1024" ]
}

@test "handshake: EOF before OK is retried with back-off until the deadline" {
	vsock eof
	run -4 fc-vmmtest vsock vs.sock 1024 1500
	[ "$output" = "fc-vmmtest: vs.sock: nothing accepted vsock port 1024 in time (connection closed before OK)" ]
	n=$(wc -l <vsock-record)
	# Growing pauses: a few dozen tries in 1.5 s, not thousands.
	[ "$n" -ge 5 ] && [ "$n" -le 60 ]
}

@test "handshake: a slow listener is waited for" {
	vsock slow 4
	run -0 fc-vmmtest vsock vs.sock 1024 5000
	[ "$output" = hello ]
	[ "$(grep -c 'CONNECT 1024' vsock-record)" -eq 5 ]
}

@test "handshake: an OK line in two parts is read whole" {
	vsock split
	run -0 fc-vmmtest vsock vs.sock 1024 5000
	[ "$output" = hello ]
}

@test "handshake: anything but OK is an error at once; a missing socket a time-out" {
	vsock garbage
	run -5 fc-vmmtest vsock vs.sock 1024 5000
	[ "$output" = "fc-vmmtest: vs.sock: vsock port 1024: unexpected answer to CONNECT: 'NOPE 1'" ]
	run -4 fc-vmmtest vsock nothing.sock 1024 200
	[ "$output" = "fc-vmmtest: nothing.sock: nothing accepted vsock port 1024 in time (No such file or directory)" ]
	vsock silent
	run -4 fc-vmmtest vsock vs.sock 1024 700
	[[ "$output" == *"(no answer to CONNECT)" ]]
}

# --- the jailer -------------------------------------------------------------------

jail_or_skip() {
	[ "$(id -u)" = 0 ] || skip "the jailer runs as root; this is uid $(id -u)"
	getent passwd 65534 >/dev/null || skip "no user 65534 to jail Firecracker as"
	# The jailed fake runs as 65534: its record and jail must be reachable.
	JAIL=$(mktemp -d /tmp/fc-jail.XXXXXX)
	chmod 755 "$JAIL"
	export FAKE_FC_RECORD=$JAIL/record
	install -m 666 /dev/null "$FAKE_FC_RECORD"
	J="uid=65534,gid=65534,chroot-base=$JAIL,cgroup-version=2"
}

@test "jailer: files linked into the chroot, its pid from the pid file, the chroot removed" {
	jail_or_skip
	run -0 fc-vmmtest -j "$J" boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = 'O {"boot":1}' ]
	run -0 requests
	[ "${lines[0]}" = "jailer --id ID --exec-file $FC_FIRECRACKER --uid 65534 --gid 65534 --chroot-base-dir $JAIL --cgroup-version 2 --new-pid-ns -- --api-sock api.sock --log-path firecracker.log --level Warning" ]
	[ "${lines[1]}" = "exec --id=ID --start-time-us=N --start-time-cpu-us=0 --api-sock api.sock --log-path firecracker.log --level Warning" ]
	[ "${lines[2]}" = "cwd JAIL" ]
	[ "$(printf '%s\n' "${lines[@]:3}")" = "$(echo "$BOOT" | tail -n +3)" ]
	# The snapshot came out of the jail; the jail is gone.
	[ "$(cat snap/mem)" = "fake guest memory" ]
	[ "$(ls -A "$JAIL/fake-firecracker")" = "" ]
	assert_clean
}

@test "jailer: a restore stages the disk, state and memory in a new chroot" {
	jail_or_skip
	fc-vmmtest -j "$J" boot vmlinux initrd rootfs.ext4 snap >/dev/null
	ln rootfs.ext4 snap/rootfs.ext4
	: >"$FAKE_FC_RECORD"
	run -0 fc-vmmtest -j "$J" -m 1.16.1 restore snap '{"jailed":true}'
	[ "$output" = 'O {"jailed":true}' ]
	run -0 requests
	[ "${lines[3]}" = "drive rootfs.ext4 is a hard link" ]
	[ "${lines[4]}" = "$LOAD" ]
	[ "$(ls -A "$JAIL/fake-firecracker")" = "" ]
	assert_clean
}

@test "jailer: a missing chroot base, and a failing jailer's own words, reach the user" {
	jail_or_skip
	run -3 fc-vmmtest -j "uid=65534,gid=65534,chroot-base=$JAIL/none" boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: --jailer: chroot base $JAIL/none: No such file or directory" ]
	# The jailer runs only binaries named *firecracker*.
	cp "$FC_FIRECRACKER" "$BATS_TEST_TMPDIR/fakevmm"
	FC_FIRECRACKER=$BATS_TEST_TMPDIR/fakevmm run -5 fc-vmmtest -j "$J" boot vmlinux initrd rootfs.ext4 snap
	[ "$output" = "fc-vmmtest: jailer exited with status 1: Jailer error: Invalid exec file: $BATS_TEST_TMPDIR/fakevmm" ]
	[ "$(ls -A "$JAIL/fakevmm")" = "" ]
	assert_clean
}

# --- the programs ------------------------------------------------------------------

# A well-formed image around a root filesystem the fake never reads, and a
# kernel directory with nothing real in it.
program_setup() {
	[ -x "$ROOT/build/fc-snap" ] && [ -x "$ROOT/build/fc-agent" ] || skip "make has not built fc-snap and fc-agent"
	mkdir -p img kernel/modules
	cp rootfs.ext4 img/
	echo '{"format":1,"kind":"image","function":"f","runtime":"nodejs","handler":"index.handler","timeout":3,"memory_mib":128,"rootfs":"rootfs.ext4"}' >img/manifest.json
	echo elf >kernel/vmlinux
	: >kernel/modules.load
	echo 6.1.0-test >kernel/version
	export FC_KERNEL=$PWD/kernel FC_AGENT=$ROOT/build/fc-agent
}

@test "fc-snap --vmm firecracker: the boot, the snapshot, a manifest naming Firecracker's release" {
	program_setup
	run -0 fc-snap -q --vmm firecracker img -o fn.snap
	run -0 requests
	[[ "${lines[3]}" == 'PUT /boot-source {"kernel_image_path":"vmlinux","initrd_path":"initrd","boot_args":"console=ttyS0 '*' reboot=k panic=1"} -> 204' ]]
	[ "$(printf '%s\n' "${lines[@]:4}")" = "$(echo "$BOOT" | tail -n +5)" ]
	grep -q '"vmm": "firecracker"' fn.snap/manifest.json
	grep -q '"vmm_version": "1.16.1"' fn.snap/manifest.json
	[ -s fn.snap/state ] && [ -s fn.snap/mem ]
	assert_clean
}

@test "FC_VMM=firecracker chooses the driver for fc-snap; fc-invoke takes it from the manifest" {
	program_setup
	FC_VMM=firecracker fc-snap -q img -o fn.snap
	: >record
	run -0 --separate-stderr sh -c 'echo "{\"name\":\"Ada\"}" | fc-invoke fn.snap'
	[ "$output" = '{"name":"Ada"}' ]
	[[ "$stderr" == "REPORT RequestId: "*"Restore Duration: "* ]]
	run -0 requests
	[ "${lines[2]}" = "drive rootfs.ext4 is a hard link" ]
	[ "${lines[3]}" = "$LOAD" ]
	assert_clean
}

@test "fc-snap: an API error is one line naming the image, exit 5, nothing left behind" {
	program_setup
	FAKE_FC_FAULT='PUT /boot-source fault Kernel loader: the ELF header is invalid' \
		run -5 --separate-stderr fc-snap --vmm firecracker img -o fn.snap
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "fc-snap: img: firecracker: PUT /boot-source: Kernel loader: the ELF header is invalid"* ]]
	[ ! -e fn.snap ]
	[ -z "$(ls -d fn.snap.tmp-* 2>/dev/null)" ]
	assert_clean
}

@test "fc-invoke: load errors, a dead Firecracker and another release each get one line and their code" {
	program_setup
	fc-snap -q --vmm firecracker img -o fn.snap
	FAKE_FC_FAULT='PUT /snapshot/load fault Load snapshot error: Failed to restore from snapshot' \
		run -5 --separate-stderr fc-invoke fn.snap <<<'{}'
	[ "$stderr" = "fc-invoke: firecracker: PUT /snapshot/load: Load snapshot error: Failed to restore from snapshot" ] ||
	[[ "$stderr" == "fc-invoke: fn.snap: firecracker: PUT /snapshot/load: Load snapshot error: Failed to restore from snapshot" ]]
	FAKE_FC_START='exit 1 Failed to open the API socket' run -5 --separate-stderr fc-invoke fn.snap <<<'{}'
	[[ "$stderr" == "fc-invoke: "*"firecracker exited with status 1 (error): fake-firecracker: Failed to open the API socket" ]]
	: >record
	FAKE_FC_VERSION=1.17.0 FAKE_FC_FORMAT=11.0.0 run -3 --separate-stderr fc-invoke fn.snap <<<'{}'
	[[ "$stderr" == "fc-invoke: "*"fn.snap: "*"(make it again with fc-snap)" ]]
	[ "$(grep -c '^exec' record)" -eq 0 ]
	assert_clean
}

@test "fc-restore leaves a Firecracker VM running; fc-invoke reaches it by its handle; -k stops it" {
	program_setup
	[ -x "$ROOT/build/fc-restore" ] || skip "make has not built fc-restore"
	fc-snap -q --vmm firecracker img -o fn.snap
	run -0 --separate-stderr fc-restore -q fn.snap
	handle=$output
	[[ "$handle" == '{"handle":1,"vmm":"firecracker",'*'"channel":"'"$TMPDIR"/fc-restore.*'/v.sock"'* ]]
	run -0 fc-invoke -q "$handle" <<<'{"warm":true}'
	[ "$output" = '{"warm":true}' ]
	run -0 fc-invoke -q "$handle" <<<'{"again":1}'
	[ "$output" = '{"again":1}' ]
	run -0 fc-restore -q -k "$handle"
	assert_clean
}

@test "fc-poold keeps a Firecracker VM warm and serves fc-invoke from it; stopping leaves nothing" {
	program_setup
	[ -x "$ROOT/build/fc-poold" ] || skip "make has not built fc-poold"
	fc-snap -q --vmm firecracker img -o fn.snap
	: >record
	fc-poold -q -s pool.sock -m 1 -M 2 fn.snap &
	pool=$!
	for _ in $(seq 200); do [ -S pool.sock ] && break; sleep 0.05; done
	run -0 fc-invoke -q pool.sock <<<'{"pooled":1}'
	[ "$output" = '{"pooled":1}' ]
	run -0 fc-invoke -q pool.sock <<<'{"pooled":2}'
	[ "$output" = '{"pooled":2}' ]
	kill "$pool"
	wait "$pool"
	# One warm VM served both: one load, one connection.
	[ "$(requests | grep -c "^$LOAD$")" -eq 1 ]
	[ "$(grep -c '^vsock CONNECT 1024 -> OK$' record)" -eq 1 ]
	assert_clean
}

# The programs' own Firecracker options (lib/firecracker.h's API wired
# into them); skipped, saying so, until fc-snap has them.
wired_or_skip() {
	program_setup
	fc-snap --help | grep -q -- --jailer ||
		skip "fc-snap has no --jailer yet: the firecracker API is not wired in"
}

@test "fc-snap chooses firecracker by itself where it and KVM are, says why with -v, records its format" {
	wired_or_skip
	fc-vmmtest kvm >/dev/null || skip "KVM cannot create a VM here: the choice would be qemu"
	run -0 --separate-stderr fc-snap -v img -o fn.snap
	[[ "$stderr" == *"fc-snap: using firecracker: $FC_FIRECRACKER is there and KVM can create VMs"* ]]
	grep -q '"vmm": "firecracker"' fn.snap/manifest.json
	grep -q '"snapshot_format": "10.0.0"' fn.snap/manifest.json
	grep -q '"cmdline": ".* reboot=k panic=1"' fn.snap/manifest.json
	assert_clean
}

@test "fc-invoke refuses a snapshot another release made, by the manifest, before starting anything" {
	wired_or_skip
	fc-snap -q --vmm firecracker img -o fn.snap
	: >record
	FAKE_FC_VERSION=1.16.2 run -3 --separate-stderr fc-invoke fn.snap <<<'{}'
	[[ "$stderr" == "fc-invoke: "*"fn.snap: made by Firecracker v1.16.1, but this host has v1.16.2, which loads only its own release's snapshots (make it again with fc-snap)" ]]
	[ ! -s record ]
	assert_clean
}

@test "fc-snap --jailer: a bad value or another VMM is a usage error; jailed, the jailer runs it" {
	wired_or_skip
	run -2 fc-snap --jailer uid=1 --vmm firecracker img -o fn.snap
	[ "$output" = "fc-snap: --jailer: needs uid= and gid= (e.g. uid=123,gid=100)" ]
	run -2 fc-snap --jailer uid=1,gid=1 --vmm qemu img -o fn.snap
	[ "$output" = "fc-snap: --jailer: only for firecracker, not qemu" ]
	jail_or_skip
	run -0 fc-snap -q --vmm firecracker --jailer "$J" img -o fn.snap
	[[ "$(head -1 "$FAKE_FC_RECORD")" == "jailer --id fc-snap-"* ]]
	[ -s fn.snap/mem ] && [ -s fn.snap/state ]
	[ "$(ls -A "$JAIL/fake-firecracker")" = "" ]
	# The snapshot remembers its jailer: restores of it are jailed too.
	grep -q "\"jailer\": \"$J\"" fn.snap/manifest.json
	: >"$FAKE_FC_RECORD"
	run -0 --separate-stderr fc-invoke -q fn.snap <<<'{"jailed":1}'
	[[ "$(head -1 "$FAKE_FC_RECORD")" == "jailer --id fc-invoke-"* ]]
	[ "$(ls -A "$JAIL/fake-firecracker")" = "" ]
	assert_clean
}

# --- real Firecracker -----------------------------------------------------------

# Real Firecracker, a usable KVM and a guest kernel, or a skip saying which is missing.
real_or_skip() {
	unset FC_FIRECRACKER FC_JAILER
	command -v firecracker >/dev/null || skip "no firecracker binary on PATH"
	fc-vmmtest kvm >/dev/null || skip "KVM cannot create a VM here: $(fc-vmmtest kvm)"
	local k=${FC_KERNEL:-${FC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fc-tools}/kernel}
	[ -r "$k/vmlinux" ] || skip "no guest kernel in $k (make guest)"
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	W=$BATS_FILE_TMPDIR/real
	mkdir -p "$W"
	if [ ! -d "$W/hello.snap" ]; then
		(cd "$ROOT/examples/hello" && zip -q -r "$W/hello.zip" .)
		fc-build -q "$W/hello.zip" -o "$W/hello.img"
		fc-snap -q --vmm firecracker "$W/hello.img" -o "$W/hello.snap"
	fi
}

@test "real: zip -> fc-build -> fc-snap --vmm firecracker -> fc-invoke answers" {
	real_or_skip
	grep -q '"vmm": "firecracker"' "$W/hello.snap/manifest.json"
	run -0 --separate-stderr fc-invoke "$W/hello.snap" <<<'{"name":"Ada"}'
	[[ "$output" == '{"greeting":"Hello, Ada",'* ]]
	[[ "$stderr" == *"Restore Duration: "* ]]
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "real: two restores of one snapshot at once" {
	real_or_skip
	fc-invoke -q "$W/hello.snap" <<<'{"name":"One"}' >one &
	fc-invoke -q "$W/hello.snap" <<<'{"name":"Two"}' >two
	wait $!
	[[ "$(cat one)" == '{"greeting":"Hello, One",'* ]]
	[[ "$(cat two)" == '{"greeting":"Hello, Two",'* ]]
}

@test "real: fc-restore and fc-invoke by handle" {
	real_or_skip
	handle=$(fc-restore -q "$W/hello.snap")
	run -0 fc-invoke -q "$handle" <<<'{"name":"Handle"}'
	fc-restore -q -k "$handle"
	[[ "$output" == '{"greeting":"Hello, Handle",'* ]]
}

@test "real: under the jailer" {
	real_or_skip
	command -v jailer >/dev/null || skip "no jailer binary on PATH"
	[ "$(id -u)" = 0 ] || skip "the jailer runs as root"
	JAIL=$(mktemp -d /tmp/fc-jail.XXXXXX)
	run -0 fc-vmmtest -j "uid=65534,gid=65534,chroot-base=$JAIL" -m "$(fc-vmmtest version | cut -d' ' -f1)" \
		restore "$W/hello.snap" '{"name":"Jail"}'
	[[ "$output" == 'O {"greeting":"Hello, Jail",'* ]]
	[ -z "$(ls -A "$JAIL"/*/ 2>/dev/null)" ]
}
