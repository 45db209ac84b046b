#!/bin/bash
# shellcheck disable=SC2016 # single quotes: expanded by the child shell
# library-lookup.sh: which libmlchaos.so gets preloaded: $MLCHAOS_LIB (must
# exist, made absolute), else the one next to the mlchaos executable (the
# build tree; symlinks to mlchaos followed), else MC_LIBDIR, else an error
# naming the places looked. Inputs: MC_REAL_LIB, MC_LIBDIR.
set -eu
# shellcheck source=lib.sh source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"
: "${MC_REAL_LIB:?}" "${MC_LIBDIR:?}"
show='printf %s "$LD_PRELOAD"'
export MC_PROBE_LOG="$tmp/probe.log"
probe=$(realpath "$MC_PROBE")

out=$(MLCHAOS_LIB="$MC_PROBE" "$MLCHAOS" run sh -c "$show")
check_eq "MLCHAOS_LIB absolute" "$probe" "$out"
check_contains "MLCHAOS_LIB: the library was loaded" "loaded " "$(cat "$MC_PROBE_LOG")"

mkdir "$tmp/libs"
cp "$MC_PROBE" "$tmp/libs/libprobe.so"
out=$(cd "$tmp/libs" && MLCHAOS_LIB=./libprobe.so "$MLCHAOS" run sh -c "$show")
check_eq "MLCHAOS_LIB relative becomes absolute" "$tmp/libs/libprobe.so" "$out"

rc=0
MLCHAOS_LIB="$tmp/nope.so" "$MLCHAOS" run touch "$tmp/ran" 2>"$tmp/stderr" || rc=$?
check_eq "MLCHAOS_LIB missing: status" 2 "$rc"
check_contains "MLCHAOS_LIB missing: message" "mlchaos: MLCHAOS_LIB=$tmp/nope.so: No such file or directory" "$(cat "$tmp/stderr")"
check_eq "MLCHAOS_LIB missing: no fallback, nothing ran" "no" "$([ -e "$tmp/ran" ] && echo yes || echo no)"

# Next to the executable: a copy of mlchaos with the probe beside it.
mkdir "$tmp/bin" "$tmp/links"
cp "$MLCHAOS" "$tmp/bin/mlchaos"
cp "$MC_PROBE" "$tmp/bin/libmlchaos.so"
: >"$MC_PROBE_LOG"
out=$("$tmp/bin/mlchaos" run sh -c "$show")
check_eq "next to the executable" "$tmp/bin/libmlchaos.so" "$out"
check_contains "next to the executable: loaded" "loaded " "$(cat "$MC_PROBE_LOG")"
ln -s "$tmp/bin/mlchaos" "$tmp/links/mlchaos"
out=$("$tmp/links/mlchaos" run sh -c "$show")
check_eq "through a symlink to mlchaos: next to the real executable" "$tmp/bin/libmlchaos.so" "$out"
out=$(MLCHAOS_LIB="$MC_PROBE" "$tmp/bin/mlchaos" run sh -c "$show")
check_eq "MLCHAOS_LIB wins over next to the executable" "$probe" "$out"

# Nowhere: a copy of mlchaos alone.
mkdir "$tmp/lonely"
cp "$MLCHAOS" "$tmp/lonely/mlchaos"
if [ -e "$MC_LIBDIR/libmlchaos.so" ]; then
	out=$("$tmp/lonely/mlchaos" run sh -c "$show")
	check_eq "installed library in MC_LIBDIR" "$(realpath "$MC_LIBDIR/libmlchaos.so")" "$out"
else
	rc=0
	"$tmp/lonely/mlchaos" run touch "$tmp/ran" 2>"$tmp/stderr" || rc=$?
	err=$(cat "$tmp/stderr")
	check_eq "not found anywhere: status" 2 "$rc"
	check_contains "not found: says so" "mlchaos: cannot find libmlchaos.so; looked at:" "$err"
	check_contains "not found: next to mlchaos" "$tmp/lonely/libmlchaos.so (next to mlchaos)" "$err"
	check_contains "not found: install dir" "$MC_LIBDIR/libmlchaos.so (install directory)" "$err"
	check_contains "not found: what to do" "set MLCHAOS_LIB" "$err"
	check_eq "not found: nothing ran" "no" "$([ -e "$tmp/ran" ] && echo yes || echo no)"
fi

# The build tree: build/shim/mlchaos finds build/shim/libmlchaos.so. In a
# sanitizer build that library needs its sanitizer runtimes loaded first,
# which is what mlchaos keeps when they are already in LD_PRELOAD.
runtimes=$(ldd "$MC_REAL_LIB" | awk '$1 ~ /^lib(asan|ubsan|tsan)/ { print $3 }' | paste -sd: -)
rc=0
out=$(LD_PRELOAD="$runtimes" "$MLCHAOS" run sh -c "$show") || rc=$?
check_eq "build tree: status under the real library" 0 "$rc"
check_eq "build tree: the library beside mlchaos" "${runtimes:+$runtimes:}$(realpath "$MC_REAL_LIB")" "$out"

finish
