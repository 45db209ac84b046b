# shellcheck shell=bash disable=SC2034 # rc, out, err: results for the tests
# lib.sh: shared by the cli tests (sourced, never run): a private temporary
# directory removed on exit, a clean mlchaos environment, and checks that say
# what was expected when they fail.
# Inputs (from meson): MLCHAOS (the command), MC_PROBE (a stand-in library).

: "${MLCHAOS:?set MLCHAOS to the mlchaos executable}"
: "${MC_PROBE:?set MC_PROBE to the probe library}"

# Nothing from the caller's environment may change what is tested.
unset MLCHAOS_LIB MLCHAOS_CONFIG MLCHAOS_TRACE MLCHAOS_TRACE_JSON LD_PRELOAD MC_PROBE_LOG

# In a sanitizer build mlchaos itself carries ASan, and the tests run it with
# LD_PRELOAD set: ASan must not refuse to start because it is not first.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mc-cli-test.XXXXXX")
tmp=$(cd "$tmp" && pwd -P)
trap 'rm -rf "$tmp"' EXIT
failures=0
checks=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# check_eq WHAT EXPECTED ACTUAL
check_eq() {
	checks=$((checks + 1))
	if [ "$2" != "$3" ]; then
		fail "$1: expected [$2], got [$3]"
	fi
}

# check_contains WHAT NEEDLE HAYSTACK
check_contains() {
	checks=$((checks + 1))
	case "$3" in
	*"$2"*) ;;
	*) fail "$1: expected to contain [$2], got [$3]" ;;
	esac
}

# check_lacks WHAT NEEDLE HAYSTACK
check_lacks() {
	checks=$((checks + 1))
	case "$3" in
	*"$2"*) fail "$1: expected not to contain [$2], got [$3]" ;;
	*) ;;
	esac
}

# run_mc ARGS...: runs mlchaos, keeping stdout in $out, stderr in
# $err and the exit status in $rc, whatever it is.
run_mc() {
	rc=0
	"$MLCHAOS" "$@" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
	out=$(cat "$tmp/stdout")
	err=$(cat "$tmp/stderr")
}

finish() {
	if [ "$failures" -ne 0 ]; then
		echo "$failures of $checks checks failed" >&2
		exit 1
	fi
	echo "$checks checks passed"
	exit 0
}
