#!/usr/bin/env bash
# inject.sh: `mlchaos inject` on sample manifests of every kind (manifests/, YAML and JSON):
# injecting twice is injecting once, --remove gives back the input byte for byte, comments and
# unknown fields survive, an LD_PRELOAD already there stays after the library, one set through
# valueFrom is refused, --container selects, broken YAML and configs get FILE:LINE.
# Inputs (from meson): MLCHAOS, MC_PROBE (for lib.sh), MC_KUBE_DIR (this directory).
set -u
# shellcheck source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"
: "${MC_KUBE_DIR:?set MC_KUBE_DIR to test-harness/kube}"
cd "$MC_KUBE_DIR" || exit 1

# round_trip WHAT FILE ARGS...: inject, inject the result again, remove it.
round_trip() {
	local what=$1 file=$2
	shift 2
	run_mc inject "$@" "$file"
	check_eq "$what: inject exits 0 ($err)" 0 "$rc"
	cp "$tmp/stdout" "$tmp/once.yaml"
	check_contains "$what: init container" "name: mlchaos-init" "$out"
	check_contains "$what: sidecar" "name: mlchaos-metrics" "$out"
	check_contains "$what: MLCHAOS_CONFIG" "value: /etc/mlchaos/mlchaos.ini" "$out"
	run_mc inject "$@" "$tmp/once.yaml"
	checks=$((checks + 1))
	cmp -s "$tmp/once.yaml" "$tmp/stdout" || fail "$what: injecting twice differs from once: $(diff "$tmp/once.yaml" "$tmp/stdout" | head -20)"
	run_mc inject --remove "$tmp/once.yaml"
	check_eq "$what: --remove exits 0 ($err)" 0 "$rc"
	checks=$((checks + 1))
	cmp -s "$file" "$tmp/stdout" || fail "$what: --remove does not give back the input: $(diff "$file" "$tmp/stdout" | head -20)"
	# what was never injected goes through --remove unchanged
	run_mc inject --remove "$file"
	checks=$((checks + 1))
	cmp -s "$file" "$tmp/stdout" || fail "$what: --remove changed a manifest never injected"
}

for kind in deployment statefulset daemonset replicaset replicationcontroller job cronjob list; do
	round_trip "$kind" "manifests/$kind.yaml" --config chaos.ini
	# the Job's pods have no labels for a Service to select (refused below)
	[ "$kind" = job ] && continue
	round_trip "$kind (--configmap, --service-monitor, --control-secret)" \
		"manifests/$kind.yaml" --configmap chaos --service-monitor --control-secret ctl
done
round_trip "pod (--container main)" manifests/pod.yaml --config chaos.ini --container main
# JSON, as `kubectl get -o json` writes it: additions in YAML's flow style, on the lines of
# the entries they follow.
round_trip "json" manifests/deployment.json --configmap chaos --service-monitor
run_mc inject --configmap chaos manifests/deployment.json
check_contains "json: a container's additions after its last entry" \
	'"image": "x", env: [{name: LD_PRELOAD, value: /mlchaos/libmlchaos.so}' "$out"

# What is kept, and where the library goes.
run_mc inject --config chaos.ini manifests/deployment.yaml
check_contains "a comment after a value" "name: model-server   # three replicas" "$out"
check_contains "a comment line" "# trailing comment of the document" "$out"
check_contains "an unknown field" "x-unknown-field: kept as written" "$out"
check_contains "flow style kept" "ports: [{port: 80, targetPort: 8080}]" "$out"
check_contains "LD_PRELOAD: the library first, the value kept, its quoting and comment too" \
	"value: '/mlchaos/libmlchaos.so:/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'   # kept after the library" "$out"
check_contains "a container without LD_PRELOAD gets it" "value: /mlchaos/libmlchaos.so" "$out"
check_contains "the ConfigMap of --config" "kind: ConfigMap" "$out"
check_contains "the ConfigMap holds the config" "delay = 100ms" "$out"
check_contains "the ConfigMap in the workload's namespace" "namespace: serving" "$out"
check_contains "scrape annotations" 'prometheus.io/port: "9464"' "$out"
check_contains "the sidecar listens on every address" '"0.0.0.0:9464"' "$out"
check_contains "/dev/shm shared" "medium: Memory" "$out"
check_contains "the sidecar sees the pod's processes" "shareProcessNamespace: true" "$out"
check_eq "both containers get MLCHAOS_CONFIG" 2 "$(grep -c 'name: MLCHAOS_CONFIG' <<<"$out")"
run_mc inject --config chaos.ini manifests/cronjob.yaml
check_contains "a folded LD_PRELOAD keeps its value after the library" \
	"/mlchaos/libmlchaos.so:/usr/lib/libasan.so.8" "$out"
run_mc inject --configmap chaos manifests/statefulset.yaml
check_contains "a /dev/shm volume of the pod's own is shared with the sidecar" \
	"- name: dshm
          mountPath: /dev/shm" "$out"
check_lacks "no second /dev/shm volume" "mlchaos-shm" "$out"
run_mc inject --configmap chaos --image registry.example/mlchaos:9 manifests/job.yaml
check_eq "--image: both mlchaos containers" 2 "$(grep -c 'image: registry.example/mlchaos:9' <<<"$out")"
check_lacks "--configmap alone emits no ConfigMap" "kind: ConfigMap" "$out"
run_mc inject --configmap chaos --service-monitor --control-secret ctl manifests/deployment.yaml
check_contains "--service-monitor" "kind: ServiceMonitor" "$out"
check_lacks "--service-monitor: no scrape annotations" "prometheus.io/scrape" "$out"
check_contains "--control-secret: the token file" \
	"- --control-token-file
        - /var/run/mlchaos/control/token" "$out"
check_contains "--control-secret: the Secret" "secretName: ctl" "$out"

# A changed config changes the pods' template (their config hash), so that they roll.
sed 's/delay = 100ms/delay = 200ms/' chaos.ini >"$tmp/chaos2.ini"
"$MLCHAOS" inject --config chaos.ini manifests/job.yaml >"$tmp/h1.yaml"
"$MLCHAOS" inject --config "$tmp/chaos2.ini" manifests/job.yaml >"$tmp/h2.yaml"
h1=$(grep 'mlchaos.io/config-hash' "$tmp/h1.yaml")
h2=$(grep 'mlchaos.io/config-hash' "$tmp/h2.yaml")
check_contains "--config: the config's hash on the pods" "mlchaos.io/config-hash: " "$h1"
checks=$((checks + 1))
[ "$h1" != "$h2" ] || fail "a changed config left the config hash as it was: [$h1]"
check_lacks "--configmap alone: no config hash" "config-hash" \
	"$("$MLCHAOS" inject --configmap chaos manifests/job.yaml)"

# Twice with other options is once with the last ones.
"$MLCHAOS" inject --configmap first --container server manifests/deployment.yaml >"$tmp/a.yaml"
run_mc inject --configmap second "$tmp/a.yaml"
"$MLCHAOS" inject --configmap second manifests/deployment.yaml >"$tmp/b.yaml"
check_eq "re-injecting with other options" "$(cat "$tmp/b.yaml")" "$out"

# Standard input.
run_mc inject --configmap chaos - <manifests/list.yaml
check_eq "stdin: exit 0 ($err)" 0 "$rc"
check_contains "stdin: a List's items" "name: mlchaos-init" "$out"

check_contains "stdin: non-ASCII text before the LD_PRELOAD on its line" \
	'{name: LD_PRELOAD, value: "/mlchaos/libmlchaos.so:/opt/é/libx.so"}, {name: MLCHAOS_CONFIG' "$out"

# --container selects.
run_mc inject --config chaos.ini --container proxy manifests/deployment.yaml
check_eq "--container proxy: one container gets the library" 1 "$(grep -c 'name: MLCHAOS_CONFIG' <<<"$out")"
check_contains "--container proxy: server's LD_PRELOAD untouched" \
	"value: '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2'" "$out"
run_mc inject --config chaos.ini --container nosuch manifests/deployment.yaml
check_eq "--container nosuch: exit 2" 2 "$rc"
check_contains "--container nosuch: says so" "no pod has a container named 'nosuch'" "$err"

# Refusals, each with FILE:LINE.
run_mc inject --config chaos.ini manifests/pod.yaml
check_eq "LD_PRELOAD through valueFrom: exit 2" 2 "$rc"
check_contains "LD_PRELOAD through valueFrom: FILE:LINE" "manifests/pod.yaml:15: container 'helper' sets LD_PRELOAD through valueFrom" "$err"
check_eq "refused: nothing written" "" "$out"
run_mc inject --config chaos.ini manifests/broken.yaml
check_eq "broken YAML: exit 2" 2 "$rc"
check_contains "broken YAML: FILE:LINE" "manifests/broken.yaml:11: did not find expected ',' or ']'" "$err"
run_mc inject --remove - <manifests/broken.yaml
check_contains "broken YAML on stdin: FILE:LINE" "<stdin>:11:" "$err"
printf '[mlchaos]\nseed = 1\n[fault.x]\nhook = reed\naction = fail\n' >"$tmp/bad.ini"
run_mc inject --config "$tmp/bad.ini" manifests/job.yaml
check_eq "an invalid config: exit 2" 2 "$rc"
check_contains "an invalid config: the shared parser's FILE:LINE" "$tmp/bad.ini:4:" "$err"
sed 's/MODEL_PATH/MLCHAOS_CONFIG/' manifests/deployment.yaml >"$tmp/cfg.yaml"
run_mc inject --config chaos.ini "$tmp/cfg.yaml"
check_contains "MLCHAOS_CONFIG already set: refused" "$tmp/cfg.yaml:28: container 'server' already sets MLCHAOS_CONFIG" "$err"
run_mc inject --configmap chaos --service-monitor manifests/job.yaml
check_contains "--service-monitor without pod labels: refused" \
	"manifests/job.yaml:8: --service-monitor: the pods of 'batch-eval' have no labels" "$err"
run_mc inject --configmap chaos manifests/alias.yaml
check_eq "an alias in the pod: exit 2" 2 "$rc"
check_contains "an alias in the pod: FILE:LINE of the anchor" \
	"manifests/alias.yaml:9: the pods of 'shared-env' use this node again through an alias" "$err"
run_mc inject manifests/job.yaml
check_eq "no config: usage error" 2 "$rc"
check_contains "no config: says what is needed" "--config FILE.ini or --configmap NAME" "$err"

finish
