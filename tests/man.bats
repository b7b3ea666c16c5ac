#!/usr/bin/env bats
# The manual pages: clean under mandoc's linter, in step with each
# program's --help, and the examples that need no VM really work.
# Needs the programs built (make).

bats_require_minimum_version 1.5.0

setup() {
	ROOT=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
	MAN="$ROOT/man"
}

# Every page in man/, whatever its section.
all_pages() {
	ls "$MAN"/*.[1-9] 2>/dev/null
}

# The pages of programs (sections 1 and 8): man/PROG.N documents build/PROG.
program_pages() {
	ls "$MAN"/*.[18] 2>/dev/null
}

# A page as plain text: no overstrike, and wide enough never to wrap.
render() {
	mandoc -T ascii -O width=400 "$1" | sed $'s/.\b//g'
}

# The body of the named sections of a rendered page, headings left out.
sections() {
	local page=$1
	shift
	render "$page" | awk -v want=" $* " '
		/^[A-Z]/ { sec = $0; next }
		index(want, " " sec " ") { print }'
}

# The usage lines at the top of --help, "usage: " left out.
usage_of() {
	"$1" --help | awk '
		NR == 1 && sub(/^usage: /, "") { print; next }
		NR > 1 && /^[ \t]/ && !done { print; next }
		{ done = 1 }'
}

# Words on one line, for comparing layouts that differ.
squeeze() {
	tr -s ' \t\n' '   ' | sed 's/^ //; s/ $//'
}

# The same, with argument names (DEV, dev) in lower case; flags keep theirs.
squeeze_args() {
	squeeze | awk '{ for (i = 1; i <= NF; i++) if ($i !~ /^\[?-/) $i = tolower($i); print }'
}

# The built program a page documents, or a complaint on stdout.
program_of() {
	local name=${1##*/}
	local bin="$ROOT/build/${name%.*}"
	[ -x "$bin" ] || { echo "$name: $bin is not built (run make)"; return 1; }
	echo "$bin"
}

@test "man: the pages this project promises exist" {
	for p in fc-snap.1 fc-invoke.1 fc-protocol.7 fc-agent.8; do
		[ -f "$MAN/$p" ] || { echo "man/$p is missing"; return 1; }
	done
}

@test "man: every page is clean under mandoc -Tlint -Wwarning" {
	local bad=0 out
	for page in $(all_pages); do
		if ! out=$(mandoc -T lint -W warning "$page" 2>&1) || [ -n "$out" ]; then
			echo "${page#"$ROOT"/}: ${out:-mandoc failed}"
			bad=1
		fi
	done
	[ "$bad" = 0 ]
}

@test "man: every long option in a program's --help is in its page's SYNOPSIS or OPTIONS" {
	local bad=0 bin opts text
	for page in $(program_pages); do
		bin=$(program_of "$page") || { echo "$bin"; bad=1; continue; }
		opts=$("$bin" --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u)
		[ -n "$opts" ] || { echo "$bin --help: no long options"; bad=1; }
		text=$(sections "$page" SYNOPSIS OPTIONS)
		for o in $opts; do
			if ! grep -qE -- "(^|[^a-z0-9-])$o([^a-z0-9-]|\$)" <<<"$text"; then
				echo "${page##*/}: $o (from --help) is not in SYNOPSIS or OPTIONS"
				bad=1
			fi
		done
	done
	[ "$bad" = 0 ]
}

@test "man: each program's SYNOPSIS is its usage line, word for word (argument names in any case)" {
	local bad=0 bin want got
	for page in $(program_pages); do
		bin=$(program_of "$page") || { echo "$bin"; bad=1; continue; }
		want=$(usage_of "$bin" | squeeze_args)
		got=$(sections "$page" SYNOPSIS | squeeze_args)
		if [ "$want" != "$got" ]; then
			printf '%s:\n  usage:    %s\n  SYNOPSIS: %s\n' "${page##*/}" "$want" "$got"
			bad=1
		fi
	done
	[ "$bad" = 0 ]
}

# fc-agent(8) is left out: as process 1 it never exits, and says so.
@test "man: each section 1 page lists every exit code of lib/err.h, and 128+N" {
	local bad=0 codes text
	codes=$(sed -n 's/^[[:space:]]*FC_[A-Z]* = \([0-9]*\),.*/\1/p' "$ROOT/lib/err.h")
	[ -n "$codes" ]
	for page in "$MAN"/*.1; do
		text=$(sections "$page" "EXIT STATUS")
		for c in $codes; do
			grep -qE "^ +$c( |\$)" <<<"$text" ||
				{ echo "${page##*/}: exit code $c is not listed"; bad=1; }
		done
		grep -q '128+N' <<<"$text" ||
			{ echo "${page##*/}: 128+N (signals) is not listed"; bad=1; }
	done
	[ "$bad" = 0 ]
}

@test "man: fc-protocol(7)'s frame example prints what the page says" {
	local cmd want
	cmd=$(sections "$MAN/fc-protocol.7" EXAMPLES | sed -n 's/^ *\$ \(printf .*\)/\1/p')
	want=$(sections "$MAN/fc-protocol.7" EXAMPLES | grep -A1 -F "$cmd" | tail -n 1)
	[ -n "$cmd" ] && [ -n "$want" ]
	run -0 sh -c "$cmd"
	[ "$(squeeze <<<"$output")" = "$(squeeze <<<"$want")" ]
}

@test "man: fc-invoke(1)'s malformed event example fails as the page says" {
	local want
	want=$(sections "$MAN/fc-invoke.1" EXAMPLES | grep -E '^ *fc-invoke: stdin:' | squeeze)
	[ -n "$want" ]
	# The event is refused before the snapshot is even read.
	mkdir "$BATS_TEST_TMPDIR/fn.snap"
	cd "$BATS_TEST_TMPDIR"
	run -3 --separate-stderr sh -c "echo '{\"name\":' | '$ROOT/build/fc-invoke' fn.snap"
	[ -z "$output" ]
	[ "$(squeeze <<<"$stderr")" = "$want" ]
}
