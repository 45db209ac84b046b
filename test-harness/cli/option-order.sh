#!/bin/bash
# option-order.sh: every command that takes options and operands takes its
# options before or after them, with the same outcome (status, stdout and
# stderr), and '--' ends the options: an operand after it that looks like an
# option gets the operand's error. run and trace are the exception, checked
# too: their options end at CMD, whose own options are left to it.
# Inputs: MC_REAL_LIB (the library, for a live process to name by pid).
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

: "${MC_REAL_LIB:?}"

# GNU getopt stops at the first operand when this is set, as GNU tools do.
unset POSIXLY_CORRECT

# A live process under the real library: its counters never move (sleep sends
# nothing), so two runs of stats in a row print the same thing, and a reload
# request is never taken (no hooked call of its family): it times out.
cat >"$tmp/chaos.ini" <<'EOF'
[mlchaos]
seed = 7

[fault.reset]
hook = send
action = fail
errno = ECONNRESET
rate = 50%
EOF
printf '[fault.x]\nhook = nosuch\n' >"$tmp/bad.ini"
runtimes=$(ldd "$MC_REAL_LIB" | awk '$1 ~ /^lib(asan|ubsan|tsan)/ { print $3 }' | paste -sd: -)
LD_PRELOAD="${runtimes:+$runtimes:}$MC_REAL_LIB" MLCHAOS_CONFIG="$tmp/chaos.ini" sleep 120 &
pid=$!
# Killed, it cannot remove its segment: stats then removes it as stale.
trap 'kill "$pid" 2>/dev/null || :; wait "$pid" 2>/dev/null || :
	"$MLCHAOS" stats "$pid" >/dev/null 2>&1 || :; rm -rf "$tmp"' EXIT
# Its segment is there before it is published: wait until stats can read it.
for _ in $(seq 400); do
	"$MLCHAOS" stats "$pid" >/dev/null 2>&1 && break
	sleep 0.05
done
"$MLCHAOS" stats "$pid" >/dev/null 2>&1 || {
	echo "FAIL: pid $pid has no published segment after 20 s" >&2
	exit 1
}

# same_outcome WHAT STATUS ARGS... -- ARGS...: runs mlchaos with the words
# before '--' and then with those after it (one order, then the other);
# both must exit STATUS and print the same. '---' stands for a literal '--'.
# Lines of top's that carry the time are left out of the comparison.
same_outcome() {
	local what=$1 status=$2 a=() b=() w
	shift 2
	while [ "$1" != "--" ]; do
		a+=("$1")
		shift
	done
	shift
	b=("$@")
	for w in "${!a[@]}"; do [ "${a[w]}" = "---" ] && a[w]="--"; done
	for w in "${!b[@]}"; do [ "${b[w]}" = "---" ] && b[w]="--"; done
	run_mc "${a[@]}"
	local rc_a=$rc out_a err_a
	out_a=$(grep -v '^--- ' <<<"$out" || true)
	err_a=$err
	run_mc "${b[@]}"
	out=$(grep -v '^--- ' <<<"$out" || true)
	check_eq "$what: status of '${a[*]}'" "$status" "$rc_a"
	check_eq "$what: status of '${b[*]}'" "$status" "$rc"
	check_eq "$what: same stdout both ways" "$out_a" "$out"
	check_eq "$what: same stderr both ways" "$err_a" "$err"
}

# ---- the commands that name processes ----
same_outcome "stats --json" 0 stats --json "$pid" -- stats "$pid" --json
check_contains "stats --json: JSON of the pid" "{\"processes\":[{\"pid\":$pid," "$out"
same_outcome "stats, PID and --all" 2 stats --all "$pid" -- stats "$pid" --all
check_contains "stats, PID and --all: message" "give PIDs or --all, not both" "$err"
same_outcome "top --iterations" 0 top --iterations 1 --interval 0.01 "$pid" -- \
	top "$pid" --interval 0.01 --iterations 1
check_contains "top: the pid shown" "process $pid  sleep" "$out"
same_outcome "top, PID and --all" 2 top --iterations 1 --all "$pid" -- \
	top "$pid" --all --iterations 1
check_contains "top, PID and --all: message" "give PIDs or --all, not both" "$err"
same_outcome "halt --timeout" 0 halt --timeout 5 "$pid" -- halt "$pid" --timeout 5
check_eq "halt: halted" "process $pid (sleep): halted" "$out"
same_outcome "halt, PID and --all" 2 halt --all "$pid" -- halt "$pid" --all
check_contains "halt, PID and --all: message" "give PIDs or --all, not both" "$err"
same_outcome "resume --watchdog" 0 resume --watchdog "$pid" -- resume "$pid" --watchdog
check_eq "resume: resumed" "process $pid (sleep): resumed" "$out"
same_outcome "resume, PID and --all" 2 resume --all "$pid" -- resume "$pid" --all
same_outcome "reload -c invalid" 1 reload -c "$tmp/bad.ini" "$pid" -- reload "$pid" -c "$tmp/bad.ini"
check_contains "reload -c invalid: not sent" "is not valid: not asking the process" "$err"
same_outcome "reload --timeout" 2 reload --timeout 0.1 "$pid" -- reload "$pid" --timeout 0.1
check_contains "reload --timeout: waited" "has not reloaded after 0.1 s" "$err"

# '--' ends the options: what follows is a PID, and gets a PID's error.
for cmd in stats top halt resume reload; do
	run_mc "$cmd" -- --json
	check_eq "$cmd -- --json: status" 2 "$rc"
	check_contains "$cmd -- --json: an operand" "'--json' is not a process id" "$err"
	run_mc "$cmd" -- -1
	check_contains "$cmd -- -1: a negative number is an operand" "'-1' is not a process id" "$err"
	run_mc "$cmd" -1
	check_eq "$cmd -1: status" 2 "$rc"
	check_contains "$cmd -1: an option without --" "mlchaos $cmd: unknown option" "$err"
done
# An unknown option after the operands is named, not the operand before it,
# also from inside a cluster.
run_mc stats "$pid" --json -zj
check_eq "stats PID --json -zj: status" 2 "$rc"
check_contains "stats PID --json -zj: names -z" "mlchaos stats: unknown option '-z'" "$err"
run_mc check "$tmp/chaos.ini" -xq
check_contains "check FILE -xq: names -x" "mlchaos check: unknown option '-x'" "$err"
run_mc report "$tmp/chaos.ini" --bogus
check_contains "report LOG --bogus: names it" "mlchaos report: unknown option '--bogus'" "$err"

same_outcome "stats, operand after --" 2 stats --json --- "$pid" --all -- \
	stats "$pid" --json --- --all
check_contains "stats, operand after --" "'--all' is not a process id" "$err"

# ---- the commands that name files and rules ----
same_outcome "check -q" 0 check -q "$tmp/chaos.ini" -- check "$tmp/chaos.ini" -q
check_eq "check -q: quiet" "" "$out"
same_outcome "check -q, invalid" 1 check -q "$tmp/bad.ini" "$tmp/chaos.ini" -- \
	check "$tmp/bad.ini" -q "$tmp/chaos.ini"
check_contains "check -q, invalid: the problem" "bad.ini:" "$err"
run_mc check -- -q
check_eq "check -- -q: status" 1 "$rc"
check_contains "check -- -q: a file" "-q: cannot open" "$err"
check_lacks "check -- -q: not an option" "unknown option" "$err"

same_outcome "select -c" 0 select -c "$tmp/chaos.ini" reset a b -- select reset a -c "$tmp/chaos.ini" b
check_contains "select -c: answers" "a " "$out"
same_outcome "select, key after --" 0 select -c "$tmp/chaos.ini" reset --- -x -- \
	select reset -c "$tmp/chaos.ini" --- -x
check_contains "select, key after --: a key" "-x " "$out"
run_mc select -c "$tmp/chaos.ini" reset -x
check_eq "select, -x before --: status" 2 "$rc"
check_contains "select, -x before --: an option" "bad option '-x'" "$err"

printf 'not json\n' >"$tmp/events.jsonl"
same_outcome "report --json" 0 report --json "$tmp/events.jsonl" -- report "$tmp/events.jsonl" --json
check_contains "report --json: JSON" "{" "$out"
run_mc report -- --json
check_eq "report -- --json: status" 2 "$rc"
check_contains "report -- --json: a log" "cannot read --json" "$err"
check_lacks "report -- --json: not an option" "unknown option" "$err"

same_outcome "replay -o" 1 replay -o "$tmp/replay.ini" "$tmp/events.jsonl" -- \
	replay "$tmp/events.jsonl" -o "$tmp/replay.ini"
run_mc replay -o "$tmp/replay.ini" -- --pid
check_eq "replay -- --pid: status" 2 "$rc"
check_contains "replay -- --pid: a log" "cannot read --pid" "$err"

same_outcome "experiment --quiet" 2 experiment --quiet "$tmp/missing.ini" -- \
	experiment "$tmp/missing.ini" --quiet
check_contains "experiment --quiet: the file's error" "missing.ini" "$err"
run_mc experiment -- --json
check_eq "experiment -- --json: status" 2 "$rc"
check_contains "experiment -- --json: a file" "--json: cannot read" "$err"

# metrics takes no operand, wherever it is written
same_outcome "metrics, an operand" 2 metrics --max-requests 1 stray -- metrics stray --max-requests 1
check_contains "metrics, an operand: message" "no arguments expected" "$err"

# ---- run and trace stop at CMD: what follows is CMD's ----
export MLCHAOS_LIB="$MC_PROBE"
for cmd in run trace; do
	run_mc "$cmd" sh -c 'printf "%s," "$@"' sh -q --help -c x
	check_eq "$cmd CMD -q --help -c: status" 0 "$rc"
	check_eq "$cmd CMD -q --help -c: CMD's arguments" "-q,--help,-c,x," "$out"
	run_mc "$cmd" -q -- sh -c 'printf "%s," "$@"' sh -q
	check_eq "$cmd -q -- CMD -q: CMD's arguments" "0:-q," "$rc:$out"
done

finish
