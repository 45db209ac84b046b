/* cmd_inject.c: `mlchaos inject`: Kubernetes manifests in, the same manifests with the library
 * in their pods out, for `kubectl apply -f -`. Every change is a splice of the input's text
 * (yamlsplice.c), so what it does not change, comments included, comes out byte for byte, and
 * `--remove` deletes exactly what an injection added. Injecting an injected manifest first
 * removes the old injection: twice is once. Never writes anything but standard output. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "commands.h"
#include "config.h"
#include "options.h"
#include "yamlsplice.h"

#ifndef MC_VERSION
#error "MC_VERSION must be defined by the build (meson)"
#endif

/* Paths inside the pod, and the names inject owns: an entry with one of these names is inject's
 * own, and --remove deletes it. */
#define LIB_DIR         "/mlchaos"
#define LIB_PATH        LIB_DIR "/libmlchaos.so"
#define CONFIG_DIR      "/etc/mlchaos"
#define CONFIG_KEY      "mlchaos.ini"
#define CONTROL_DIR     "/var/run/mlchaos/control"
#define METRICS_PORT    9464
#define METRICS_LISTEN  "0.0.0.0:9464"
#define INIT_NAME       "mlchaos-init"
#define SIDECAR_NAME    "mlchaos-metrics"
#define VOL_LIB         "mlchaos-lib"
#define VOL_CONFIG      "mlchaos-config"
#define VOL_SHM         "mlchaos-shm"
#define VOL_CONTROL     "mlchaos-control"
#define MARK_ANNOTATION "mlchaos.io/injected"
/* With --config: the hash of the config, so that a changed config rolls the pods (the
 * library reads its config at start). */
#define HASH_ANNOTATION  "mlchaos.io/config-hash"
#define MANAGED_BY_LABEL "app.kubernetes.io/managed-by"
#define MANAGED_BY       "mlchaos-inject"
#define WORKLOAD_LABEL   "mlchaos.io/workload"
/* In the mark annotation's value (the version first): what inject added that has no name of
 * its own to be recognised by. */
#define MARK_SHARE_PID "shareProcessNamespace"
#define MARK_SCRAPE    "prometheus.io"
#define DEFAULT_IMAGE  "mlchaos:" MC_VERSION
/* Where the image (scripts/Containerfile) installs the command and the library. */
#define IMAGE_BIN "/usr/local/bin/mlchaos"
#define IMAGE_LIB "/usr/local/lib/libmlchaos.so"

#define MAX_CONTAINERS 32
#define MAX_NAMESPACES 16

struct inject {
	/* options */
	const char *image;
	const char *containers[MAX_CONTAINERS];
	bool container_seen[MAX_CONTAINERS];
	unsigned n_containers;
	const char *config_path;
	char *config_text;
	const char *configmap;
	const char *control_secret;
	bool service_monitor;
	/* what the documents added call for */
	char *namespaces[MAX_NAMESPACES]; /* "" for none written */
	unsigned n_namespaces;
	char *trailer; /* documents to append: ConfigMaps, Services, ServiceMonitors */
	size_t trailer_len;
	/* the input */
	struct ys_src *src;
	struct ys_edits edits;
};

static void inject_usage(FILE *out)
{
	fputs("usage: mlchaos inject (--config FILE.ini | --configmap NAME) [options] [FILE]\n"
	      "       mlchaos inject --remove [FILE]\n"
	      "Put libmlchaos.so into the pods of Kubernetes manifests (Deployment, StatefulSet,\n"
	      "DaemonSet, ReplicaSet, Job, CronJob, Pod, List; several documents) read from FILE\n"
	      "or standard input, and write them to standard output for `kubectl apply -f -`.\n"
	      "An init container copies the library into an emptyDir; the selected containers\n"
	      "get LD_PRELOAD (the library first) and MLCHAOS_CONFIG; a sidecar running\n"
	      "`mlchaos metrics --listen 0.0.0.0:9464` serves the counters of every process\n"
	      "of the pod from a shared /dev/shm.\n"
	      "Comments and fields it does not change are copied byte for byte; injecting twice\n"
	      "is injecting once; --remove gives back the manifests as they were.\n"
	      "  --config FILE.ini      validate FILE.ini and emit it as a ConfigMap\n"
	      "  --configmap NAME       the ConfigMap holding mlchaos.ini (with --config: the\n"
	      "                         name of the one emitted; default mlchaos-config)\n"
	      "  --container NAME       preload only into this container (repeatable; default\n"
	      "                         every container of the pod)\n"
	      "  --image IMAGE          the image with mlchaos (default " DEFAULT_IMAGE ")\n"
	      "  --service-monitor      a Service and a ServiceMonitor per workload instead of\n"
	      "                         prometheus.io scrape annotations\n"
	      "  --control-secret NAME  mount Secret NAME into the sidecar and give it\n"
	      "                         --control-token-file (for /halt, /resume, /reload)\n"
	      "  --remove               take an injection out again\n"
	      "  -h, --help             this text\n" MC_HELP_OPTION_ORDER
	      "Exit status: 0 ok, 2 usage error or input that cannot be injected.\n",
	      out);
}

/* ---- reporting ------------------------------------------------------------------------ */

static int fail_at(const struct inject *in, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail_at(const struct inject *in, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%zu: ", in->src->name, n->start_mark.line + 1);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static const char *name_of(struct ys_doc *d, yaml_node_t *m)
{
	const char *s = scalar(ys_get(d, m, "name"));
	return s ? s : "";
}

static bool owned_name(const char *name)
{
	return strncmp(name, "mlchaos-", 8) == 0;
}

/* ---- adding entries ------------------------------------------------------------------- */

/* Fills the new collection coll (a sequence or a mapping) of fragment f. */
typedef void (*fill_fn)(struct inject *in, yaml_document_t *f, int coll, void *arg);

static void emit_at(struct inject *in, yaml_document_t *f, bool block, size_t column, size_t at,
                    const char *before)
{
	yaml_node_t *root = yaml_document_get_root_node(f);
	size_t depth = block ? 2 * column + (root->type == YAML_SEQUENCE_NODE) : 0;
	char *text = yb_emit(f, block, column);
	if (!text) {
		fputs("mlchaos inject: cannot emit YAML (out of memory)\n", stderr);
		exit(2);
	}
	if (before[0] || (block && at == in->src->len && at > 0 && in->src->text[at - 1] != '\n')) {
		const char *lead = before[0] ? before : "\n";
		char *joined = malloc(strlen(lead) + strlen(text) + 1);
		if (!joined)
			exit(2);
		strcpy(joined, lead);
		strcat(joined, text);
		free(text);
		text = joined;
	}
	ys_insert(&in->edits, at, depth, text);
}

/* The last entry of a non-empty collection: an item, or a pair's value. */
static yaml_node_t *last_entry(struct ys_doc *d, yaml_node_t *coll)
{
	if (coll->type == YAML_SEQUENCE_NODE)
		return ys_node(d, coll->data.sequence.items.top[-1]);
	return ys_node(d, coll->data.mapping.pairs.top[-1].value);
}

/* Adds entries to an existing collection: after its last line (block); in a flow one right
 * after its last entry with ", " (on that entry's line, as JSON from kubectl is written), or
 * in an empty one after " " before its closing bracket: a collection inject creates in a
 * flow mapping has no such space, which is how --remove tells the two apart. */
static void append_entries(struct inject *in, struct ys_doc *d, yaml_node_t *coll, fill_fn fill,
                           void *arg)
{
	yaml_document_t f;
	yaml_document_initialize(&f, NULL, NULL, NULL, 1, 1);
	int root = coll->type == YAML_MAPPING_NODE ? yb_map(&f) : yb_seq(&f);
	fill(in, &f, root, arg);
	if (ys_block(coll))
		emit_at(in, &f, true, ys_block_column(in->src, d, coll),
		        ys_line_after(in->src, ys_content_end(in->src, d, coll)), "");
	else if (ys_count(coll))
		emit_at(in, &f, false, 0, ys_content_end(in->src, d, last_entry(d, coll)), ", ");
	else
		emit_at(in, &f, false, 0, ys_offset(in->src, coll->end_mark) - 1, " ");
}

struct new_key {
	const char *key;
	bool mapping;
	fill_fn fill;
	void *arg;
};

static void fill_new_key(struct inject *in, yaml_document_t *f, int coll, void *arg)
{
	struct new_key *k = arg;
	int value = k->mapping ? yb_map(f) : yb_seq(f);
	k->fill(in, f, value, k->arg);
	yb_put(f, coll, k->key, value);
}

/* Adds entries to the collection under key in mapping m, creating the key when m lacks it.
 * -1 (reported) when the key holds something else. */
static int add_under(struct inject *in, struct ys_doc *d, yaml_node_t *m, const char *key,
                     bool mapping, fill_fn fill, void *arg)
{
	yaml_node_t *v = ys_get(d, m, key);
	if (!v) {
		struct new_key k = { key, mapping, fill, arg };
		append_entries(in, d, m, fill_new_key, &k);
		return 0;
	}
	if (v->type != (mapping ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE))
		return fail_at(in, v, "'%s' should be a %s; write %s for an empty one", key,
		               mapping ? "mapping" : "list", mapping ? "{}" : "[]");
	append_entries(in, d, v, fill, arg);
	return 0;
}

/* ---- what is added -------------------------------------------------------------------- */

static int kv(yaml_document_t *f, int seq_or_map, const char *k, const char *v)
{
	int m = seq_or_map ? seq_or_map : yb_map(f);
	yb_put(f, m, k, yb_str(f, v));
	return m;
}

static int str_list(yaml_document_t *f, const char *const *v)
{
	int seq = yb_seq(f);
	for (; *v; v++)
		yb_push(f, seq, yb_str(f, *v));
	return seq;
}

static int mount(yaml_document_t *f, const char *name, const char *path, bool ro)
{
	int m = kv(f, 0, "name", name);
	yb_put(f, m, "mountPath", yb_str(f, path));
	if (ro)
		yb_put(f, m, "readOnly", yb_bool(f, true));
	return m;
}

struct pod {
	struct ys_doc *d;
	yaml_node_t *holder; /* the mapping with metadata and spec: a template or a Pod */
	yaml_node_t *spec;
	const char *shm_volume;                  /* the pod's own /dev/shm volume, or NULL */
	yaml_node_t *ld_preload[MAX_CONTAINERS]; /* per selected container, when it has one */
};

struct container_arg {
	struct pod *pod;
	yaml_node_t *ld_preload; /* the container's LD_PRELOAD entry, or NULL */
};

static void fill_env(struct inject *in, yaml_document_t *f, int seq, void *arg)
{
	struct container_arg *c = arg;
	(void)in;
	if (!c->ld_preload)
		yb_push(f, seq, kv(f, kv(f, 0, "name", "LD_PRELOAD"), "value", LIB_PATH));
	yb_push(f, seq,
	        kv(f, kv(f, 0, "name", "MLCHAOS_CONFIG"), "value", CONFIG_DIR "/" CONFIG_KEY));
}

static void fill_mounts(struct inject *in, yaml_document_t *f, int seq, void *arg)
{
	struct container_arg *c = arg;
	(void)in;
	yb_push(f, seq, mount(f, VOL_LIB, LIB_DIR, true));
	yb_push(f, seq, mount(f, VOL_CONFIG, CONFIG_DIR, true));
	if (!c->pod->shm_volume)
		yb_push(f, seq, mount(f, VOL_SHM, "/dev/shm", false));
}

static void fill_init_containers(struct inject *in, yaml_document_t *f, int seq, void *arg)
{
	struct pod *p = arg;
	static const char *const copy[] = { "cp", IMAGE_LIB, IMAGE_BIN, LIB_DIR "/", NULL };
	const char *serve[] = {
		IMAGE_BIN, "metrics", "--listen", METRICS_LISTEN, NULL, NULL, NULL
	};

	int init = kv(f, 0, "name", INIT_NAME);
	kv(f, init, "image", in->image);
	yb_put(f, init, "command", str_list(f, copy));
	int mounts = yb_seq(f);
	yb_push(f, mounts, mount(f, VOL_LIB, LIB_DIR, false));
	yb_put(f, init, "volumeMounts", mounts);
	yb_push(f, seq, init);

	/* A native sidecar (an init container that keeps running): it starts before the
	 * containers it watches and does not keep a Job from completing. */
	if (in->control_secret) {
		serve[4] = "--control-token-file";
		serve[5] = CONTROL_DIR "/token";
	}
	int side = kv(f, 0, "name", SIDECAR_NAME);
	kv(f, side, "image", in->image);
	kv(f, side, "restartPolicy", "Always");
	yb_put(f, side, "command", str_list(f, serve));
	int ports = yb_seq(f);
	int port = kv(f, 0, "name", SIDECAR_NAME);
	yb_put(f, port, "containerPort", yb_int(f, METRICS_PORT));
	yb_push(f, ports, port);
	yb_put(f, side, "ports", ports);
	mounts = yb_seq(f);
	yb_push(f, mounts, mount(f, p->shm_volume ? p->shm_volume : VOL_SHM, "/dev/shm", false));
	if (in->control_secret)
		yb_push(f, mounts, mount(f, VOL_CONTROL, CONTROL_DIR, true));
	yb_put(f, side, "volumeMounts", mounts);
	yb_push(f, seq, side);
}

static void fill_volumes(struct inject *in, yaml_document_t *f, int seq, void *arg)
{
	struct pod *p = arg;

	int lib = kv(f, 0, "name", VOL_LIB);
	yb_put(f, lib, "emptyDir", yb_map(f));
	yb_push(f, seq, lib);
	int cfg = kv(f, 0, "name", VOL_CONFIG);
	yb_put(f, cfg, "configMap", kv(f, 0, "name", in->configmap));
	yb_push(f, seq, cfg);
	if (!p->shm_volume) {
		int shm = kv(f, 0, "name", VOL_SHM);
		yb_put(f, shm, "emptyDir", kv(f, 0, "medium", "Memory"));
		yb_push(f, seq, shm);
	}
	if (in->control_secret) {
		int ctl = kv(f, 0, "name", VOL_CONTROL);
		int secret = kv(f, 0, "secretName", in->control_secret);
		yb_put(f, secret, "defaultMode", yb_int(f, 0400));
		yb_put(f, ctl, "secret", secret);
		yb_push(f, seq, ctl);
	}
}

struct annotations_arg {
	const char *marks; /* what inject added that carries no name of its own */
};

static void fill_annotations(struct inject *in, yaml_document_t *f, int map, void *arg)
{
	struct annotations_arg *a = arg;
	kv(f, map, MARK_ANNOTATION, a->marks);
	if (in->config_text) {
		char hash[24];
		snprintf(hash, sizeof(hash), "%016llx",
		         (unsigned long long)XXH64(in->config_text, strlen(in->config_text), 0));
		kv(f, map, HASH_ANNOTATION, hash);
	}
	if (!in->service_monitor) {
		char port[16];
		snprintf(port, sizeof(port), "%d", METRICS_PORT);
		kv(f, map, "prometheus.io/scrape", "true");
		kv(f, map, "prometheus.io/port", port);
		kv(f, map, "prometheus.io/path", "/metrics");
	}
}

static void fill_metadata(struct inject *in, yaml_document_t *f, int map, void *arg)
{
	int ann = yb_map(f);
	fill_annotations(in, f, ann, arg);
	yb_put(f, map, "annotations", ann);
}

static void fill_share_pid(struct inject *in, yaml_document_t *f, int map, void *arg)
{
	(void)in;
	(void)arg;
	yb_put(f, map, "shareProcessNamespace", yb_bool(f, true));
}

/* ---- injecting a pod ------------------------------------------------------------------ */

static bool selected(struct inject *in, const char *name)
{
	if (in->n_containers == 0)
		return true;
	for (unsigned i = 0; i < in->n_containers; i++)
		if (strcmp(in->containers[i], name) == 0) {
			in->container_seen[i] = true;
			return true;
		}
	return false;
}

/* The entry of env named name, or NULL. */
static yaml_node_t *env_entry(struct ys_doc *d, yaml_node_t *c, const char *name)
{
	yaml_node_t *env = ys_get(d, c, "env");
	if (!env || env->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = env->data.sequence.items.start; i < env->data.sequence.items.top;
	     i++)
		if (ys_is(ys_get(d, ys_node(d, *i), "name"), name))
			return ys_node(d, *i);
	return NULL;
}

/* The volume a container mounts at /dev/shm, or NULL. */
static const char *shm_mount(struct ys_doc *d, yaml_node_t *c)
{
	yaml_node_t *mounts = ys_get(d, c, "volumeMounts");
	if (!mounts || mounts->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = mounts->data.sequence.items.start;
	     i < mounts->data.sequence.items.top; i++) {
		yaml_node_t *m = ys_node(d, *i);
		if (ys_is(ys_get(d, m, "mountPath"), "/dev/shm") ||
		    ys_is(ys_get(d, m, "mountPath"), "/dev/shm/"))
			return name_of(d, m);
	}
	return NULL;
}

/* Where a scalar's characters begin: after an opening quote, or on the first line of a
 * block scalar's content. */
static size_t scalar_text_start(const struct ys_src *src, const yaml_node_t *v)
{
	size_t at = ys_offset(src, v->start_mark);
	switch (v->data.scalar.style) {
	case YAML_SINGLE_QUOTED_SCALAR_STYLE:
	case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
		return at + 1;
	case YAML_LITERAL_SCALAR_STYLE:
	case YAML_FOLDED_SCALAR_STYLE:
		at = ys_line_after(src, at);
		while (at < src->len && (src->text[at] == ' ' || src->text[at] == '\n'))
			at++;
		return at;
	default:
		return at;
	}
}

/* Checks a selected container; sets *ret_ld to its LD_PRELOAD entry when it has one. */
static int check_container(struct inject *in, struct ys_doc *d, yaml_node_t *c,
                           yaml_node_t **ret_ld)
{
	const char *name = name_of(d, c);
	yaml_node_t *ld = env_entry(d, c, "LD_PRELOAD");
	yaml_node_t *cfg = env_entry(d, c, "MLCHAOS_CONFIG");

	*ret_ld = NULL;
	if (cfg)
		return fail_at(
		    in, cfg,
		    "container '%s' already sets MLCHAOS_CONFIG: inject points it at the "
		    "ConfigMap (--config or --configmap); remove it from the manifest",
		    name);
	if (!ld)
		return 0;
	if (ys_get(d, ld, "valueFrom"))
		return fail_at(
		    in, ld,
		    "container '%s' sets LD_PRELOAD through valueFrom: inject must put "
		    "libmlchaos.so first in it and cannot read the value from here; write "
		    "it with value: or leave it out",
		    name);
	yaml_node_t *v = ys_get(d, ld, "value");
	if (!v || v->type != YAML_SCALAR_NODE ||
	    (v->data.scalar.length == 0 && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE))
		return fail_at(in, ld,
		               "container '%s' has an LD_PRELOAD without a value: give it one or "
		               "remove it",
		               name);
	*ret_ld = v;
	return 0;
}

/* The library first in an LD_PRELOAD the container already has, its value kept after it. */
static void prefix_ld_preload(struct inject *in, yaml_node_t *v)
{
	const char *prefix = v->data.scalar.length ? LIB_PATH ":" : LIB_PATH;
	char *text = strdup(prefix);
	if (!text)
		exit(2);
	ys_insert(&in->edits, scalar_text_start(in->src, v), 0, text);
}

static int note_namespace(struct inject *in, const char *ns)
{
	for (unsigned i = 0; i < in->n_namespaces; i++)
		if (strcmp(in->namespaces[i], ns) == 0)
			return 0;
	if (in->n_namespaces == MAX_NAMESPACES) {
		fprintf(stderr, "mlchaos inject: workloads in more than %d namespaces\n",
		        MAX_NAMESPACES);
		return -1;
	}
	/* a copy: the names outlive the parsed stream */
	in->namespaces[in->n_namespaces] = strdup(ns);
	if (!in->namespaces[in->n_namespaces])
		exit(2);
	in->n_namespaces++;
	return 0;
}

static void add_trailer(struct inject *in, yaml_document_t *f)
{
	char *text = yb_emit(f, true, 0);
	if (!text)
		exit(2);
	size_t n = strlen(text);
	in->trailer = realloc(in->trailer, in->trailer_len + n + 5);
	if (!in->trailer)
		exit(2);
	memcpy(in->trailer + in->trailer_len, "---\n", 4);
	memcpy(in->trailer + in->trailer_len + 4, text, n + 1);
	in->trailer_len += n + 4;
	free(text);
}

/* The metadata of a generated object: labelled as inject's own, and with the workload's
 * label when given (what the ServiceMonitor selects its Service by). */
static int metadata_of(yaml_document_t *f, const char *name, const char *ns, const char *workload)
{
	int meta = kv(f, 0, "name", name);
	if (ns[0])
		kv(f, meta, "namespace", ns);
	int labels = kv(f, 0, MANAGED_BY_LABEL, MANAGED_BY);
	if (workload)
		kv(f, labels, WORKLOAD_LABEL, workload);
	yb_put(f, meta, "labels", labels);
	return meta;
}

/* A headless Service over the pods' sidecar port and a ServiceMonitor (prometheus-operator)
 * that scrapes it: the operator finds pods through a Service. */
static int add_service_monitor(struct inject *in, struct pod *p, const char *workload,
                               const char *ns)
{
	yaml_node_t *labels = ys_get(p->d, ys_get(p->d, p->holder, "metadata"), "labels");
	char name[320];
	yaml_document_t f;

	if (!labels || labels->type != YAML_MAPPING_NODE || ys_count(labels) == 0)
		return fail_at(
		    in, p->holder,
		    "--service-monitor: the pods of '%s' have no labels for a Service to "
		    "select",
		    workload);
	snprintf(name, sizeof(name), "%s-mlchaos", workload);

	yaml_document_initialize(&f, NULL, NULL, NULL, 1, 1);
	int svc = kv(&f, 0, "apiVersion", "v1");
	kv(&f, svc, "kind", "Service");
	yb_put(&f, svc, "metadata", metadata_of(&f, name, ns, workload));
	int spec = kv(&f, 0, "clusterIP", "None");
	yb_put(&f, spec, "selector", yb_copy(&f, p->d, labels));
	int ports = yb_seq(&f);
	int port = kv(&f, 0, "name", SIDECAR_NAME);
	yb_put(&f, port, "port", yb_int(&f, METRICS_PORT));
	kv(&f, port, "targetPort", SIDECAR_NAME);
	yb_push(&f, ports, port);
	yb_put(&f, spec, "ports", ports);
	yb_put(&f, svc, "spec", spec);
	add_trailer(in, &f);

	yaml_document_initialize(&f, NULL, NULL, NULL, 1, 1);
	int mon = kv(&f, 0, "apiVersion", "monitoring.coreos.com/v1");
	kv(&f, mon, "kind", "ServiceMonitor");
	yb_put(&f, mon, "metadata", metadata_of(&f, name, ns, NULL));
	spec = yb_map(&f);
	int selector = yb_map(&f);
	yb_put(&f, selector, "matchLabels", kv(&f, 0, WORKLOAD_LABEL, workload));
	yb_put(&f, spec, "selector", selector);
	int endpoints = yb_seq(&f);
	int endpoint = kv(&f, 0, "port", SIDECAR_NAME);
	kv(&f, endpoint, "path", "/metrics");
	yb_push(&f, endpoints, endpoint);
	yb_put(&f, spec, "endpoints", endpoints);
	yb_put(&f, mon, "spec", spec);
	add_trailer(in, &f);
	return 0;
}

/* The first node reached twice under n (seen: one flag per node of the document), or NULL:
 * an anchor (&NAME) used again through an alias (*NAME). */
static yaml_node_t *shared_node(struct ys_doc *d, yaml_node_t *n, unsigned char *seen)
{
	size_t id = (size_t)(n - d->doc.nodes.start);
	yaml_node_t *found = NULL;

	if (seen[id]++)
		return n;
	if (n->type == YAML_SEQUENCE_NODE)
		for (yaml_node_item_t *i = n->data.sequence.items.start;
		     i < n->data.sequence.items.top && !found; i++)
			found = shared_node(d, ys_node(d, *i), seen);
	else if (n->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top && !found; p++) {
			found = shared_node(d, ys_node(d, p->key), seen);
			if (!found)
				found = shared_node(d, ys_node(d, p->value), seen);
		}
	return found;
}

/* Aliases are refused in a pod inject changes: the text of an alias is not its node's (the
 * parser gives it its anchor's marks), and a change in place would reach every use. */
static int check_no_alias(struct inject *in, struct pod *p, const char *workload)
{
	size_t n = (size_t)(p->d->doc.nodes.top - p->d->doc.nodes.start);
	unsigned char *seen = calloc(n ? n : 1, 1);
	if (!seen)
		exit(2);
	yaml_node_t *shared = shared_node(p->d, p->holder, seen);
	free(seen);
	if (!shared)
		return 0;
	return fail_at(in, shared,
	               "the pods of '%s' use this node again through an alias (*NAME): inject "
	               "changes text in place and cannot follow aliases; write the copies out",
	               workload);
}

static int inject_pod(struct inject *in, struct pod *p, const char *workload, const char *ns)
{
	struct ys_doc *d = p->d;
	yaml_node_t *containers = ys_get(d, p->spec, "containers");
	yaml_node_t *chosen[MAX_CONTAINERS];
	unsigned n = 0, with_shm = 0;

	if (!containers || containers->type != YAML_SEQUENCE_NODE)
		return fail_at(in, p->spec, "the pods of '%s' have no list of containers",
		               workload);
	for (yaml_node_item_t *i = containers->data.sequence.items.start;
	     i < containers->data.sequence.items.top && n < MAX_CONTAINERS; i++) {
		yaml_node_t *c = ys_node(d, *i);
		if (c->type != YAML_MAPPING_NODE || !selected(in, name_of(d, c)))
			continue;
		if (check_container(in, d, c, &p->ld_preload[n]) < 0)
			return -1;
		const char *shm = shm_mount(d, c);
		if (shm && p->shm_volume && strcmp(shm, p->shm_volume) != 0)
			return fail_at(
			    in, c,
			    "containers of '%s' mount different volumes at /dev/shm (%s, "
			    "%s): the sidecar can share only one",
			    workload, p->shm_volume, shm);
		if (shm) {
			p->shm_volume = shm;
			with_shm++;
		}
		chosen[n++] = c;
	}
	if (n == 0)
		return 0;
	if (check_no_alias(in, p, workload) < 0)
		return -1;
	if (with_shm && with_shm != n)
		return fail_at(in, containers,
		               "in '%s', some containers mount volume '%s' at /dev/shm and some do "
		               "not: mount it in all of them or pick containers with --container",
		               workload, p->shm_volume);

	yaml_node_t *share = ys_get(d, p->spec, "shareProcessNamespace");
	if (share && !ys_is(share, "true"))
		return fail_at(
		    in, share,
		    "the pods of '%s' set shareProcessNamespace to %s: the metrics sidecar "
		    "must see the processes whose counters it serves",
		    workload, scalar(share) ? scalar(share) : "something else");
	yaml_node_t *meta = ys_get(d, p->holder, "metadata");
	yaml_node_t *ann = ys_get(d, meta, "annotations");
	if (!in->service_monitor && ys_get(d, ann, "prometheus.io/scrape"))
		return fail_at(
		    in, ys_get(d, ann, "prometheus.io/scrape"),
		    "the pods of '%s' already have prometheus.io scrape annotations: use "
		    "--service-monitor for the sidecar's counters",
		    workload);

	for (unsigned i = 0; i < n; i++) {
		struct container_arg c = { p, p->ld_preload[i] };
		if (c.ld_preload)
			prefix_ld_preload(in, c.ld_preload);
		if (add_under(in, d, chosen[i], "env", false, fill_env, &c) < 0 ||
		    add_under(in, d, chosen[i], "volumeMounts", false, fill_mounts, &c) < 0)
			return -1;
	}
	if (add_under(in, d, p->spec, "initContainers", false, fill_init_containers, p) < 0 ||
	    add_under(in, d, p->spec, "volumes", false, fill_volumes, p) < 0)
		return -1;
	if (!share)
		append_entries(in, d, p->spec, fill_share_pid, NULL);

	char marks[128];
	snprintf(marks, sizeof(marks), "%s%s%s", MC_VERSION, share ? "" : "," MARK_SHARE_PID,
	         in->service_monitor ? "" : "," MARK_SCRAPE);
	struct annotations_arg a = { marks };
	if (!meta) {
		if (add_under(in, d, p->holder, "metadata", true, fill_metadata, &a) < 0)
			return -1;
	} else if (add_under(in, d, meta, "annotations", true, fill_annotations, &a) < 0)
		return -1;
	if (note_namespace(in, ns) < 0)
		return -1;
	if (in->service_monitor)
		return add_service_monitor(in, p, workload, ns);
	return 0;
}

/* ---- removing ------------------------------------------------------------------------- */

/* Whether an entry of a collection is inject's own: key is NULL for a sequence's item. */
typedef bool (*owned_fn)(struct ys_doc *d, yaml_node_t *key, yaml_node_t *value, void *arg);

/* Deletes entry i (starting at start, its text ending at end) of collection coll: its lines
 * in a block collection, itself and the ", " or " " inject put before it in a flow one
 * (inject appends, so an entry of its own is never first unless all are). */
static void delete_entry(struct inject *in, yaml_node_t *coll, size_t i, size_t start, size_t end)
{
	if (ys_block(coll))
		ys_delete(&in->edits, ys_line_begin(in->src, start), ys_line_after(in->src, end));
	else if (i > 0 && start >= 2 && memcmp(in->src->text + start - 2, ", ", 2) == 0)
		ys_delete(&in->edits, start - 2, end);
	else if (i == 0 && start >= 1 && in->src->text[start - 1] == ' ')
		ys_delete(&in->edits, start - 1, end);
	else
		ys_delete(&in->edits, start, end);
}

static void delete_pair(struct inject *in, struct ys_doc *d, yaml_node_t *m, yaml_node_pair_t *pair)
{
	size_t i = (size_t)(pair - m->data.mapping.pairs.start);
	delete_entry(in, m, i, ys_offset(in->src, ys_node(d, pair->key)->start_mark),
	             ys_content_end(in->src, d, ys_node(d, pair->value)));
}

static size_t count_owned(struct ys_doc *d, yaml_node_t *coll, owned_fn owned, void *arg)
{
	size_t n = 0;
	if (coll->type == YAML_SEQUENCE_NODE)
		for (yaml_node_item_t *i = coll->data.sequence.items.start;
		     i < coll->data.sequence.items.top; i++)
			n += owned(d, NULL, ys_node(d, *i), arg);
	else if (coll->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *p = coll->data.mapping.pairs.start;
		     p < coll->data.mapping.pairs.top; p++)
			n += owned(d, ys_node(d, p->key), ys_node(d, p->value), arg);
	return n;
}

/* Whether inject wrote the key of collection coll in m: every entry is its own, and the
 * collection is a block one (which cannot be empty) or a flow one whose first entry follows
 * its bracket directly (see append_entries()). */
static bool key_is_owned(struct inject *in, struct ys_doc *d, yaml_node_t *m, yaml_node_t *coll,
                         owned_fn owned, void *arg)
{
	size_t n = count_owned(d, coll, owned, arg);
	if (n == 0 || n != ys_count(coll))
		return false;
	if (ys_block(coll))
		return true;
	size_t at = ys_offset(in->src, coll->start_mark);
	return !ys_block(m) && at + 1 < in->src->len && in->src->text[at + 1] != ' ';
}

/* Deletes inject's entries of the collection under key in m, or the key when all are. */
static void remove_under(struct inject *in, struct ys_doc *d, yaml_node_t *m, const char *key,
                         owned_fn owned, void *arg)
{
	yaml_node_pair_t *pair = ys_pair(d, m, key);
	yaml_node_t *coll = pair ? ys_node(d, pair->value) : NULL;

	if (!coll || count_owned(d, coll, owned, arg) == 0)
		return;
	if (key_is_owned(in, d, m, coll, owned, arg)) {
		delete_pair(in, d, m, pair);
		return;
	}
	if (coll->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = coll->data.sequence.items.start;
		     i < coll->data.sequence.items.top; i++) {
			yaml_node_t *v = ys_node(d, *i);
			if (owned(d, NULL, v, arg))
				delete_entry(in, coll,
				             (size_t)(i - coll->data.sequence.items.start),
				             ys_offset(in->src, v->start_mark),
				             ys_content_end(in->src, d, v));
		}
		return;
	}
	for (yaml_node_pair_t *p = coll->data.mapping.pairs.start; p < coll->data.mapping.pairs.top;
	     p++)
		if (owned(d, ys_node(d, p->key), ys_node(d, p->value), arg))
			delete_pair(in, d, coll, p);
}

static bool owned_by_name(struct ys_doc *d, yaml_node_t *key, yaml_node_t *v, void *arg)
{
	(void)key;
	(void)arg;
	return v->type == YAML_MAPPING_NODE && owned_name(name_of(d, v));
}

static bool owned_env(struct ys_doc *d, yaml_node_t *key, yaml_node_t *v, void *arg)
{
	(void)key;
	(void)arg;
	if (v->type != YAML_MAPPING_NODE)
		return false;
	if (ys_is(ys_get(d, v, "name"), "MLCHAOS_CONFIG"))
		return true;
	/* An LD_PRELOAD inject added is written plain; one it found keeps its own value. */
	yaml_node_t *value = ys_get(d, v, "value");
	return ys_is(ys_get(d, v, "name"), "LD_PRELOAD") && ys_is(value, LIB_PATH) &&
	       value->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

struct marks {
	bool scrape;
};

static bool owned_annotation(struct ys_doc *d, yaml_node_t *key, yaml_node_t *v, void *arg)
{
	struct marks *m = arg;
	(void)d;
	(void)v;
	return ys_is(key, MARK_ANNOTATION) || ys_is(key, HASH_ANNOTATION) ||
	       (m->scrape &&
	        (ys_is(key, "prometheus.io/scrape") || ys_is(key, "prometheus.io/port") ||
	         ys_is(key, "prometheus.io/path")));
}

/* Takes the library out of an LD_PRELOAD that had a value before inject. */
static void unprefix_ld_preload(struct inject *in, struct ys_doc *d, yaml_node_t *c)
{
	yaml_node_t *ld = env_entry(d, c, "LD_PRELOAD");
	yaml_node_t *v = ys_get(d, ld, "value");
	if (!v || v->type != YAML_SCALAR_NODE || owned_env(d, NULL, ld, NULL))
		return;
	size_t at = scalar_text_start(in->src, v), lib = strlen(LIB_PATH);
	if (at + lib > in->src->len || memcmp(in->src->text + at, LIB_PATH, lib) != 0)
		return;
	if (at + lib < in->src->len && in->src->text[at + lib] == ':')
		lib++;
	ys_delete(&in->edits, at, at + lib);
}

/* Whether a sequence of containers has inject's init container. */
static bool has_init(struct ys_doc *d, yaml_node_t *seq)
{
	if (!seq || seq->type != YAML_SEQUENCE_NODE)
		return false;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++)
		if (strcmp(name_of(d, ys_node(d, *i)), INIT_NAME) == 0)
			return true;
	return false;
}

static int remove_pod(struct inject *in, struct pod *p, const char *workload, const char *ns)
{
	struct ys_doc *d = p->d;
	(void)workload;
	(void)ns;

	if (!has_init(d, ys_get(d, p->spec, "initContainers")))
		return 0;
	yaml_node_t *meta = ys_get(d, p->holder, "metadata");
	yaml_node_t *ann = ys_get(d, meta, "annotations");
	const char *mark = scalar(ys_get(d, ann, MARK_ANNOTATION));
	struct marks m = { mark && strstr(mark, MARK_SCRAPE) };

	yaml_node_t *containers = ys_get(d, p->spec, "containers");
	if (containers && containers->type == YAML_SEQUENCE_NODE)
		for (yaml_node_item_t *i = containers->data.sequence.items.start;
		     i < containers->data.sequence.items.top; i++) {
			yaml_node_t *c = ys_node(d, *i);
			unprefix_ld_preload(in, d, c);
			remove_under(in, d, c, "env", owned_env, NULL);
			remove_under(in, d, c, "volumeMounts", owned_by_name, NULL);
		}
	remove_under(in, d, p->spec, "initContainers", owned_by_name, NULL);
	remove_under(in, d, p->spec, "volumes", owned_by_name, NULL);
	yaml_node_pair_t *share = ys_pair(d, p->spec, "shareProcessNamespace");
	if (share && mark && strstr(mark, MARK_SHARE_PID))
		delete_pair(in, d, p->spec, share);

	/* metadata that holds nothing but inject's annotations was written by inject */
	yaml_node_pair_t *meta_pair = ys_pair(d, p->holder, "metadata");
	if (ann && ys_count(meta) == 1 && key_is_owned(in, d, meta, ann, owned_annotation, &m))
		delete_pair(in, d, p->holder, meta_pair);
	else if (meta)
		remove_under(in, d, meta, "annotations", owned_annotation, &m);
	return 0;
}

/* ---- walking the documents ------------------------------------------------------------ */

typedef int (*pod_fn)(struct inject *in, struct pod *p, const char *workload, const char *ns);

/* The pod template of a workload (a Pod is its own): 1 found, 0 not a kind with pods,
 * -1 reported. */
static int find_pod(struct inject *in, struct ys_doc *d, yaml_node_t *obj, struct pod *p)
{
	static const char *const templated[] = { "Deployment", "StatefulSet",
		                                 "DaemonSet",  "ReplicaSet",
		                                 "Job",        "ReplicationController" };
	yaml_node_t *kind = ys_get(d, obj, "kind");
	yaml_node_t *spec = ys_get(d, obj, "spec");

	memset(p, 0, sizeof(*p));
	p->d = d;
	if (ys_is(kind, "Pod")) {
		p->holder = obj;
	} else if (ys_is(kind, "CronJob")) {
		p->holder =
		    ys_get(d, ys_get(d, ys_get(d, spec, "jobTemplate"), "spec"), "template");
	} else {
		size_t i = 0;
		while (i < sizeof(templated) / sizeof(templated[0]) && !ys_is(kind, templated[i]))
			i++;
		if (i == sizeof(templated) / sizeof(templated[0]))
			return 0;
		p->holder = ys_get(d, spec, "template");
	}
	p->spec = ys_get(d, p->holder, "spec");
	if (!p->holder || p->holder->type != YAML_MAPPING_NODE || !p->spec ||
	    p->spec->type != YAML_MAPPING_NODE)
		return fail_at(in, obj, "%s '%s' has no pod template (spec.%stemplate.spec)",
		               scalar(kind), name_of(d, ys_get(d, obj, "metadata")),
		               ys_is(kind, "CronJob") ? "jobTemplate.spec." : "");
	return 1;
}

static int walk_object(struct inject *in, struct ys_doc *d, yaml_node_t *obj, pod_fn fn)
{
	struct pod p;
	int found;

	if (!obj || obj->type != YAML_MAPPING_NODE)
		return 0;
	if (ys_is(ys_get(d, obj, "kind"), "List")) {
		yaml_node_t *items = ys_get(d, obj, "items");
		if (!items || items->type != YAML_SEQUENCE_NODE)
			return 0;
		for (yaml_node_item_t *i = items->data.sequence.items.start;
		     i < items->data.sequence.items.top; i++)
			if (walk_object(in, d, ys_node(d, *i), fn) < 0)
				return -1;
		return 0;
	}
	found = find_pod(in, d, obj, &p);
	if (found <= 0)
		return found;
	yaml_node_t *meta = ys_get(d, obj, "metadata");
	const char *ns = scalar(ys_get(d, meta, "namespace"));
	return fn(in, &p, name_of(d, meta), ns ? ns : "");
}

static bool generated(struct ys_doc *d)
{
	yaml_node_t *root = yaml_document_get_root_node(&d->doc);
	return ys_is(ys_get(d, ys_get(d, ys_get(d, root, "metadata"), "labels"), MANAGED_BY_LABEL),
	             MANAGED_BY);
}

/* One pass over a text: fn on every pod; the result of its edits (and of the trailer). */
static char *pass(struct inject *in, const char *name, const char *text, size_t len, pod_fn fn,
                  size_t *ret_len)
{
	struct ys_stream s;
	char *out;

	if (ys_load(&s, name, text, len) < 0)
		return NULL;
	in->src = &s.src;
	for (size_t i = 0; i < s.n_docs; i++) {
		struct ys_doc *d = &s.docs[i];
		if (fn == remove_pod && generated(d)) {
			ys_delete(&in->edits, d->start, d->end);
			continue;
		}
		if (walk_object(in, d, yaml_document_get_root_node(&d->doc), fn) < 0) {
			ys_edits_free(&in->edits);
			ys_free(&s);
			return NULL;
		}
	}
	out = ys_apply(&in->edits, text, len, ret_len);
	ys_free(&s);
	in->src = NULL;
	return out;
}

/* ---- the ConfigMap -------------------------------------------------------------------- */

static void add_configmaps(struct inject *in)
{
	for (unsigned i = 0; i < in->n_namespaces; i++) {
		yaml_document_t f;
		yaml_document_initialize(&f, NULL, NULL, NULL, 1, 1);
		int cm = kv(&f, 0, "apiVersion", "v1");
		kv(&f, cm, "kind", "ConfigMap");
		yb_put(&f, cm, "metadata", metadata_of(&f, in->configmap, in->namespaces[i], NULL));
		int data = yb_map(&f);
		yb_put(&f, data, CONFIG_KEY,
		       yaml_document_add_scalar(&f, NULL, (yaml_char_t *)in->config_text, -1,
		                                YAML_LITERAL_SCALAR_STYLE));
		yb_put(&f, cm, "data", data);
		add_trailer(in, &f);
	}
}

static void print_diag(void *user, enum mc_diag_level level, const char *msg)
{
	(void)user;
	(void)level;
	fprintf(stderr, "%s\n", msg);
}

/* Reads all of a file (or standard input for "-"); NULL after saying why. */
static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t n = 0, cap = 65536;
	char *buf;

	if (!f) {
		fprintf(stderr, "mlchaos inject: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	buf = malloc(cap);
	while (buf) {
		n += fread(buf + n, 1, cap - n - 1, f);
		if (n < cap - 1)
			break;
		cap *= 2;
		char *bigger = realloc(buf, cap);
		if (!bigger)
			free(buf);
		buf = bigger;
	}
	if (!buf || ferror(f)) {
		fprintf(stderr, "mlchaos inject: %s: %s\n", path,
		        buf ? "read error" : "out of memory");
		free(buf);
		buf = NULL;
	} else {
		buf[n] = '\0';
		*ret_len = n;
	}
	if (f != stdin)
		fclose(f);
	return buf;
}

static int load_config(struct inject *in)
{
	struct mc_config *cfg;
	size_t len;

	if (mc_cfg_parse_file(in->config_path, print_diag, NULL, &cfg) < 0)
		return -1;
	mc_cfg_free(cfg);
	in->config_text = slurp(in->config_path, &len);
	return in->config_text ? 0 : -1;
}

/* ---- the command ---------------------------------------------------------------------- */

static int run(struct inject *in, const char *path, bool remove)
{
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	size_t len, clean_len, out_len;
	char *text = slurp(path, &len), *clean = NULL, *out = NULL;
	int status = 2;

	if (!text)
		return 2;
	/* Injecting starts from the manifest without any earlier injection: twice is once. */
	clean = pass(in, name, text, len, remove_pod, &clean_len);
	if (!clean)
		goto out;
	if (remove) {
		fwrite(clean, 1, clean_len, stdout);
		status = 0;
		goto out;
	}
	out = pass(in, name, clean, clean_len, inject_pod, &out_len);
	if (!out)
		goto out;
	for (unsigned i = 0; i < in->n_containers; i++)
		if (!in->container_seen[i]) {
			fprintf(stderr, "%s: no pod has a container named '%s'\n", name,
			        in->containers[i]);
			goto out;
		}
	if (in->config_text)
		add_configmaps(in);
	fwrite(out, 1, out_len, stdout);
	if (in->trailer) {
		if (out_len > 0 && out[out_len - 1] != '\n')
			fputc('\n', stdout);
		fwrite(in->trailer, 1, in->trailer_len, stdout);
	}
	status = 0;
out:
	if (fflush(stdout) != 0 && status == 0) {
		fprintf(stderr, "mlchaos inject: writing the output: %s\n", strerror(errno));
		status = 2;
	}
	free(text);
	free(clean);
	free(out);
	return status;
}

static int usage_error(const char *fmt, const char *arg)
{
	fputs("mlchaos inject: ", stderr);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	inject_usage(stderr);
	return 2;
}

int mc_cmd_inject(int argc, char **argv)
{
	enum {
		OPT_IMAGE = 256,
		OPT_CONTAINER,
		OPT_CONFIG,
		OPT_CONFIGMAP,
		OPT_SERVICE_MONITOR,
		OPT_CONTROL_SECRET,
		OPT_REMOVE
	};
	static const struct option options[] = {
		{ "image", required_argument, NULL, OPT_IMAGE },
		{ "container", required_argument, NULL, OPT_CONTAINER },
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "configmap", required_argument, NULL, OPT_CONFIGMAP },
		{ "service-monitor", no_argument, NULL, OPT_SERVICE_MONITOR },
		{ "control-secret", required_argument, NULL, OPT_CONTROL_SECRET },
		{ "remove", no_argument, NULL, OPT_REMOVE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct inject in = { .image = DEFAULT_IMAGE };
	bool remove = false;
	int opt, status;

	optind = 0;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case OPT_IMAGE:
			in.image = optarg;
			break;
		case OPT_CONTAINER:
			if (in.n_containers == MAX_CONTAINERS)
				return usage_error("more than %s --container options", "32");
			in.containers[in.n_containers++] = optarg;
			break;
		case OPT_CONFIG:
			in.config_path = optarg;
			break;
		case OPT_CONFIGMAP:
			in.configmap = optarg;
			break;
		case OPT_SERVICE_MONITOR:
			in.service_monitor = true;
			break;
		case OPT_CONTROL_SECRET:
			in.control_secret = optarg;
			break;
		case OPT_REMOVE:
			remove = true;
			break;
		case 'h':
			inject_usage(stdout);
			return 0;
		default:
			return usage_error("unknown option '%s'", mc_opt_rejected(argv));
		}
	}
	if (argc - optind > 1)
		return usage_error(
		    "one manifest file at most (or '-' for standard input), not '%s'",
		    argv[optind + 1]);
	if (!remove && !in.config_path && !in.configmap)
		return usage_error("%s", "--config FILE.ini or --configmap NAME is needed: the "
		                         "library reads its rules from a ConfigMap");
	if (in.config_path && !in.configmap)
		in.configmap = "mlchaos-config";
	if (in.config_path && load_config(&in) < 0)
		return 2;
	status = run(&in, optind < argc ? argv[optind] : "-", remove);
	free(in.config_text);
	free(in.trailer);
	for (unsigned i = 0; i < in.n_namespaces; i++)
		free(in.namespaces[i]);
	return status;
}
