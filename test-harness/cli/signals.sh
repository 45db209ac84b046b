#!/bin/bash
# shellcheck disable=SC2016 # single quotes: expanded by the child shell
# signals.sh: signals sent to mlchaos reach the child, mlchaos waits for it
# and returns its status; the child starts with the signal mask and ignored
# set mlchaos started with, not with mlchaos' own handlers.
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
export MLCHAOS_LIB="$MC_PROBE"

# The waits are deadlines for what must happen, not measures of speed: 30 s
# (600 rounds of at least 50 ms) leaves room for a busy machine.
wait_for_file() {
	for _ in $(seq 1 600); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_exit PID: waits at least 30 s for mlchaos to end, leaving its status in
# $rc; if it does not, kills it and its child (a forwarding failure must
# fail the test, not hang it).
wait_exit() {
	for _ in $(seq 1 600); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null; then
		pkill -KILL -P "$1" || true
		kill -KILL "$1" || true
		fail "mlchaos (pid $1) still running 30 s after the signal"
	fi
	rc=0
	wait "$1" || rc=$?
}

# forward_case SIGNAL STATUS: the child traps SIGNAL and exits with STATUS.
forward_case() {
	local sig=$1 want=$2 ready="$tmp/ready.$1" got="$tmp/got.$1" pid
	"$MLCHAOS" run -- sh -c '
		trap "echo $0 >\"$1\"; exit $3" '"$sig"'
		echo ready >"$2"
		while :; do sleep 0.05; done' "$sig" "$got" "$ready" "$want" &
	pid=$!
	if ! wait_for_file "$ready"; then
		fail "$sig: the child never started"
		kill -KILL "$pid" 2>/dev/null || true
		return
	fi
	kill -s "$sig" "$pid"
	wait_exit "$pid"
	check_eq "$sig forwarded: mlchaos returns the child's status" "$want" "$rc"
	check_eq "$sig forwarded: the child saw it" "$sig" "$(cat "$got" 2>/dev/null)"
}

forward_case TERM 7
forward_case HUP 8
forward_case USR1 9
forward_case USR2 10

# A child that does not catch it dies of it: 128+N.
"$MLCHAOS" run -- sh -c 'echo ready >"$1"; while :; do sleep 0.05; done' sh "$tmp/ready.kill" &
pid=$!
if wait_for_file "$tmp/ready.kill"; then
	kill -TERM "$pid"
	wait_exit "$pid"
	check_eq "uncaught SIGTERM: 128+15" 143 "$rc"
else
	fail "uncaught SIGTERM: the child never started"
	kill -KILL "$pid" 2>/dev/null || true
fi

# Mask and ignored signals: the same as when run directly. A background
# job of a script starts with SIGINT and SIGQUIT ignored: they stay ignored.
direct=$(grep -E '^(SigBlk|SigIgn):' /proc/self/status)
via=$("$MLCHAOS" run cat /proc/self/status | grep -E '^(SigBlk|SigIgn):')
check_eq "child's mask and ignored set as when run directly" "$direct" "$via"
(grep -E '^(SigBlk|SigIgn):' /proc/self/status >"$tmp/bg.direct") &
wait $!
("$MLCHAOS" run cat /proc/self/status | grep -E '^(SigBlk|SigIgn):' >"$tmp/bg.via") &
wait $!
check_eq "background: ignored set kept" "$(cat "$tmp/bg.direct")" "$(cat "$tmp/bg.via")"

finish
