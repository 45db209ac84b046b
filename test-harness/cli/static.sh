#!/bin/bash
# static.sh: a statically linked program gets the warning before it starts,
# still runs, and --quiet silences the warning. Skipped (77) when the
# toolchain could not link statically (no libc.a).
# Input: MC_STATIC, the static program, or empty.
set -eu
if [ -z "${MC_STATIC:-}" ]; then
	echo "skip: no static C library (libc.a) to build a static program"
	exit 77
fi
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
export MLCHAOS_LIB="$MC_PROBE"

run_mc run "$MC_STATIC"
check_eq "static: still runs" "0:hello from cli-hello" "$rc:$out"
check_eq "static: warning" "mlchaos: warning: $MC_STATIC is statically linked: LD_PRELOAD cannot reach it, no fault will be injected and trace will see nothing" "$err"

run_mc run --quiet "$MC_STATIC"
check_eq "static --quiet: silent" "" "$err"

printf '#!%s\n' "$MC_STATIC" >"$tmp/script"
chmod 755 "$tmp/script"
run_mc trace "$tmp/script"
check_contains "static interpreter under trace" "$MC_STATIC (the interpreter of $tmp/script) is statically linked" "$err"

finish
