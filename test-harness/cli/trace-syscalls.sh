#!/bin/bash
# trace-syscalls.sh: `mlchaos trace` says how many calls went through syscall() around a hook
# family (a stat and a read, from the family table's system calls) or around the fd table
# (close), and does not count those no family does (getpid); its rows name each call by what
# it was ("read (via syscall)"), not by its number.
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
check_contains "trace rawcalls: the warning counts the stat, the read and the close, not getpid" \
	"trace: 3 I/O, memory or sleep calls went through syscall()" "$err"
check_contains "trace rawcalls: the rows are in the JSON" '"fn":"syscall"' "$(cat "$tmp/calls.json")"
row=$(printf '%s\n' "$err" | grep -E '^  read \(via syscall\) +1 +0  syscall:[0-9]+$' || true)
check_eq "trace rawcalls: the read's row is named by what it was" 1 \
	"$(printf '%s' "$row" | grep -c 'read (via syscall)')"
check_contains "trace rawcalls: getpid's row too" "getpid (via syscall)" "$err"
check_contains "trace rawcalls: the rows are under their section" \
	"through syscall(), out of the hooks' reach:" "$err"
check_contains "trace rawcalls: the JSON names the read" '"name":"read","calls":1' \
	"$(cat "$tmp/calls.json")"
finish
