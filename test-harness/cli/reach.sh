#!/bin/bash
# reach.sh: what preloading cannot reach is said before the command starts
# (Go by section and by note, setuid, through #! and env), the command still
# runs, --quiet silences it, and ordinary programs get no warning.
# Inputs: MC_HELLO (dynamic C), MC_HELLO_GO (+ .go.buildinfo), MC_GONOTE.
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
: "${MC_HELLO:?}" "${MC_HELLO_GO:?}" "${MC_GONOTE:?}"
export MLCHAOS_LIB="$MC_PROBE"

run_mc run "$MC_HELLO"
check_eq "dynamic C program: runs" "0:hello from cli-hello" "$rc:$out"
check_eq "dynamic C program: no warning" "" "$err"

run_mc run /bin/sh -c true
check_eq "/bin/sh: no warning" "" "$err"

go_msg="is a Go program: Go makes system calls without libc, so faults reach only its cgo calls"
run_mc run "$MC_HELLO_GO"
check_eq "Go (.go.buildinfo): still runs" "0:hello from cli-hello" "$rc:$out"
check_eq "Go (.go.buildinfo): warning" "mlchaos: warning: $MC_HELLO_GO $go_msg and trace sees only those" "$err"

run_mc run "$MC_GONOTE"
check_eq "Go (build ID note): still runs" "0:hello from cli-gonote" "$rc:$out"
check_contains "Go (build ID note): warning" "$MC_GONOTE $go_msg" "$err"

run_mc run -q "$MC_HELLO_GO"
check_eq "-q: runs" "0:hello from cli-hello" "$rc:$out"
check_eq "-q: silent" "" "$err"
run_mc trace --quiet "$MC_HELLO_GO"
check_eq "trace --quiet: silent" "" "$err"
run_mc trace "$MC_HELLO_GO"
check_contains "trace warns too" "$go_msg" "$err"

# Through #!: the interpreter is what the kernel maps.
printf '#!%s\n' "$MC_HELLO_GO" >"$tmp/direct.script"
chmod 755 "$tmp/direct.script"
run_mc run "$tmp/direct.script"
check_contains "#! interpreter: warning names it and the script" \
	"$MC_HELLO_GO (the interpreter of $tmp/direct.script) $go_msg" "$err"

# #!/usr/bin/env NAME: NAME is looked up on PATH; and a chain of two scripts.
mkdir "$tmp/bin"
ln -s "$MC_HELLO_GO" "$tmp/bin/mc-go-interp"
printf '#!/usr/bin/env mc-go-interp\n' >"$tmp/bin/env.script"
printf '#!%s/bin/env.script\n' "$tmp" >"$tmp/bin/chain.script"
printf '#!/usr/bin/env -S MC_X=1 mc-go-interp --opt\n' >"$tmp/bin/env-s.script"
chmod 755 "$tmp/bin"/*.script
for s in env.script chain.script env-s.script; do
	rc=0
	PATH="$tmp/bin:$PATH" "$MLCHAOS" run "$s" >"$tmp/stdout" 2>"$tmp/stderr" || rc=$?
	check_eq "$s: runs" "0:hello from cli-hello" "$rc:$(cat "$tmp/stdout")"
	check_contains "$s: resolved through PATH and env" \
		"$tmp/bin/mc-go-interp (the interpreter of $tmp/bin/$s) $go_msg" "$(cat "$tmp/stderr")"
done

# A script for an ordinary interpreter: nothing to say.
printf '#!/bin/sh\nexit 4\n' >"$tmp/sh.script"
chmod 755 "$tmp/sh.script"
run_mc run "$tmp/sh.script"
check_eq "#!/bin/sh script: status" 4 "$rc"
check_eq "#!/bin/sh script: no warning" "" "$err"

# setuid to another user puts the loader in secure-execution mode.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	cp "$MC_HELLO" "$tmp/suid"
	chown nobody "$tmp/suid"
	chmod 4755 "$tmp/suid"
	run_mc run "$tmp/suid"
	# (a sanitizer runtime refuses to run setuid: then only the warning counts)
	if [ -z "${MC_SANITIZED:-}" ]; then
		check_eq "setuid: still runs" "0:hello from cli-hello" "$rc:$out"
	fi
	check_contains "setuid: warning" "mlchaos: warning: $tmp/suid is setuid: the loader ignores LD_PRELOAD" "$err"
	cp "$MC_HELLO" "$tmp/sgid"
	chgrp nogroup "$tmp/sgid" 2>/dev/null || chgrp nobody "$tmp/sgid"
	chmod 2755 "$tmp/sgid"
	run_mc run "$tmp/sgid"
	check_contains "setgid: warning" "$tmp/sgid is setgid" "$err"
else
	echo "note: not root, setuid/setgid warnings not checked (they need a file owned by another user)"
fi
cp "$MC_HELLO" "$tmp/own-suid"
chmod 4755 "$tmp/own-suid"
run_mc run "$tmp/own-suid"
check_eq "setuid to ourselves changes nothing: no warning" "" "$err"

finish
