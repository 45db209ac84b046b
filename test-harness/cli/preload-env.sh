#!/bin/bash
# shellcheck disable=SC2016 # single quotes: expanded by the child shell
# preload-env.sh: the environment the child sees, from inside the child:
# LD_PRELOAD composed (ours first, after sanitizer runtimes, no duplicate,
# the rest in order) and MLCHAOS_CONFIG made absolute from -c.
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

# Stand-ins the loader can really load, named like the real thing.
for name in liba.so libb.so libasan.so.8 libubsan.so.1 libclang_rt.asan-x86_64.so; do
	cp "$MC_PROBE" "$tmp/$name"
done
probe=$(realpath "$MC_PROBE")
export MLCHAOS_LIB="$MC_PROBE"
export MC_PROBE_LOG="$tmp/probe.log"
show='printf %s "$LD_PRELOAD"'

# preload_case WHAT EXPECTED [LD_PRELOAD value; absent = unset]
preload_case() {
	rc=0
	if [ $# -ge 3 ]; then
		out=$(LD_PRELOAD="$3" "$MLCHAOS" run sh -c "$show" 2>"$tmp/stderr") || rc=$?
	else
		out=$(env -u LD_PRELOAD "$MLCHAOS" run sh -c "$show" 2>"$tmp/stderr") || rc=$?
	fi
	check_eq "$1 (status)" 0 "$rc"
	check_eq "$1" "$2" "$out"
	check_eq "$1: no loader error" "" "$(cat "$tmp/stderr")"
}

preload_case "LD_PRELOAD unset" "$probe"
preload_case "LD_PRELOAD empty" "$probe" ""
preload_case "existing entries keep their order" "$probe:$tmp/liba.so:$tmp/libb.so" "$tmp/liba.so:$tmp/libb.so"
preload_case "space-separated entries" "$probe:$tmp/liba.so:$tmp/libb.so" "$tmp/liba.so $tmp/libb.so"
preload_case "sanitizer stays first" "$tmp/libasan.so.8:$probe:$tmp/liba.so" "$tmp/libasan.so.8:$tmp/liba.so"
preload_case "sanitizers anywhere move before us, in order" \
	"$tmp/libclang_rt.asan-x86_64.so:$tmp/libubsan.so.1:$probe:$tmp/liba.so:$tmp/libb.so" \
	"$tmp/liba.so:$tmp/libclang_rt.asan-x86_64.so:$tmp/libb.so:$tmp/libubsan.so.1"
preload_case "our library not duplicated" "$probe:$tmp/liba.so" "$tmp/liba.so:$probe"
ln -s "$probe" "$tmp/alias.so"
preload_case "our library through a symlink not duplicated" "$probe:$tmp/liba.so" "$tmp/alias.so:$tmp/liba.so"

# The library really is loaded in the child (and its children).
: >"$MC_PROBE_LOG"
run_mc run sh -c 'sh -c true'
check_eq "run: status" 0 "$rc"
check_eq "probe loaded in the shell and its child" 2 "$(grep -c '^loaded ' "$MC_PROBE_LOG")"

# MLCHAOS_CONFIG
show_cfg='printf %s "${MLCHAOS_CONFIG-unset}"'
mkdir -p "$tmp/work/conf"
printf '[experiment]\n' >"$tmp/work/conf/x.ini"
rc=0
out=$(cd "$tmp/work" && "$MLCHAOS" run -c conf/x.ini sh -c "$show_cfg" 2>&1) || rc=$?
check_eq "-c relative: status" 0 "$rc"
check_eq "-c relative becomes absolute" "$tmp/work/conf/x.ini" "$out"
out=$(cd "$tmp/work/conf" && "$MLCHAOS" run --config=../conf/./x.ini -- sh -c "$show_cfg" 2>&1)
check_eq "--config=FILE, normalised" "$tmp/work/conf/x.ini" "$out"
out=$(cd "$tmp/work" && "$MLCHAOS" run -cconf/x.ini sh -c "$show_cfg" 2>&1)
check_eq "-cFILE" "$tmp/work/conf/x.ini" "$out"
out=$("$MLCHAOS" run sh -c "$show_cfg" 2>&1)
check_eq "no -c, no MLCHAOS_CONFIG: stays unset" "unset" "$out"
out=$(MLCHAOS_CONFIG=some/relative.ini "$MLCHAOS" run sh -c "$show_cfg" 2>&1)
check_eq "no -c: MLCHAOS_CONFIG left as it was" "some/relative.ini" "$out"
out=$(MLCHAOS_CONFIG=/old.ini "$MLCHAOS" run -c "$tmp/work/conf/x.ini" sh -c "$show_cfg" 2>&1)
check_eq "-c overrides the environment" "$tmp/work/conf/x.ini" "$out"

: >"$MC_PROBE_LOG"
run_mc run -c "$tmp/nope.ini" touch "$tmp/ran"
check_eq "-c missing file: status" 2 "$rc"
check_contains "-c missing file: message" "cannot use config $tmp/nope.ini: No such file or directory" "$err"
check_eq "-c missing file: the command did not run" "no" "$([ -e "$tmp/ran" ] && echo yes || echo no)"
run_mc run -c "$tmp/work" true
check_eq "-c directory: status" 2 "$rc"
check_contains "-c directory: message" "Is a directory" "$err"

finish
