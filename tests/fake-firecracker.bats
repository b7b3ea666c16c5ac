#!/usr/bin/env bats
# The fake Firecracker itself. The driver's tests are only worth something
# if the fake refuses what the specification (tests/firecracker-api.yaml)
# refuses, so most of these send requests it must turn down.

bats_require_minimum_version 1.5.0

setup() {
	T=$(cd "$BATS_TEST_DIRNAME" && pwd)
	FAKE=$T/fake-firecracker
	cd "$BATS_TEST_TMPDIR"
	export FAKE_FC_RECORD=$BATS_TEST_TMPDIR/record
	echo kernel >vmlinux
	echo initrd >initrd
	head -c 4096 /dev/zero >rootfs.ext4
	PIDS=()
}

teardown() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

# start [-C DIR] [NAME=VALUE...]: the fake in the background, its working
# directory DIR (default here), serving api.sock there.
start() {
	local dir=.
	if [ "${1:-}" = -C ]; then dir=$2; shift 2; fi
	(cd "$dir" && exec env "$@" "$FAKE" --api-sock api.sock --id fake-test) 2>>fake.err &
	PIDS+=($!)
	for _ in $(seq 200); do [ -S "$dir/api.sock" ] && return 0; sleep 0.02; done
	cat fake.err
	return 1
}

# req METHOD PATH [BODY]: prints "STATUS BODY"; $SOCK is the socket.
req() {
	"$T/fc-http" "${SOCK:-api.sock}" "$@"
}

# A refusal: status 400 and a fault_message.
refused() {
	run -0 req "$@"
	[[ "$output" == '400 {"fault_message": '* ]] || {
		echo "accepted or wrong reply: $* -> $output"
		return 1
	}
}

boot_ok() {
	run -0 req PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
	[ "$output" = "204 " ]
	run -0 req PUT /boot-source '{"kernel_image_path":"vmlinux","initrd_path":"initrd","boot_args":"reboot=k panic=1"}'
	[ "$output" = "204 " ]
	run -0 req PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"rootfs.ext4","is_root_device":false,"is_read_only":true}'
	[ "$output" = "204 " ]
	run -0 req PUT /vsock '{"guest_cid":3,"uds_path":"v.sock"}'
	[ "$output" = "204 " ]
	run -0 req PUT /actions '{"action_type":"InstanceStart"}'
	[ "$output" = "204 " ]
}

@test "it answers --version, --snapshot-version and --describe-snapshot like Firecracker" {
	run -0 "$FAKE" --version
	[ "${lines[0]}" = "Firecracker v1.16.1" ]
	run -0 env FAKE_FC_VERSION=1.15.0 FAKE_FC_FORMAT=9.0.0 "$FAKE" --snapshot-version
	[ "$output" = "v9.0.0" ]
	echo '{"fake_firecracker_snapshot":"10.0.0"}' >state
	run -0 "$FAKE" --describe-snapshot state
	[ "$output" = "v10.0.0" ]
	echo junk >junk
	run -1 "$FAKE" --describe-snapshot junk
}

@test "a bad command line exits 153; an API socket path in use exits 1" {
	run -153 "$FAKE" --api-sock api.sock --bogus
	[[ "$output" == *"'--bogus'"* ]]
	run -153 "$FAKE" --api-sock api.sock --id 'bad id!'
	touch api.sock
	run -1 "$FAKE" --api-sock api.sock
	[[ "$output" == *"Failed to open the API socket at api.sock"* ]]
}

@test "a boot the specification allows is accepted and recorded request by request" {
	start
	boot_ok
	run -0 req GET /
	[[ "$output" == '200 {"app_name": "Firecracker", "id": "fake-test", "state": "Running",'* ]]
	run -0 grep -v '^cwd ' record
	[ "$output" = 'exec --api-sock api.sock --id fake-test
PUT /machine-config {"vcpu_count":1,"mem_size_mib":128} -> 204
PUT /boot-source {"kernel_image_path":"vmlinux","initrd_path":"initrd","boot_args":"reboot=k panic=1"} -> 204
PUT /drives/rootfs {"drive_id":"rootfs","path_on_host":"rootfs.ext4","is_root_device":false,"is_read_only":true} -> 204
PUT /vsock {"guest_cid":3,"uds_path":"v.sock"} -> 204
PUT /actions {"action_type":"InstanceStart"} -> 204
GET / -> 200' ]
}

@test "optional fields and enum words the specification has are accepted" {
	start
	run -0 req PUT /logger '{"level":"Off","show_level":true}'
	[ "$output" = "204 " ]
	run -0 req PUT /machine-config '{"vcpu_count":2,"mem_size_mib":256,"smt":false,"huge_pages":"2M","track_dirty_pages":true}'
	[ "$output" = "204 " ]
	run -0 req PUT /metrics '{"metrics_path":"m.json","properties":{"a":"b"}}'
	[ "$output" = "204 " ]
	run -0 req PUT /entropy '{}'
	[ "$output" = "204 " ]
}

@test "unknown paths and methods are refused" {
	start
	refused PUT /nonexistent '{}'
	refused POST /actions '{"action_type":"InstanceStart"}'
	refused DELETE /machine-config
	refused GET /drives/rootfs
	refused PUT /machine-config/extra '{}'
	refused PUT '/machine-config?x=1' '{"vcpu_count":1,"mem_size_mib":128}'
}

@test "unknown, missing and mistyped fields and values outside the specification are refused" {
	start
	refused PUT /machine-config '{"vcpu_count":1}'
	refused PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128,"bogus":1}'
	refused PUT /machine-config '{"vcpu_count":"1","mem_size_mib":128}'
	refused PUT /machine-config '{"vcpu_count":true,"mem_size_mib":128}'
	refused PUT /machine-config '{"vcpu_count":1.0,"mem_size_mib":128}'
	refused PUT /machine-config '{"vcpu_count":0,"mem_size_mib":128}'
	refused PUT /machine-config '{"vcpu_count":33,"mem_size_mib":128}'
	refused PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128,"huge_pages":"1G"}'
	refused PUT /machine-config '{"vcpu_count":1,"vcpu_count":2,"mem_size_mib":128}'
	refused PUT /machine-config 'not json'
	refused PUT /machine-config '[1,2]'
	refused PUT /boot-source '{}'
	refused PUT /boot-source '{"kernel_image_path":"vmlinux","boot_args":7}'
	refused PUT /vsock '{"guest_cid":2,"uds_path":"v.sock"}'
	refused PUT /vsock '{"guest_cid":3}'
	refused PUT /actions '{"action_type":"Reboot"}'
	refused PUT /actions '{}'
	refused PUT /logger '{"level":"Loud"}'
	refused PUT /snapshot/load '{"snapshot_path":"s","mem_backend":{"backend_type":"Tape","backend_path":"m"}}'
	refused PUT /snapshot/load '{"snapshot_path":"s","mem_backend":{"backend_type":"File"}}'
	refused PUT /metrics '{"metrics_path":"m","properties":{"a":1}}'
	run -0 req PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
	[ "$output" = "204 " ]
	# Every refusal is in the record as one.
	[ "$(grep -c -- '-> 400$' record)" -eq 21 ]
}

@test "a PUT without a body, and a body where none is taken, are refused" {
	start
	refused PUT /actions
	refused PATCH /balloon/hinting/stop '{}'
}

@test "drive ids outside [A-Za-z0-9_], empty, or unlike the body's are refused" {
	start
	local d='"path_on_host":"rootfs.ext4","is_root_device":false,"is_read_only":true'
	refused PUT /drives/root-fs "{\"drive_id\":\"root-fs\",$d}"
	refused PUT /drives/root.fs "{\"drive_id\":\"root.fs\",$d}"
	refused PUT /drives/ "{\"drive_id\":\"\",$d}"
	refused PUT /drives/rootfs "{\"drive_id\":\"other\",$d}"
	refused PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"rootfs.ext4","is_root_device":false}'
	refused PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"rootfs.ext4","is_root_device":"no","is_read_only":true}'
	refused PUT /drives/rootfs '{"drive_id":"rootfs","path_on_host":"missing.ext4","is_root_device":false,"is_read_only":true}'
	run -0 req PUT /drives/root_fs_2 "{\"drive_id\":\"root_fs_2\",$d}"
	[ "$output" = "204 " ]
}

@test "files the API names must exist; a vsock path must not" {
	start
	refused PUT /boot-source '{"kernel_image_path":"missing"}'
	refused PUT /boot-source '{"kernel_image_path":"vmlinux","initrd_path":"missing"}'
	touch v.sock
	refused PUT /vsock '{"guest_cid":3,"uds_path":"v.sock"}'
}

@test "calls in the wrong phase are refused" {
	start
	refused PATCH /vm '{"state":"Paused"}'
	refused PUT /snapshot/create '{"snapshot_path":"s","mem_file_path":"m"}'
	refused PUT /actions '{"action_type":"InstanceStart"}'
	boot_ok
	refused PUT /actions '{"action_type":"InstanceStart"}'
	refused PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
	refused PUT /snapshot/load '{"snapshot_path":"s","mem_backend":{"backend_type":"File","backend_path":"m"}}'
	refused PUT /snapshot/create '{"snapshot_path":"s","mem_file_path":"m"}'
}

@test "snapshot/load is refused after any configuration, and needs one memory source" {
	start
	run -0 req PUT /logger '{"level":"Info"}'
	run -0 req PUT /machine-config '{"vcpu_count":1,"mem_size_mib":128}'
	refused PUT /snapshot/load '{"snapshot_path":"s","mem_backend":{"backend_type":"File","backend_path":"m"}}'
	[[ "$output" == *"not allowed after configuring"* ]]
	rm api.sock
	start
	refused PUT /snapshot/load '{"snapshot_path":"s","mem_file_path":"m","mem_backend":{"backend_type":"File","backend_path":"m"}}'
}

@test "the HTTP layer refuses chunked bodies, bodies on GET and oversized bodies with its error key" {
	start
	run -0 "$T/fc-http" --raw api.sock < <(printf 'GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}')
	[[ "$output" == '400 { "error": "'*$'\n'* ]]
	run -0 "$T/fc-http" --raw api.sock < <(printf 'PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n')
	[[ "$output" == '400 { "error": '*"Transfer-Encoding"* ]]
	run -0 "$T/fc-http" --raw api.sock < <(printf 'PUT /actions HTTP/1.1\r\nContent-Length: 60000\r\n\r\n')
	[[ "$output" == '400 { "error": '*"larger than the limit"* ]]
	run -0 "$T/fc-http" --raw api.sock < <(printf 'PUT  /actions\r\n\r\n')
	[[ "$output" == '400 { "error": '* ]]
}

@test "replies have no reason phrase and keep the connection open" {
	start
	run -0 python3 - <<-'EOF'
	import socket
	s = socket.socket(socket.AF_UNIX); s.connect("api.sock")
	body = b'{"vcpu_count":1,"mem_size_mib":128}'
	req = b"PUT /machine-config HTTP/1.1\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
	s.sendall(req); first = s.recv(4096)
	s.sendall(b"GET /version HTTP/1.1\r\n\r\n"); second = s.recv(4096)
	print(repr(first)); print(repr(second))
	EOF
	[ "${lines[0]}" = "b'HTTP/1.1 204 \\r\\nServer: Firecracker API\\r\\nConnection: keep-alive\\r\\n\\r\\n'" ]
	[[ "${lines[1]}" == "b'HTTP/1.1 200 \\r\\n"*'"firecracker_version": "1.16.1"}'"'" ]]
}

@test "an eleventh connection gets 503 and is closed" {
	start
	run -0 python3 - <<-'EOF'
	import socket, time
	held = []
	for _ in range(10):
	    s = socket.socket(socket.AF_UNIX); s.connect("api.sock"); held.append(s)
	time.sleep(0.2)
	s = socket.socket(socket.AF_UNIX); s.connect("api.sock")
	print(s.recv(4096).split(b"\r\n")[0].decode())
	EOF
	[ "$output" = "HTTP/1.1 503 " ]
}

@test "the vsock answers CONNECT for the agent's port only while the guest runs, whole lines only" {
	start
	run -0 req PUT /vsock '{"guest_cid":3,"uds_path":"v.sock"}'
	run -0 "$T/fc-http" --vsock v.sock 'CONNECT 1024\n'
	[ -z "$output" ]
	run -0 req PUT /boot-source '{"kernel_image_path":"vmlinux"}'
	run -0 req PUT /actions '{"action_type":"InstanceStart"}'
	run -0 "$T/fc-http" --vsock v.sock 'CONNECT 1024\n'
	[[ "$output" =~ ^OK\ 10737418[0-9][0-9]$ ]]
	run -0 "$T/fc-http" --vsock v.sock 'connect 1024\n'
	[[ "$output" == "OK "* ]]
	run -0 "$T/fc-http" --vsock v.sock 'CONNECT 52\n'
	[ -z "$output" ]
	run -0 "$T/fc-http" --vsock v.sock 'CONN<pause>ECT 1024\n'
	[ -z "$output" ]
	run -0 grep '^vsock' record
	[ "$output" = "vsock CONNECT 1024 -> closed
vsock CONNECT 1024 -> OK
vsock connect 1024 -> OK
vsock CONNECT 52 -> closed
vsock CONN -> closed" ]
}

# A booted, paused, snapshotted VM in directory a/ (state and mem there).
snapshot_in_a() {
	mkdir a
	cp vmlinux initrd rootfs.ext4 a/
	start -C a
	local SOCK=a/api.sock
	boot_ok
	run -0 req PATCH /vm '{"state":"Paused"}'
	[ "$output" = "204 " ]
	run -0 req PUT /snapshot/create '{"snapshot_type":"Full","snapshot_path":"state","mem_file_path":"mem"}'
	[ "$output" = "204 " ]
	[ -s a/state ] && [ -s a/mem ]
}

@test "a snapshot loads into a fresh process: drives re-opened, vsock re-bound at the recorded path" {
	snapshot_in_a
	mkdir b
	ln a/rootfs.ext4 b/rootfs.ext4
	start -C b
	SOCK=b/api.sock run -0 req PUT /snapshot/load '{"snapshot_path":"../a/state","mem_backend":{"backend_type":"File","backend_path":"../a/mem"},"resume_vm":true}'
	[ "$output" = "204 " ]
	[ -S b/v.sock ]
	run -0 "$T/fc-http" --vsock b/v.sock 'CONNECT 1024\n'
	[[ "$output" == "OK "* ]]
	grep -qx "drive rootfs.ext4 is a hard link" record
}

@test "a failed load is a 400 and ends the process: a missing disk, another format" {
	snapshot_in_a
	local load='{"snapshot_path":"../a/state","mem_backend":{"backend_type":"File","backend_path":"../a/mem"}}'
	mkdir c d
	start -C c
	SOCK=c/api.sock refused PUT /snapshot/load "$load"
	[[ "$output" == *"rootfs.ext4"* ]]
	local st=0
	wait "${PIDS[-1]}" || st=$?
	[ "$st" -eq 1 ]
	cp rootfs.ext4 d/
	start -C d FAKE_FC_FORMAT=11.0.0
	SOCK=d/api.sock refused PUT /snapshot/load "$load"
	[[ "$output" == *"v10.0.0 is not supported"* ]]
}
