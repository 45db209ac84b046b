#!/usr/bin/env bash
# containerfile.sh: builds scripts/Containerfile, the image of `mlchaos inject`'s init
# container and sidecar, and checks what it holds: the command at its version and the library
# where the init container copies it from. Needs a container runtime that works (podman,
# buildah, or docker with its daemon) and the base image already present (the build never
# pulls); without them it skips (77) and says which is missing.
# Inputs (from meson): MC_SOURCE_ROOT, MC_VERSION_EXPECTED.
set -u
: "${MC_SOURCE_ROOT:?}" "${MC_VERSION_EXPECTED:?}"
BASE=debian:bookworm-slim
TAG=mlchaos-test:$MC_VERSION_EXPECTED

runtime=
for rt in podman docker; do
	if command -v "$rt" >/dev/null 2>&1 && timeout 20 "$rt" info >/dev/null 2>&1; then
		runtime=$rt
		break
	fi
done
if [ -z "$runtime" ]; then
	echo "skip: no working container runtime (podman, or docker with a running daemon)"
	exit 77
fi
if ! "$runtime" image inspect "$BASE" >/dev/null 2>&1; then
	echo "skip: the base image $BASE is not present for $runtime (the test never pulls)"
	exit 77
fi
"$runtime" build --pull=never -f "$MC_SOURCE_ROOT/scripts/Containerfile" -t "$TAG" \
	"$MC_SOURCE_ROOT" || {
	echo "FAIL: $runtime build of scripts/Containerfile"
	exit 1
}
status=0
version=$("$runtime" run --rm "$TAG" --version)
if [ "$version" != "mlchaos $MC_VERSION_EXPECTED" ]; then
	echo "FAIL: mlchaos --version in the image: [$version]"
	status=1
fi
if ! "$runtime" run --rm --entrypoint /bin/sh "$TAG" -c \
	'test -f /usr/local/lib/libmlchaos.so && cp /usr/local/lib/libmlchaos.so /usr/local/bin/mlchaos /tmp/'; then
	echo "FAIL: the init container's copy (cp /usr/local/lib/libmlchaos.so /usr/local/bin/mlchaos DIR) fails in the image"
	status=1
fi
"$runtime" rmi "$TAG" >/dev/null 2>&1 || true
[ "$status" = 0 ] && echo "2 checks passed"
exit "$status"
