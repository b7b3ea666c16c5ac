#!/usr/bin/env bats
# fc-build: options, hostile zips (exit code, message naming the entry,
# nothing written outside), and images checked with debugfs, unmounted.
# Needs build/fc-build (make), node, python3 and e2fsprogs.

bats_require_minimum_version 1.5.0

setup_file() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	[ -x "$ROOT/build/fc-build" ] || {
		echo "build/fc-build is not built (run make)" >&3
		return 1
	}
	Z="$BATS_FILE_TMPDIR/zips"
	CANARY="$BATS_FILE_TMPDIR/canary"
	mkdir -p "$CANARY"
	python3 "$BATS_TEST_DIRNAME/fixtures/mkzips.py" "$Z" "$CANARY"
	# A stand-in runtime, so that these tests do not hang on bootstrap.js.
	RT="$BATS_FILE_TMPDIR/runtime"
	mkdir -p "$RT"
	echo '// test runtime' >"$RT/bootstrap.js"
	echo '{}' >"$RT/extra.json"
	echo 'not copied' >"$RT/README"
	export ROOT Z CANARY RT
}

setup() {
	export PATH="$ROOT/build:$PATH" FC_RUNTIME_DIR="$RT"
	unset FC_NODE
	cd "$BATS_TEST_TMPDIR"
}

# ---- helpers -----------------------------------------------------------

# Expect exit status 2 and one line on stderr, nothing on stdout.
usage_fails() {
	run -2 --separate-stderr fc-build "$@"
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[[ "$stderr" == "fc-build: "* ]]
}

# Nothing of a build may remain next to the output.
no_leftovers() {
	! compgen -G "$BATS_TEST_TMPDIR/*.tmp-*" >/dev/null
}

canary_empty() {
	[ -z "$(ls -A "$CANARY")" ]
}

# refused ZIP MESSAGE [OPTION...]: exit 3, exactly "fc-build: ZIP: MESSAGE".
refused() {
	local zip=$Z/$1 msg=$2
	shift 2
	run -3 --separate-stderr fc-build "$@" -o out.img "$zip"
	[ -z "$output" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	[ "$stderr" = "fc-build: $zip: $msg" ] ||
		{ echo "got:  $stderr"; echo "want: fc-build: $zip: $msg"; return 1; }
	[ ! -e out.img ]
	no_leftovers
	canary_empty
}

# debugfs on an image, errors dropped.
dbg() {
	debugfs -R "$2" "$1/rootfs.ext4" 2>/dev/null
}

# "regular 0644", "directory 0755", "symlink 0777" for a path in the image.
kind_mode() {
	dbg "$1" "stat $2" | sed -n 's/.*Type: *\([a-z]*\) *Mode: *\([0-7]*\).*/\1 \2/p'
}

exists_in() {
	dbg "$1" "stat $2" | grep -q '^Inode:'
}

# json DIR [JQ-OPTION...] FILTER: a field of DIR/manifest.json.
json() {
	local dir=$1
	shift
	jq -r "$@" "$dir/manifest.json"
}

# ---- command line ------------------------------------------------------

@test "--help and -h print usage on stdout and exit 0" {
	for o in --help -h; do
		run -0 --separate-stderr fc-build "$o"
		[[ "${lines[0]}" == "usage: fc-build [-fqv] "* ]]
		[[ "$output" == *"--max-size BYTES"* ]]
		[ -z "$stderr" ]
	done
}

@test "--version and -V print the version and exit 0" {
	for o in --version -V; do
		run -0 --separate-stderr fc-build "$o"
		[ "$output" = "fc-build 0.1.0" ]
		[ -z "$stderr" ]
	done
}

@test "unknown options and missing arguments: exit 2, one line" {
	usage_fails --bogus -o x.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: --bogus: unknown option (see fc-build --help)" ]
	usage_fails -x -o x.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: -x: unknown option (see fc-build --help)" ]
	usage_fails "$Z/hello.zip" -o
	[ "$stderr" = "fc-build: -o: needs an argument (see fc-build --help)" ]
	usage_fails "$Z/hello.zip" --handler
}

@test "no zip, two zips, no -o: exit 2" {
	usage_fails -o x.img
	[[ "$stderr" == *"no zip given"* ]]
	usage_fails -o x.img "$Z/hello.zip" "$Z/sub.zip"
	usage_fails "$Z/hello.zip"
	[[ "$stderr" == *"no output directory (-o)"* ]]
	usage_fails -o . "$Z/hello.zip"
	usage_fails -o / "$Z/hello.zip"
}

@test "numbers out of range: exit 2" {
	usage_fails -t 0 -o x.img "$Z/hello.zip"
	[[ "$stderr" == *"--timeout 0: expected a number from 1 to 900"* ]]
	usage_fails -t 901 -o x.img "$Z/hello.zip"
	usage_fails --timeout 3s -o x.img "$Z/hello.zip"
	usage_fails -m 127 -o x.img "$Z/hello.zip"
	usage_fails --memory 10241 -o x.img "$Z/hello.zip"
	usage_fails --max-size 10X -o x.img "$Z/hello.zip"
	usage_fails --max-size -1 -o x.img "$Z/hello.zip"
	usage_fails --max-entries 0 -o x.img "$Z/hello.zip"
}

@test "malformed handlers: exit 2" {
	for h in index .handler index. ../index.handler /abs/index.handler \
		 a//b.handler ./index.handler index..handler src/.handler; do
		usage_fails -H "$h" -o x.img "$Z/hello.zip"
		[[ "$stderr" == "fc-build: --handler $h: expected FILE.EXPORT"* ]]
	done
	[ ! -e x.img ]
}

@test "bad --env, --name, --region: exit 2" {
	usage_fails -e NOEQUALS -o x.img "$Z/hello.zip"
	usage_fails -e 1BAD=x -o x.img "$Z/hello.zip"
	usage_fails -e BAD-KEY=x -o x.img "$Z/hello.zip"
	usage_fails -e "K=a
b" -o x.img "$Z/hello.zip"
	[[ "$stderr" == *"the value holds a newline"* ]]
	for k in _HANDLER AWS_REGION AWS_LAMBDA_FUNCTION_NAME LAMBDA_TASK_ROOT \
		 AWS_SECRET_ACCESS_KEY FC_TIMEOUT_MS; do
		usage_fails -e "$k=x" -o x.img "$Z/hello.zip"
		[[ "$stderr" == "fc-build: --env $k: reserved by the runtime"* ]]
	done
	usage_fails -e "BIG=$(head -c 5000 /dev/zero | tr '\0' x)" -o x.img \
		"$Z/hello.zip"
	usage_fails -n 'has space' -o x.img "$Z/hello.zip"
	usage_fails -n "$(printf 'n%.0s' {1..65})" -o x.img "$Z/hello.zip"
	cp "$Z/hello.zip" 'my fn.zip'
	usage_fails -o x.img 'my fn.zip'
	[[ "$stderr" == *"use --name"* ]]
	usage_fails -r 'US East' -o x.img "$Z/hello.zip"
}

# ---- input that is not a zip -------------------------------------------

@test "a missing zip: exit 3" {
	run -3 --separate-stderr fc-build -o out.img nope.zip
	[ "$stderr" = "fc-build: nope.zip: No such file or directory" ]
	[ ! -e out.img ]
	no_leftovers
}

@test "not a zip, empty file, truncated, corrupt, a directory: exit 3" {
	refused notzip.zip "not a zip file"
	: >"$Z/zero.zip"
	refused zero.zip "empty file, not a zip"
	refused truncated.zip "truncated or damaged zip (no central directory)"
	refused corrupt.zip "index.js: damaged: ZIP decompression failed (-3)"
	mkdir -p "$Z/dir.zip"
	refused dir.zip "not a regular file"
}

# ---- hostile zips ------------------------------------------------------

@test "names with .. components: exit 3, naming the entry" {
	refused dotdot.zip "../evil.js: path has a '..' component"
	refused dotdot-deep.zip "a/b/../../../evil.js: path has a '..' component"
}

@test "absolute names, drive letters, UNC paths: exit 3" {
	refused absolute.zip "$CANARY/abs.js: absolute path"
	refused drive.zip "C:/evil.js: absolute path (drive letter)"
	refused drive-rel.zip "C:evil.js: absolute path (drive letter)"
	refused unc.zip "//host/share/evil.js: absolute path"
	refused backslash.zip "../evil.js: path has a '..' component"
}

@test "symbolic links out of the package: exit 3" {
	refused link-out.zip \
		"up: symbolic link points outside the package (-> ../../..)"
	refused link-abs.zip \
		"canary: symbolic link points outside the package (-> $CANARY)"
	refused link-chain.zip \
		"b: symbolic link points outside the package (-> a/..)"
	refused link-loop.zip \
		"p: symbolic link is a loop of symbolic links (-> q)"
}

@test "writing through a symbolic link: exit 3, canary untouched" {
	refused link-dir.zip \
		"esc: symbolic link points outside the package (-> $CANARY)"
	refused link-dir-in.zip "d/x.js: goes through the symbolic link d"
}

@test "names that are not UTF-8 or hold control characters: exit 3" {
	refused badutf8.zip 'bad-\xff.js: not valid UTF-8'
	# Flagged UTF-8 but is not: libarchive withholds the name.
	refused badutf8-flag.zip "entry 1: name is not valid UTF-8"
	refused ctrl.zip 'a\x01b.js: holds a control character'
	refused newline.zip 'a\x0ab.js: holds a control character'
	refused toolong.zip "$(printf 'a%.0s' {1..200}): name is too long"
}

@test "duplicate entries, also after cleaning the name: exit 3" {
	refused dup.zip "index.js: duplicate entry"
	refused dup-dot.zip "./index.js: duplicate entry"
	refused dup-slash.zip "a//b.js: duplicate entry"
	refused dup-type.zip "a/b.js: a is not a directory"
}

@test "devices and encrypted entries: exit 3" {
	refused chardev.zip \
		"dev: special files (devices, FIFOs, sockets) are not allowed"
	refused encrypted.zip "index.js: encrypted entries are not supported"
}

@test "zip bombs: the inflated bytes are counted, not the headers" {
	refused bomb.zip \
		"zeros.bin: unpacks past the limit of 10485760 bytes" --max-size 10M
	# Claims 10 bytes, inflates to 64 MiB: stopped at the limit...
	refused bomb-liar.zip \
		"zeros.bin: unpacks past the limit of 1048576 bytes" --max-size 1M
	# ...and refused as damaged when under it.
	refused bomb-liar.zip "zeros.bin: damaged: ZIP uncompressed data is wrong size (read 67108864, expected 10)"
}

@test "too many entries: exit 3" {
	refused many.zip "more than 10 entries" --max-entries 10
}

@test "no temporary directory is left in TMPDIR or next to the output" {
	mkdir tmp
	export TMPDIR=$BATS_TEST_TMPDIR/tmp
	for z in dotdot.zip link-dir.zip bomb.zip corrupt.zip nohandler.zip; do
		run fc-build --max-size 1M -o out.img "$Z/$z"
		[ "$status" -eq 3 ]
	done
	run -0 fc-build -q -o ok.img "$Z/hello.zip"
	[ -z "$(ls -A tmp)" ]
	no_leftovers
	canary_empty
}

# ---- the handler -------------------------------------------------------

@test "a missing handler names what was looked for" {
	refused nohandler.zip \
		"no index.js, index.mjs or index.cjs for handler index.handler"
	refused empty.zip \
		"no index.js, index.mjs or index.cjs for handler index.handler"
	refused sub.zip \
		"no lib/x.js, lib/x.mjs or lib/x.cjs for handler lib/x.main" \
		-H lib/x.main
}

@test "a zipped folder gets a hint" {
	refused nested.zip "no index.js, index.mjs or index.cjs for handler index.handler (found hello/index.js: zip the folder's contents, not the folder)"
}

@test "a handler in a subfolder, and an .mjs handler" {
	run -0 fc-build -q -H src/app.handler -o sub.img "$Z/sub.zip"
	[ "$(json sub.img .handler)" = src/app.handler ]
	dbg sub.img 'cat /etc/fc/env' | grep -qx '_HANDLER=src/app.handler'
	run -0 fc-build -q -o mjs.img "$Z/mjs.zip"
	[ "$(kind_mode mjs.img /var/task/index.mjs)" = "regular 0644" ]
}

# ---- good images -------------------------------------------------------

@test "a good zip builds: manifest fields" {
	run -0 --separate-stderr fc-build -t 30 -m 512 -e A=1 -e B='x y' \
		-e A=2 -o hello.img "$Z/hello.zip"
	[ -z "$output" ]
	[[ "$stderr" =~ ^fc-build:\ hello\.img:\ [0-9]+\ files,\ [0-9.]+\ MiB,\ handler\ index\.handler,\ in\ [0-9.]+\ s$ ]]
	[ "$(ls hello.img)" = "$(printf 'manifest.json\nrootfs.ext4')" ]
	jq -e . hello.img/manifest.json >/dev/null
	[ "$(json hello.img .format)" = 1 ]
	[ "$(json hello.img .kind)" = image ]
	[ "$(json hello.img .function)" = hello ]
	[ "$(json hello.img .runtime)" = nodejs ]
	[ "$(json hello.img .runtime_version)" = "$(node --version)" ]
	[ "$(json hello.img .handler)" = index.handler ]
	[ "$(json hello.img .timeout)" = 30 ]
	[ "$(json hello.img .memory_mib)" = 512 ]
	[ "$(json hello.img -c .env)" = '{"A":"2","B":"x y"}' ]
	[ "$(json hello.img .rootfs)" = rootfs.ext4 ]
	[ "$(json hello.img '.sha256["rootfs.ext4"]')" = \
	  "$(sha256sum hello.img/rootfs.ext4 | cut -d' ' -f1)" ]
	no_leftovers
}

@test "the image holds the package with cleaned modes" {
	run -0 fc-build -q -o hello.img "$Z/hello.zip"
	e2fsck -fn hello.img/rootfs.ext4
	[ "$(dumpe2fs -h hello.img/rootfs.ext4 2>/dev/null |
	     sed -n 's/^Filesystem volume name: *//p')" = fc-root ]
	! dumpe2fs -h hello.img/rootfs.ext4 2>/dev/null | grep -q has_journal
	[ "$(kind_mode hello.img /var/task)" = "directory 0755" ]
	[ "$(kind_mode hello.img /var/task/index.js)" = "regular 0644" ]
	[ "$(kind_mode hello.img /var/task/lib/util.js)" = "regular 0644" ]
	[ "$(kind_mode hello.img /var/task/bin/run.sh)" = "regular 0755" ]
	[ "$(kind_mode hello.img /var/task/secret.txt)" = "regular 0644" ]
	[ "$(kind_mode hello.img /var/task/suid)" = "regular 0755" ]
	[ "$(kind_mode hello.img /var/task/dot/slash.js)" = "regular 0644" ]
	[ "$(kind_mode hello.img /var/task/café.js)" = "regular 0644" ]
	[ "$(kind_mode hello.img /var/task/node_modules/.bin/x)" = "symlink 0777" ]
	dbg hello.img 'stat /var/task/node_modules/.bin/x' |
		grep -qF 'Fast link dest: "../x/cli.js"'
	[ "$(dbg hello.img 'cat /var/task/lib/util.js')" = "module.exports = 1;" ]
}

@test "the image holds node, its libraries, the runtime and /etc/fc" {
	run -0 fc-build -q -n fn -r eu-west-1 -t 7 -m 128 -e PATH=/x \
		-o hello.img "$Z/hello.zip"
	node=$(command -v node)
	[ "$(kind_mode hello.img "$node")" = "regular 0755" ]
	for lib in $(ldd "$node" | grep -oE '/[^ ]+'); do
		exists_in hello.img "$lib" || { echo "no $lib"; return 1; }
	done
	[ "$(dbg hello.img 'cat /opt/fc/bootstrap.js')" = "// test runtime" ]
	exists_in hello.img /opt/fc/extra.json
	! exists_in hello.img /opt/fc/README
	[ "$(dbg hello.img 'cat /etc/fc/runtime')" = \
	  "$(printf '%s\n/opt/fc/bootstrap.js' "$node")" ]
	for d in /proc /sys /dev /tmp; do
		[ "$(kind_mode hello.img $d)" = "directory 0755" ]
		[ -z "$(dbg hello.img "ls -p $d" | awk -F/ '$6 != "." && $6 != ".." && NF > 5')" ]
	done
	env=$(dbg hello.img 'cat /etc/fc/env')
	major=$(node --version | sed 's/^v\([0-9]*\).*/\1/')
	for kv in PATH=/x LANG=C.UTF-8 TZ=:UTC _HANDLER=index.handler \
		  LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/opt/fc \
		  AWS_LAMBDA_FUNCTION_NAME=fn AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
		  'AWS_LAMBDA_FUNCTION_VERSION=$LATEST' \
		  AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/fn AWS_REGION=eu-west-1 \
		  AWS_DEFAULT_REGION=eu-west-1 FC_TIMEOUT_MS=7000 \
		  "AWS_EXECUTION_ENV=AWS_Lambda_nodejs$major.x" \
		  "NODE_PATH=/opt/nodejs/node$major/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"; do
		grep -qxF "$kv" <<<"$env" || { echo "no $kv in: $env"; return 1; }
	done
	grep -qE '^AWS_LAMBDA_LOG_STREAM_NAME=[0-9]{4}/[0-9]{2}/[0-9]{2}/\[\$LATEST\][0-9a-f]{32}$' <<<"$env"
	[ "$(grep -c '^PATH=' <<<"$env")" = 1 ]
}

@test "macOS Finder metadata is left out" {
	run -0 fc-build -q -o f.img "$Z/finder.zip"
	exists_in f.img /var/task/index.js
	exists_in f.img /var/task/lib/a.js
	for p in __MACOSX ._index.js .DS_Store lib/.DS_Store; do
		! exists_in f.img "/var/task/$p" || { echo "$p is there"; return 1; }
	done
}

@test "a Windows zip: backslashes separate, modes 0644 and 0755" {
	run -0 fc-build -q -o w.img "$Z/windows.zip"
	[ "$(kind_mode w.img /var/task/lib)" = "directory 0755" ]
	[ "$(kind_mode w.img /var/task/lib/util.js)" = "regular 0644" ]
	[ "$(kind_mode w.img /var/task/index.js)" = "regular 0644" ]
}

@test "a FIFO entry becomes an empty file (libarchive reports it so)" {
	python3 - "$Z/fifo2.zip" <<-'EOF'
	import sys, zipfile
	with zipfile.ZipFile(sys.argv[1], "w") as z:
	    z.writestr("index.js", "exports.handler = async () => 1;\n")
	    zi = zipfile.ZipInfo("pipe")
	    zi.create_system = 3
	    zi.external_attr = 0o010644 << 16
	    z.writestr(zi, "")
	EOF
	run -0 fc-build -q -o p.img "$Z/fifo2.zip"
	[ "$(kind_mode p.img /var/task/pipe)" = "regular 0644" ]
}

@test "limits: a file under --max-size builds, over it does not" {
	run -0 fc-build -q --max-size 5M -o big.img "$Z/bigfile.zip"
	refused bigfile.zip "zeros.bin: unpacks past the limit of 1048576 bytes" \
		--max-size 1M
}

# ---- output directory --------------------------------------------------

@test "an existing output is replaced only with --force" {
	run -0 fc-build -q -o out.img "$Z/hello.zip"
	old=$(json out.img '.sha256["rootfs.ext4"]')
	run -2 --separate-stderr fc-build -o out.img "$Z/sub.zip"
	[ "$stderr" = "fc-build: out.img: already exists (use --force to replace it)" ]
	[ "$(json out.img '.sha256["rootfs.ext4"]')" = "$old" ]
	run -0 fc-build -q -f -H src/app.handler -o out.img/ "$Z/sub.zip"
	[ "$(json out.img .handler)" = src/app.handler ]
	[ "$(json out.img '.sha256["rootfs.ext4"]')" != "$old" ]
	no_leftovers
}

@test "--force leaves alone what is not an image" {
	mkdir notimg && echo keep >notimg/file
	run -2 --separate-stderr fc-build -f -o notimg "$Z/hello.zip"
	[ "$stderr" = "fc-build: notimg: not an image (no manifest.json); not replacing it" ]
	[ "$(cat notimg/file)" = keep ]
	echo keep >afile
	run -2 fc-build -f -o afile "$Z/hello.zip"
	[ "$(cat afile)" = keep ]
	mkdir empty
	run -0 fc-build -q -f -o empty "$Z/hello.zip"
	[ -f empty/manifest.json ]
	no_leftovers
}

@test "a failed rebuild with --force keeps the old image" {
	run -0 fc-build -q -o out.img "$Z/hello.zip"
	old=$(json out.img '.sha256["rootfs.ext4"]')
	run -3 fc-build -f -o out.img "$Z/dotdot.zip"
	[ "$(json out.img '.sha256["rootfs.ext4"]')" = "$old" ]
	no_leftovers
}

@test "output in a missing directory: exit 3, nothing made" {
	run -3 --separate-stderr fc-build -o no/such/out.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: no/such/out.img: No such file or directory" ]
}

# ---- messages ----------------------------------------------------------

@test "-q prints nothing, -v prints the steps, stdout stays empty" {
	run -0 --separate-stderr fc-build -q -o q.img "$Z/hello.zip"
	[ -z "$output" ] && [ -z "$stderr" ]
	run -0 --separate-stderr fc-build -v -o v.img "$Z/finder.zip"
	[ -z "$output" ]
	[[ "${stderr_lines[0]}" == "fc-build: $Z/finder.zip: 2 files, 0 links, 61 bytes unpacked; 5 entries of macOS metadata left out" ]]
	[[ "${stderr_lines[1]}" == "fc-build: node v"*" from "*" with "*" libraries, runtime from $RT" ]]
	[[ "${stderr_lines[2]}" == "fc-build: rootfs.ext4: "* ]]
	[[ "${stderr_lines[3]}" == "fc-build: v.img: "* ]]
}

# ---- the host's tools --------------------------------------------------

@test "--node: a missing path is bad input, no node in PATH a system failure" {
	run -3 --separate-stderr fc-build --node ./nonode -o n.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: ./nonode: No such file or directory" ]
	run -5 --separate-stderr env PATH=/nonexistent "$ROOT/build/fc-build" \
		-o n.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: node: not found in PATH (install Node.js or pass --node)" ]
	run -3 --separate-stderr fc-build --node /bin/true -o n.img "$Z/hello.zip"
	[[ "$stderr" == "fc-build: /bin/true --version: "* ]]
	[ ! -e n.img ]
	no_leftovers
}

@test "FC_NODE picks node, and node may not live where the image has its files" {
	run -3 --separate-stderr env FC_NODE=/tmp/x/node "$ROOT/build/fc-build" \
		-o n.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: /tmp/x/node: No such file or directory" ]
}

# node must be outside /tmp (a mount point in the guest) for these two.
outside_tmp() {
	case $BATS_TEST_TMPDIR in
	/tmp/* | /tmp) skip "BATS_TEST_TMPDIR is under /tmp; set TMPDIR elsewhere" ;;
	esac
}

@test "node found through a link: the file at its real path, the link too" {
	outside_tmp
	ln -s "$(command -v node)" node
	run -0 fc-build -q --node ./node -o l.img "$Z/hello.zip"
	real=$(readlink -f node)
	[ "$(kind_mode l.img "$real")" = "regular 0755" ]
	dbg l.img "stat $PWD/node" | grep -qF "Fast link dest: \"$real\""
	[ "$(dbg l.img 'cat /etc/fc/runtime' | head -n 1)" = "$PWD/node" ]
}

@test "a node that is a script (a version manager's shim): exit 3" {
	outside_tmp
	printf '#!/bin/sh\necho v20.0.0\n' >shim
	chmod +x shim
	run -3 --separate-stderr fc-build --node ./shim -o s.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: $PWD/shim: not an ELF executable (a version manager's shim?); pass --node with node itself" ]
}

@test "a failing mke2fs: exit 5, nothing left" {
	mkdir bin
	printf '#!/bin/sh\necho "mke2fs: no space left (fake)" >&2\nexit 1\n' \
		>bin/mke2fs
	chmod +x bin/mke2fs
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" run -5 --separate-stderr \
		fc-build -o m.img "$Z/hello.zip"
	[[ "$stderr" == "fc-build: mke2fs "*"/rootfs.ext4: mke2fs: no space left (fake)" ]]
	[ ! -e m.img ]
	no_leftovers
}

@test "no runtime: exit 3 naming bootstrap.js" {
	mkdir rt
	run -3 --separate-stderr fc-build --runtime-dir rt -o r.img "$Z/hello.zip"
	[ "$stderr" = "fc-build: rt/bootstrap.js: No such file or directory" ]
	no_leftovers
}

@test "SIGTERM during a build removes everything, then dies of it" {
	mkdir bin
	printf '#!/bin/sh\nsleep 2\nexec /usr/sbin/mke2fs "$@"\n' >bin/mke2fs
	chmod +x bin/mke2fs
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" fc-build -o s.img "$Z/hello.zip" &
	pid=$!
	sleep 1
	kill -TERM "$pid"
	status=0
	wait "$pid" || status=$?
	[ "$status" -eq 143 ]
	[ ! -e s.img ]
	no_leftovers
}

# ---- the manual's examples ---------------------------------------------

@test "man: the EXAMPLES of fc-build(1) work" {
	unset FC_RUNTIME_DIR	# the build tree's runtime/
	(cd "$ROOT/examples/hello" && zip -qr - .) >hello.zip
	run -0 --separate-stderr fc-build -o hello.img hello.zip
	[[ "$stderr" == "fc-build: hello.img: "*" files, "*", handler index.handler, in "* ]]
	dbg hello.img 'ls -l /var/task' | grep -q ' index.js'
	cmp <(dbg hello.img 'cat /opt/fc/bootstrap.js') \
	    <(cat "$ROOT/runtime/bootstrap.js")
	mkdir -p api/src
	echo 'exports.main = async () => 1;' >api/src/app.js
	(cd api && zip -qr - .) >api.zip
	run -0 fc-build -H src/app.main -t 30 -m 1024 -e STAGE=test \
		-o api.img api.zip
	[ "$(json api.img -c .env)" = '{"STAGE":"test"}' ]
	run -0 --separate-stderr fc-build -f -q -o hello.img hello.zip
	[ -z "$stderr" ]
}

@test "man: fc-build(1) is lint-clean and its SYNOPSIS is the usage" {
	run -0 mandoc -Tlint -Wwarning "$ROOT/man/fc-build.1"
	[ -z "$output" ]
	want=$(fc-build --help | sed -n '1,/^$/p' | sed 's/^usage://' |
	       tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
	got=$(mandoc -Tascii -O width=400 "$ROOT/man/fc-build.1" |
	      sed $'s/.\b//g' | sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' |
	      sed '1d;$d' | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')
	[ "$want" = "$got" ] || { echo "usage:    $want"; echo "SYNOPSIS: $got"; return 1; }
}

@test "a reader of stderr that goes away does not stop the build" {
	fc-build -v -o p.img "$Z/finder.zip" 2>&1 | head -n 1 >/dev/null
	[ -f p.img/manifest.json ]
	no_leftovers
}
