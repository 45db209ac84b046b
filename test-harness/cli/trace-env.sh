#!/bin/bash
# shellcheck disable=SC2016 # single quotes: expanded by the child shell
# trace-env.sh: trace sets MLCHAOS_TRACE=1, never passes a config, sets
# MLCHAOS_TRACE_ALL and MLCHAOS_TRACE_SUGGEST for --all and --suggest only, and with
# --json gives an absolute path to a file it created 0600 and never
# truncates; the command's status comes back as with run.
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
export MLCHAOS_LIB="$MC_PROBE"
export MC_PROBE_LOG="$tmp/probe.log"
show='printf "%s|%s|%s" "${MLCHAOS_TRACE-unset}" "${MLCHAOS_CONFIG-unset}" "${MLCHAOS_TRACE_JSON-unset}"'

out=$(MLCHAOS_CONFIG=/some/x.ini MLCHAOS_TRACE_JSON=/elsewhere.json "$MLCHAOS" trace -- sh -c "$show")
check_eq "trace: trace on, no config, no stale JSON path" "1|unset|unset" "$out"
check_contains "trace: library preloaded" "loaded " "$(cat "$MC_PROBE_LOG")"

flags='printf "%s|%s" "${MLCHAOS_TRACE_ALL-unset}" "${MLCHAOS_TRACE_SUGGEST-unset}"'
out=$(MLCHAOS_TRACE_ALL=1 MLCHAOS_TRACE_SUGGEST=1 "$MLCHAOS" trace -- sh -c "$flags")
check_eq "trace: no --all or --suggest left from the environment" "unset|unset" "$out"
out=$("$MLCHAOS" trace --all --suggest -- sh -c "$flags")
check_eq "trace --all --suggest: both exported" "1|1" "$out"
out=$("$MLCHAOS" trace -a -s -- sh -c "$flags")
check_eq "trace -a -s: both exported" "1|1" "$out"

mkdir "$tmp/w"
out=$(cd "$tmp/w" && umask 022 && "$MLCHAOS" trace --json out.json -- sh -c "$show")
check_eq "--json relative: absolute path exported" "1|unset|$tmp/w/out.json" "$out"
check_eq "--json: file created 0600" "600" "$(stat -c %a "$tmp/w/out.json")"

printf '{"previous":1}\n' >"$tmp/w/old.json"
chmod 640 "$tmp/w/old.json"
rc=0
out=$("$MLCHAOS" trace -j "$tmp/w/old.json" sh -c 'printf "{\"new\":1}\n" >>"$MLCHAOS_TRACE_JSON"; exit 42') || rc=$?
check_eq "trace: status passes through" 42 "$rc"
check_eq "--json: never truncated" '{"previous":1}
{"new":1}' "$(cat "$tmp/w/old.json")"
check_eq "--json: an existing file keeps its mode" "640" "$(stat -c %a "$tmp/w/old.json")"

ln -s "$tmp/w/old.json" "$tmp/w/link.json"
run_mc trace --json "$tmp/w/link.json" touch "$tmp/ran"
check_eq "--json symlink: refused" 2 "$rc"
check_eq "--json symlink: message" "mlchaos trace: $tmp/w/link.json: the --json file is a symbolic link, which is not followed; nothing was run; remove it, or choose a path in a directory only you can write" "$err"
run_mc trace --json "$tmp/w" touch "$tmp/ran"
check_eq "--json directory: refused" 2 "$rc"
check_contains "--json directory: message" "$tmp/w: the --json file is a directory, not a regular file" "$err"
run_mc trace --json "$tmp/no/such/dir/x.json" touch "$tmp/ran"
check_eq "--json in a missing directory: refused" 2 "$rc"
check_eq "--json in a missing directory: message" "mlchaos trace: $tmp/no/such/dir/x.json: the --json file cannot be opened for writing: No such file or directory; nothing was run" "$err"
# planted where --json points: a FIFO, a file others may write, another user's file
mkfifo "$tmp/w/fifo.json"
run_mc trace --json "$tmp/w/fifo.json" touch "$tmp/ran"
check_eq "--json FIFO: refused" 2 "$rc"
check_contains "--json FIFO: message" "$tmp/w/fifo.json: the --json file is a FIFO, not a regular file" "$err"
printf 'theirs\n' >"$tmp/w/loose.json"
chmod 666 "$tmp/w/loose.json"
run_mc trace --json "$tmp/w/loose.json" touch "$tmp/ran"
check_eq "--json writable by others: refused" 2 "$rc"
check_contains "--json writable by others: message" "$tmp/w/loose.json: the --json file is writable by group or others (mode 0666); nothing was run; chmod go-w it, or remove it" "$err"
check_eq "--json writable by others: left as it was" "theirs" "$(cat "$tmp/w/loose.json")"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	printf 'theirs\n' >"$tmp/w/other.json"
	chown nobody "$tmp/w/other.json"
	run_mc trace --json "$tmp/w/other.json" touch "$tmp/ran"
	check_eq "--json of another user: refused" 2 "$rc"
	check_contains "--json of another user: message" "$tmp/w/other.json: the --json file belongs to uid $(id -u nobody), not to uid 0" "$err"
	check_eq "--json of another user: left as it was" "theirs" "$(cat "$tmp/w/other.json")"
fi
check_eq "refused --json: nothing ran" "no" "$([ -e "$tmp/ran" ] && echo yes || echo no)"

# The library appends to the file at each traced process's exit: a FIFO put there since must
# not hold the exit. (Not in the sanitizer build: cli-hello carries ASan there, preloaded
# after the library.)
if [ -z "${MC_SANITIZED:-}" ]; then
	rc=0
	timeout 30 env LD_PRELOAD="$MC_REAL_LIB" MLCHAOS_TRACE=1 MLCHAOS_TRACE_JSON="$tmp/w/fifo.json" \
		"$MC_HELLO" >/dev/null 2>"$tmp/stderr" || rc=$?
	check_eq "library, --json file now a FIFO: the traced process exits at once" 0 "$rc"
	check_contains "library, --json file now a FIFO: message" "mlchaos: trace: $tmp/w/fifo.json: the --json file is a FIFO, not a regular file; its rows are on stderr only" "$(cat "$tmp/stderr")"
fi

run_mc trace sh -c 'kill -TERM $$'
check_eq "trace: 128+N" 143 "$rc"
run_mc trace mc-no-such-command-xyz
check_eq "trace: not found" "127:mlchaos: mc-no-such-command-xyz: command not found" "$rc:$err"

finish
