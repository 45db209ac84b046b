#!/usr/bin/env bash
# validate.sh: what `mlchaos inject` writes for every sample manifest (manifests/), with each
# set of options, validates against the Kubernetes OpenAPI schemas (validate.mjs, through the
# kubernetes-models package that scripts/setup installs); and a manifest that breaks the schema
# does not, so the validator is seen to judge. Skips (77) without node or the package.
# Inputs (from meson): MLCHAOS, MC_KUBE_DIR.
set -u
: "${MLCHAOS:?}" "${MC_KUBE_DIR:?}"
cd "$MC_KUBE_DIR" || exit 1
if ! command -v node >/dev/null 2>&1; then
	echo "skip: node is not installed (Debian's nodejs)"
	exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mc-kube-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

outputs=()
inject() { # NAME ARGS...
	local name=$1
	shift
	if ! "$MLCHAOS" inject "$@" >"$tmp/$name.yaml"; then
		echo "FAIL: mlchaos inject $*"
		exit 1
	fi
	outputs+=("$tmp/$name.yaml")
}
for kind in deployment statefulset daemonset replicaset replicationcontroller job cronjob list; do
	inject "$kind" --config chaos.ini "manifests/$kind.yaml"
	[ "$kind" = job ] && continue # no pod labels for --service-monitor
	inject "$kind-monitor" --configmap chaos --service-monitor --control-secret ctl \
		--image registry.example/mlchaos:0.1.0 "manifests/$kind.yaml"
done
inject pod --config chaos.ini --container main manifests/pod.yaml
inject json --configmap chaos manifests/deployment.json

node validate.mjs "${outputs[@]}"
status=$?
[ "$status" = 77 ] && exit 77
if [ "$status" != 0 ]; then
	echo "FAIL: an injected manifest does not validate"
	exit 1
fi

# The negative control: a container port that is not a number.
sed 's/containerPort: 9464/containerPort: "not-a-port"/' "$tmp/deployment.yaml" >"$tmp/bad.yaml"
if node validate.mjs "$tmp/bad.yaml" >"$tmp/bad.out"; then
	echo "FAIL: the validator accepted a manifest that breaks the schema"
	exit 1
fi
if ! grep -q "containerPort" "$tmp/bad.out"; then
	echo "FAIL: the validator's complaint does not name containerPort: $(cat "$tmp/bad.out")"
	exit 1
fi
echo "${#outputs[@]} manifests validated; the broken one refused"
