#!/bin/bash
# usage.sh: the front door: --help and help texts exit 0 on stdout, usage
# errors exit 2 on stderr with a hint, --version prints the version.
# Input: MC_VERSION_EXPECTED (the project's version).
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

for args in "--help" "-h" "help"; do
	# shellcheck disable=SC2086
	run_mc $args
	check_eq "mlchaos $args: status" 0 "$rc"
	check_contains "mlchaos $args: usage on stdout" "usage: mlchaos <command>" "$out"
	for cmd in run trace check select; do
		check_contains "mlchaos $args lists $cmd" "  $cmd " "$out"
	done
done

for cmd in run trace; do
	run_mc "$cmd" --help
	check_eq "$cmd --help: status" 0 "$rc"
	check_contains "$cmd --help: usage" "usage: mlchaos $cmd" "$out"
	check_contains "$cmd --help: exit codes" "127 CMD not found" "$out"
	check_eq "$cmd --help: nothing on stderr" "" "$err"
	run_mc help "$cmd"
	check_eq "help $cmd: status" 0 "$rc"
	check_contains "help $cmd: same text" "usage: mlchaos $cmd" "$out"
	run_mc "$cmd" -h
	check_eq "$cmd -h: status" 0 "$rc"
done
run_mc run --help
check_contains "run --help lists -c" "-c, --config FILE" "$out"
run_mc trace --help
check_contains "trace --help lists --json" "--json FILE" "$out"

run_mc --version
check_eq "--version" "0:mlchaos ${MC_VERSION_EXPECTED:-}" "$rc:$out"

run_mc
check_eq "no command: status" 2 "$rc"
check_contains "no command: usage on stderr" "usage: mlchaos <command>" "$err"
check_eq "no command: nothing on stdout" "" "$out"

run_mc frobnicate
check_eq "unknown command: status" 2 "$rc"
check_contains "unknown command: message" "mlchaos: unknown command 'frobnicate'" "$err"
check_contains "unknown command: usage follows" "usage: mlchaos <command>" "$err"
run_mc trcae
check_contains "near miss: suggestion" "did you mean 'trace'?" "$err"
run_mc help frobnicate
check_eq "help of an unknown command: status" 2 "$rc"
run_mc --frobnicate
check_eq "unknown global option: status" 2 "$rc"
check_contains "unknown global option: message" "unknown option '--frobnicate'" "$err"

run_mc run
check_eq "run without CMD: status" 2 "$rc"
check_contains "run without CMD: message" "mlchaos run: no command to run" "$err"
check_contains "run without CMD: usage line" "usage: mlchaos run [-c FILE]" "$err"
run_mc run -x true
check_eq "run -x: status" 2 "$rc"
check_contains "run -x: message" "mlchaos run: unknown option -x" "$err"
run_mc run -qz true
check_contains "run -qz: names the bad letter" "unknown option -z" "$err"
run_mc run --quiet -zq true
check_contains "run --quiet -zq: names the bad letter, not --quiet" "unknown option -z" "$err"
# the other commands name a rejected option the same way
run_mc check -zq x.ini
check_contains "check -zq: names the bad letter" "mlchaos check: unknown option '-z'" "$err"
run_mc stats --json -zq
check_contains "stats --json -zq: names the bad letter" "mlchaos stats: unknown option '-z'" "$err"
run_mc reload --timeout
check_contains "reload --timeout: names it" "mlchaos reload: unknown option or missing value '--timeout'" "$err"
run_mc run --bogus true
check_contains "run --bogus: message" "unknown option --bogus" "$err"
run_mc run -c
check_eq "run -c without FILE: status" 2 "$rc"
check_contains "run -c without FILE: message" "missing the FILE argument of -c" "$err"
run_mc trace --json
check_eq "trace --json without FILE: status" 2 "$rc"
check_contains "trace --json without FILE: message" "missing the FILE argument of --json" "$err"
run_mc trace -c x.ini true
check_eq "trace has no -c: status" 2 "$rc"

finish
