#!/bin/bash
# exit-status.sh: mlchaos run returns the command's status (128+N for signal
# N), 127 and 126 with a message when the command cannot be run, and starts
# the child with nothing of its own (no extra descriptors).
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
export MLCHAOS_LIB="$MC_PROBE"

for status in 0 3 42 255; do
	run_mc run -- sh -c "exit $status"
	check_eq "exit $status passes through" "$status" "$rc"
	check_eq "exit $status: mlchaos says nothing" "" "$err"
done

run_mc run sh -c 'kill -TERM $$'
check_eq "child killed by SIGTERM" 143 "$rc"
run_mc run sh -c 'kill -KILL $$'
check_eq "child killed by SIGKILL" 137 "$rc"

run_mc run mc-no-such-command-xyz arg
check_eq "command not on PATH: status" 127 "$rc"
check_eq "command not on PATH: message" "mlchaos: mc-no-such-command-xyz: command not found" "$err"

run_mc run "$tmp/missing/prog"
check_eq "missing path: status" 127 "$rc"
check_contains "missing path: message" "mlchaos: $tmp/missing/prog: no such file" "$err"

# A child that itself exits 127 is not reported as "not found".
run_mc run sh -c 'exit 127'
check_eq "child's own 127" 127 "$rc"
check_eq "child's own 127: no message" "" "$err"

printf '#!/bin/sh\nexit 0\n' >"$tmp/noexec"
chmod 644 "$tmp/noexec"
run_mc run "$tmp/noexec"
check_eq "not executable: status" 126 "$rc"
check_contains "not executable: message" "mlchaos: $tmp/noexec: cannot execute: Permission denied" "$err"

mkdir "$tmp/adir"
run_mc run "$tmp/adir"
check_eq "a directory: status" 126 "$rc"

mkdir "$tmp/bin"
printf '#!/bin/sh\n' >"$tmp/bin/mc-noexec-tool"
chmod 644 "$tmp/bin/mc-noexec-tool"
rc=0
PATH="$tmp/bin:$PATH" "$MLCHAOS" run mc-noexec-tool 2>"$tmp/stderr" || rc=$?
check_eq "on PATH but not executable: status" 126 "$rc"
check_contains "on PATH but not executable: names the file" "$tmp/bin/mc-noexec-tool" "$(cat "$tmp/stderr")"

printf '#!/nonexistent/interpreter\n' >"$tmp/badinterp"
chmod 755 "$tmp/badinterp"
run_mc run "$tmp/badinterp"
check_eq "missing interpreter: status" 126 "$rc"
check_contains "missing interpreter: message" "its interpreter /nonexistent/interpreter does not exist" "$err"

# Not ELF, no #!: execvp hands it to /bin/sh, as a shell would.
printf 'exit 5\n' >"$tmp/plain"
chmod 755 "$tmp/plain"
run_mc run "$tmp/plain"
check_eq "script without #! runs through sh" 5 "$rc"
check_eq "script without #!: no warning" "" "$err"

# The child gets the same descriptors as when run directly (the exec-error
# pipe is close-on-exec).
# shellcheck disable=SC2012 # ls counts its own descriptors, as intended
direct=$(ls /proc/self/fd | wc -l)
run_mc run ls /proc/self/fd
check_eq "no descriptor leaks into the child" "$direct" "$(printf '%s\n' "$out" | wc -l)"

# Arguments after CMD belong to CMD, even when they look like ours.
run_mc run sh -c 'printf "%s|" "$@"' sh -c x -q --help -- y
check_eq "CMD's arguments untouched" "-c|x|-q|--help|--|y|" "$out"
run_mc run -- -mc-dash-command
check_eq "CMD starting with - after --" 127 "$rc"
check_eq "CMD starting with -: message" "mlchaos: -mc-dash-command: command not found" "$err"

finish
