#!/bin/bash
# trace-syscalls.sh: `mlchaos trace` says how many calls went through syscall() around a hook
# family (a stat, from the family table's system calls) or around the fd table (close), and
# does not count those no family does (getpid).
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
: "${MC_REAL_LIB:?}"

# A sanitizer build's library needs its runtime first among the preloads (mlchaos keeps it
# ahead of the library).
runtimes=$(ldd "$MC_REAL_LIB" | awk '$1 ~ /^lib(asan|ubsan|tsan)/ { print $3 }' | paste -sd: -)
if [ -n "$runtimes" ]; then
	export LD_PRELOAD="$runtimes"
fi
run_mc trace --json "$tmp/calls.json" "$MC_RAWCALLS"
check_eq "trace rawcalls: status" 0 "$rc"
check_contains "trace rawcalls: the warning counts the stat and the close, not getpid" \
	"trace: 2 I/O, memory or sleep calls went through syscall()" "$err"
check_contains "trace rawcalls: the rows are in the JSON" '"fn":"syscall"' "$(cat "$tmp/calls.json")"
finish
