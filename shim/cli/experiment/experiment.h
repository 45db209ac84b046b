/* experiment.h: `mlchaos experiment`, shared by cmd_experiment.c and experiment_*.c (spec,
 * target, load, chaos, report). Reaches the library only through its config, its halt file,
 * its event logs and its shared-memory segment. */
#ifndef MC_CLI_EXPERIMENT_H
#define MC_CLI_EXPERIMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "config.h"

#define MC_EXP_MAX_HYPS  32  /* hypotheses per experiment */
#define MC_EXP_MAX_ARGS  128 /* words of the target's command line */
#define MC_EXP_TEXT_MAX  160 /* a hypothesis or a name, as printed */
#define MC_EXP_URL_MAX   1024
#define MC_EXP_MAX_FLEET 64 /* [fleet] control endpoints */
#define MC_EXP_EXIT_OK   0
#define MC_EXP_EXIT_FAIL 1
#define MC_EXP_EXIT_RUN  2 /* usage, a bad file, or the experiment could not run */

enum mc_exp_phase { MC_EXP_BEFORE, MC_EXP_DURING, MC_EXP_AFTER, MC_EXP_PHASES };

#define MC_EXP_ALL_PHASES ((1u << MC_EXP_PHASES) - 1)

enum mc_exp_metric {
	MC_EXP_SUCCESS_RATE,
	MC_EXP_ERROR_RATE,
	MC_EXP_ACCURACY,
	MC_EXP_ERRORS,
	MC_EXP_WRONG,
	MC_EXP_TIMEOUTS,
	MC_EXP_P50,
	MC_EXP_P95,
	MC_EXP_P99,
	MC_EXP_MAX,
	MC_EXP_MEAN,
	MC_EXP_RPS,
	/* the built-in load client's figures (load.h; config/experiments/README.md) */
	MC_EXP_AGREEMENT,    /* answers equal to the same request's answer before chaos */
	MC_EXP_CONTAMINATED, /* answers changed although no select = request rule chose them */
	MC_EXP_HEALTH_LIES,  /* health probes that answered 2xx while the requests failed */
	MC_EXP_TTFT_P50,
	MC_EXP_TTFT_P99,
	MC_EXP_ITL_P50,
	MC_EXP_ITL_P99,
	MC_EXP_METRICS
};

/* How a metric's figures are written and compared. */
enum mc_exp_kind {
	MC_EXP_KIND_RATE,    /* a fraction, written as a percentage */
	MC_EXP_KIND_LATENCY, /* milliseconds, written with a duration unit */
	MC_EXP_KIND_COUNT,   /* a whole number of requests */
	MC_EXP_KIND_RPS,     /* requests per second */
};

enum mc_exp_op { MC_EXP_LE, MC_EXP_LT, MC_EXP_GE, MC_EXP_GT, MC_EXP_EQ };

struct mc_exp_hyp {
	char text[MC_EXP_TEXT_MAX]; /* "p99 <= 50ms", as written */
	int line;
	enum mc_exp_metric metric;
	enum mc_exp_op op;
	double threshold; /* a fraction, ms, a count or req/s, by the metric's kind */
	unsigned phases;  /* bit (1 << enum mc_exp_phase) for each phase it applies to */
};

#define MC_EXP_SWEEP_MAX 256 /* values (or tensors) one sweep runs */

/* [sweep]: the during phase once per value of one key of one fault section (or once per
 * tensor of the model file that fault damages, per = tensor). Strings are malloc'd. */
struct mc_exp_sweep {
	int line;    /* the [sweep] header; 0: no sweep */
	char *fault; /* NAME of [fault.NAME] */
	char *key;   /* the key swept: "count", "std", ...; "tensor" with per = tensor */
	bool per_tensor;
	bool gate;          /* true: every hypothesis must hold at every value (the default) */
	bool until_failure; /* stop after the first value at which a hypothesis fails */
	unsigned limit;     /* per = tensor: at most this many tensors, in file order */
	char *model;        /* per = tensor: the model file read for its tensor names */
	unsigned n;
	char *values[MC_EXP_SWEEP_MAX];      /* as written into the fault section */
	char *labels[MC_EXP_SWEEP_MAX];      /* as reported: the value, or the tensor's own name */
	char *texts[MC_EXP_SWEEP_MAX];       /* the chaos text with that value (mc_exp_spec) */
	int mlchaos_lines[MC_EXP_SWEEP_MAX]; /* the [mlchaos] header in each text, or 0 */
};

/* An experiment file, parsed and checked. Strings are malloc'd. */
struct mc_exp_spec {
	char *file;
	char name[MC_EXP_TEXT_MAX];
	/* [experiment] */
	char *argv[MC_EXP_MAX_ARGS + 1];
	int argc;
	char *workdir; /* or NULL */
	char *ready;   /* an http:// URL, or a file path */
	bool ready_is_url;
	uint64_t ready_timeout_ns, stop_timeout_ns, settle_ns;
	int signal; /* sent after chaos resumes and after it halts; 0 = none */
	char *target_log;
	bool restart;    /* a fresh start of the target per phase; faults on from during's start */
	bool allow_halt; /* a halt during chaos is reported, not a result of its own */
	/* [load] */
	char *url; /* NULL: derived from the readiness probe; may hold ${PORT} */
	uint64_t requests, concurrency, inputs, timeout_ns;
	char *dataset, *id_prefix, *client;
	/* [load], the built-in HTTP client's own keys (shim/cli/load.h) */
	char *requests_file, *answer, *model, *id_header;
	double tolerance;
	int protocol; /* enum mc_load_protocol */
	bool stream, insecure;
	int http_version;          /* 0: libcurl's choice, 1: HTTP/1.1, 2: HTTP/2 */
	struct mc_load_plan *plan; /* what each request sends; NULL with client */
	/* [health] */
	char *health_url; /* NULL: no probe; may hold ${PORT} */
	uint64_t health_interval_ns;
	/* [steady_state] */
	struct mc_exp_hyp hyps[MC_EXP_MAX_HYPS];
	unsigned n_hyps;
	/* [mlchaos] and [fault.*]: the file's own lines at their own line numbers, the other
	 * sections' lines left blank, variables expanded, log and halt_file taken out */
	char *chaos_text;
	int mlchaos_line; /* the [mlchaos] header in chaos_text, 0 when there is none */
	struct mc_config *chaos;
	/* [sweep] */
	struct mc_exp_sweep sweep;
	/* [experiment] url: a target already running (no argv); its chaos through [fleet] */
	char *target_url;
	char *fleet_control[MC_EXP_MAX_FLEET]; /* the replicas' control endpoints */
	unsigned n_fleet;
	char *fleet_token_file;
};

/* What ${NAME} means besides the environment. */
struct mc_exp_vars {
	const char *run_dir; /* ${RUN_DIR}: the run's private directory */
	const char *bin_dir; /* ${MLCHAOS_BIN}: where the mlchaos executable is */
	/* ${MLCHAOS_TOOLS}: where the reference server, load client and generator are */
	const char *tools_dir;
};

/* ---- experiment_spec.c ---- */

/* Reads, checks and expands the experiment file. Every problem is printed on stderr as
 * "FILE:LINE: message" (all of them). Returns 0, or -EINVAL when the file is not valid,
 * another -errno when it cannot be read. */
int mc_exp_spec_load(const char *file, const struct mc_exp_vars *vars, struct mc_exp_spec *ret);
void mc_exp_spec_free(struct mc_exp_spec *spec);

/* As mc_exp_spec_load, for a file that only describes a load ([load] and [health]):
 * [experiment] and [steady_state] are not required (`mlchaos load --config`). */
int mc_exp_spec_load_load(const char *file, const struct mc_exp_vars *vars,
                          struct mc_exp_spec *ret);

/* Writes the config the target runs with: the chaos text with `halt_file` and `log` added
 * to its [mlchaos] section. Created 0600, never through a link. 0 or -errno. */
int mc_exp_spec_write_chaos(const struct mc_exp_spec *spec, const char *path, const char *halt_file,
                            const char *log);

/* The same for value i of the sweep: its own chaos text. */
int mc_exp_spec_write_sweep_chaos(const struct mc_exp_spec *spec, unsigned i, const char *path,
                                  const char *halt_file, const char *log);

/* s with ${PORT} replaced by port; malloc'd, or NULL when out of memory. */
char *mc_exp_expand_port(const char *s, int port);

const char *mc_exp_metric_name(enum mc_exp_metric m);
enum mc_exp_kind mc_exp_metric_kind(enum mc_exp_metric m);
const char *mc_exp_op_name(enum mc_exp_op op);
const char *mc_exp_phase_name(enum mc_exp_phase p);

/* Splits "http://HOST[:PORT][/PATH]": 0, or -EINVAL. */
int mc_exp_url_split(const char *url, char *host, size_t host_cap, int *ret_port, char *path,
                     size_t path_cap);

/* ---- experiment_target.c ---- */

/* Signals: SIGINT, SIGTERM and SIGHUP to mlchaos make every wait below return -EINTR, so the
 * run can stop its target and clean up. Also makes mlchaos the subreaper of its descendants,
 * so that none can outlive it unseen. 0 or -errno. */
int mc_exp_signals_install(void);
void mc_exp_signals_restore(void);
/* In a child about to exec: the signal dispositions and mask mlchaos started with. */
void mc_exp_signals_child(void);
/* The signal that interrupted the run, or 0. */
int mc_exp_interrupted(void);
/* The fd that becomes readable once the run is interrupted (for poll). */
int mc_exp_wake_fd(void);
/* Sleeps ns; -EINTR when interrupted first. */
int mc_exp_sleep_ns(uint64_t ns);
uint64_t mc_exp_now_ns(void);

struct mc_exp_target {
	pid_t pid; /* also its process group */
	int port;  /* from the ready file or URL; 0 when unknown */
	double ready_s;
	bool exited;
	int status;             /* as from waitpid, once exited */
	int exited_in;          /* the phase it exited in by itself, or -1 */
	int stop_signal;        /* what stopped it: SIGTERM, SIGKILL, or 0 */
	unsigned others_reaped; /* descendants killed after it stopped */
	/* the ready file as it was before the start: a leftover is not a ready signal */
	bool ready_existed;
	dev_t ready_dev;
	ino_t ready_ino;
	int64_t ready_mtime_ns;
	char probe_why[160]; /* why the last readiness probe of a URL failed, or "" */
};

/* Starts the target in its own process group, with libmlchaos.so (lib) preloaded ahead of any
 * LD_PRELOAD entries (after sanitizer runtimes) and MLCHAOS_CONFIG = config; its stdout and
 * stderr go to log_path. 0, or -errno after printing why (exec errors included). */
int mc_exp_target_start(const struct mc_exp_spec *spec, const char *lib, const char *config,
                        const char *log_path, struct mc_exp_target *t);

/* Waits until the readiness probe answers. 0; -ETIMEDOUT; -ECHILD when the target exited
 * first; -EINTR when the run was interrupted. */
int mc_exp_target_wait_ready(const struct mc_exp_spec *spec, struct mc_exp_target *t);

/* True once the target has exited (its status recorded), without waiting. */
bool mc_exp_target_gone(struct mc_exp_target *t);

/* Sends the spec's signal to the target (not its group). */
void mc_exp_target_signal(const struct mc_exp_target *t, int sig);

/* Stops the target: SIGTERM to its process group, SIGKILL after grace_ns, then kills and
 * reaps every descendant left (the group's stragglers, and orphans that came to us as their
 * subreaper). Always leaves no process of the run behind. Idempotent. */
void mc_exp_target_stop(struct mc_exp_target *t, uint64_t grace_ns);

/* "exited 0", "killed by SIGKILL", ... for the target's status. */
void mc_exp_status_text(int status, char *buf, size_t cap);

/* ---- experiment_load.c ---- */

struct mc_load_run;

struct mc_exp_load {
	bool ran;
	char *json; /* the load client's JSON object, verbatim */
	uint64_t requests, ok, wrong, errors, checked;
	double value[MC_EXP_METRICS];
	bool known[MC_EXP_METRICS];      /* false: null (no answer, nothing checked) */
	const char *why[MC_EXP_METRICS]; /* when not known: why not (static text), or NULL */
	struct mc_load_run *run;         /* the built-in client's per-request results, or NULL */
};

/* Runs the load against url (health probes to health_url, or NULL): the built-in client,
 * or the spec's external `client`; per-request lines go to per_request, the external
 * client's stderr to err_path. 0; -EINTR when interrupted (the client is killed); another
 * -errno after printing why the client could not run or said something unreadable. */
int mc_exp_load_run(const struct mc_exp_spec *spec, const char *client, const char *url,
                    const char *health_url, const char *per_request, const char *err_path,
                    struct mc_exp_load *ret);

/* The path of the load's URL when [load] url is not given: the protocol's ("/predict" for
 * the reference server's API). */
const char *mc_exp_load_default_path(const struct mc_exp_spec *spec);

/* After the phases: agreement with the before phase, and contaminated requests (the rules
 * of the spec's chaos config, and the request keys of run_dir's event logs). */
void mc_exp_load_compare(const struct mc_exp_spec *spec, const char *run_dir,
                         struct mc_exp_load load[MC_EXP_PHASES]);
void mc_exp_load_free(struct mc_exp_load *l);

/* The load client to run: the spec's `client`, $MLCHAOS_LOAD, then mlchaos-load beside the
 * command (bin_dir/../test-harness, bin_dir), then "mlchaos-load" on $PATH. Writes into buf. */
void mc_exp_load_client(const struct mc_exp_spec *spec, const char *bin_dir, char *buf, size_t cap);

/* ---- experiment_chaos.c ---- */

/* Resume: removes the halt file, clears the halt bits of every segment whose process runs
 * config, and waits until every process has looked at the halt file again. Returns the
 * processes found running config, -EINTR, or another -errno. */
int mc_exp_chaos_resume(const char *halt_file, const char *config);

/* Halt: recreates the halt file, sets the halt bit of every segment of config and waits for
 * the faults in flight to finish (at most timeout_ns). Returns the processes halted, or
 * -errno. */
int mc_exp_chaos_halt(const char *halt_file, const char *config, uint64_t timeout_ns);

struct mc_exp_faults {
	uint64_t injected[MC_MAX_RULES]; /* applied faults, per rule of the config */
	uint64_t shadow[MC_MAX_RULES];   /* would_inject decisions (shadow mode) */
	uint64_t suppressed;             /* decided, then dropped by a halt */
	uint64_t total;
	unsigned processes; /* processes that injected at least one fault */
	unsigned watchdog_halts;
	unsigned unreadable; /* log lines that were not events */
	unsigned torn;       /* logs whose last line had no newline (a process killed while
	                      * writing it: write(2) to a file can be cut between two pages):
	                      * that line skipped, said in the report */
};

/* Calls each(user, key) for the request key of every applied fault logged in
 * run_dir/events-*.jsonl (the same key may come more than once). 0 or -errno. */
int mc_exp_fault_keys(const char *run_dir, void (*each)(void *user, const char *key), void *user);

/* Calls each for every whole line of every run_dir/PREFIX*.jsonl (an event log); a torn last
 * line (SIGKILL can stop a write(2) between two pages) is skipped and counted in *ret_torn
 * (may be NULL). 0, or -errno when run_dir cannot be read. */
typedef void mc_exp_line_fn(void *user, const char *line, size_t len);
int mc_exp_each_log_line(const char *run_dir, const char *prefix, mc_exp_line_fn *each, void *user,
                         unsigned *ret_torn);

/* Counts the faults logged in run_dir/events-*.jsonl. 0 or -errno. */
int mc_exp_faults_count(const char *run_dir, const struct mc_config *cfg,
                        struct mc_exp_faults *ret);

/* ---- halts: experiment_halt.c, and the segments' side in experiment_chaos.c ---- */

#define MC_EXP_MAX_HALTS 16

/* Injection stopped during chaos by something other than the experiment itself. */
struct mc_exp_halt {
	const char *reason; /* "watchdog", "max_faults", "command" (mlchaos halt), "halt_file" */
	long pid;           /* the process halted, 0 when not one */
	bool timed;         /* at_s is known (from the event log) */
	double at_s;        /* seconds after chaos was switched on (negative: before) */
	char detail[200];   /* why, in words */
};

struct mc_exp_halts {
	struct mc_exp_halt list[MC_EXP_MAX_HALTS];
	unsigned n;
	unsigned more; /* halts seen but not listed (the list was full) */
};

/* Adds the halts logged in run_dir/PREFIX*.jsonl ({"event":"halt"} lines: the watchdog, a
 * spent max_faults) at or before until_mono_ns; at_s counts from on_mono_ns. 0 or -errno. */
int mc_exp_halts_from_logs(const char *run_dir, const char *prefix, uint64_t on_mono_ns,
                           uint64_t until_mono_ns, struct mc_exp_halts *h);

/* Adds the halts that the segments of the processes running config show now (a call made
 * before the experiment halts chaos itself): `mlchaos halt`, and a watchdog or max_faults
 * halt not already listed from the logs; and halt_file when it exists again. */
void mc_exp_chaos_halts_now(const char *halt_file, const char *config, struct mc_exp_halts *h);

/* Adds one halt; keeps one per process and reason, the timed one. */
void mc_exp_halts_add(struct mc_exp_halts *h, const struct mc_exp_halt *halt);

/* ---- experiment_fleet.c: [experiment] url, a target already running, and [fleet] ---- */

/* POSTs action ("halt", "resume") to every [fleet] control endpoint and waits for all.
 * 0 when every replica confirmed; -EREMOTEIO when one did not (the answers are printed on
 * stderr, as they are with verbose), another -errno on a local error. */
int mc_exp_fleet_control(const struct mc_exp_spec *spec, const char *action, bool verbose);

#define MC_EXP_FLEET_PROCS 1024

struct mc_exp_fleet_rule {
	char name[MC_EXP_TEXT_MAX];
	uint64_t injected, shadow;
};

struct mc_exp_fleet_proc {
	unsigned replica; /* index in [fleet] control */
	long pid;
	uint64_t injected, watchdog_trips;
	bool watchdog_halted;
};

/* The fleet's counters at one moment, from every endpoint's /metrics. */
struct mc_exp_fleet_counts {
	struct mc_exp_fleet_rule rules[MC_MAX_RULES];
	unsigned n_rules;
	struct mc_exp_fleet_proc procs[MC_EXP_FLEET_PROCS];
	unsigned n_procs;
	uint64_t suppressed;
};

/* Reads every endpoint's counters. 0, or -EREMOTEIO when one cannot be read (said why). */
int mc_exp_fleet_counters(const struct mc_exp_spec *spec, struct mc_exp_fleet_counts *ret);

/* The faults between two readings, per rule of the spec's chaos config (by name), and the
 * processes halted by the watchdog in the later one (added to halts). */
void mc_exp_fleet_faults(const struct mc_exp_spec *spec, const struct mc_exp_fleet_counts *before,
                         const struct mc_exp_fleet_counts *after, struct mc_exp_faults *ret,
                         struct mc_exp_halts *halts);

/* ---- experiment_report.c ---- */

enum mc_exp_verdict { MC_EXP_NA, MC_EXP_HELD, MC_EXP_FAILED };

struct mc_exp_result {
	const struct mc_exp_spec *spec;
	const char *run_dir; /* NULL once removed */
	struct mc_exp_load load[MC_EXP_PHASES];
	struct mc_exp_target target;
	struct mc_exp_faults faults;
	char url[MC_EXP_URL_MAX];
	int halted_processes;
	/* filled by mc_exp_judge() */
	enum mc_exp_verdict verdict[MC_EXP_MAX_HYPS][MC_EXP_PHASES];
	unsigned held[MC_EXP_PHASES], applicable[MC_EXP_PHASES];
	bool baseline_failed; /* the steady state did not hold before chaos: chaos was skipped */
	int score;            /* 0..100 */
	int exit_code;
	/* halts during chaos (set before mc_exp_judge) and what they decide */
	struct mc_exp_halts halts;
	bool halted; /* a halt that is the run's result: HALTED (no allow_halt) */
	/* --min-score: the exit status is the score's alone */
	bool use_min_score;
	int min_score;
	/* restart mode: each phase's own start of the target (target above: the last one) */
	struct mc_exp_target starts[MC_EXP_PHASES];
	bool started[MC_EXP_PHASES];
	/* a phase whose target never got ready: every hypothesis on it fails, for this reason */
	char down[MC_EXP_PHASES][512];
	/* [sweep]: the during phase per value (NULL without a sweep) */
	struct mc_exp_sweep_result *sweep;
};

/* Verdict per hypothesis and phase, the score and the exit code. */
void mc_exp_judge(struct mc_exp_result *r);

/* The verdict of hypothesis h on one phase's figures. */
enum mc_exp_verdict mc_exp_check(const struct mc_exp_hyp *h, const struct mc_exp_load *l);

/* The score from the share held during chaos and after it (each in [0, 1]). */
int mc_exp_score(bool baseline_failed, double held_during, double held_after);

void mc_exp_report_text(FILE *out, const struct mc_exp_result *r);
void mc_exp_report_verdict_line(FILE *out, const struct mc_exp_result *r);
void mc_exp_report_json(FILE *out, const struct mc_exp_result *r);

/* The unit of a metric's figures in the JSON report: "fraction", "ms", "requests", "req/s". */
const char *mc_exp_metric_unit(enum mc_exp_metric m);

/* A figure as the report writes it: "98.20%", "12.345ms", "17", "1234.5/s". */
void mc_exp_figure(enum mc_exp_metric m, double v, char *buf, size_t cap);

/* "passed", "failed" or "halted": the run's result, whatever decides the exit status. */
const char *mc_exp_result_word(const struct mc_exp_result *r);

/* Why hypothesis i has no figure in phase p ("no request got an answer", "the target did not
 * get ready", ...), or NULL when it has one (or the phase did not run). */
const char *mc_exp_unmeasured_why(const struct mc_exp_result *r, unsigned i, enum mc_exp_phase p);

/* "p99 <= 50ms": the hypothesis without its "@PHASES". Writes into buf. */
void mc_exp_hyp_claim(const struct mc_exp_hyp *h, char *buf, size_t cap);

/* "injection halted by the watchdog in process 123, 1.24 s into chaos: ...". */
void mc_exp_halt_text(const struct mc_exp_halt *h, char *buf, size_t cap);

/* ---- experiment_sweep.c: the values of [sweep]; experiment_sweep_report.c: their results;
 * experiment_plot.c: --csv and --plot ---- */

/* text (a chaos text: one line per line of the experiment file) with `key = value` in the
 * section [fault.FAULT]: the line of key replaced where the section has one, else a line
 * added after the section's header. *ret_added is the line number added (0 when a line was
 * replaced), so that line numbers after it can be told apart. malloc'd; NULL when out of
 * memory or when text has no [fault.FAULT] section. */
char *mc_exp_sweep_rewrite(const char *text, const char *fault, const char *key, const char *value,
                           int *ret_added);

/* name with the glob characters of config/glob.c (* ? [ ] \) escaped by a backslash, so
 * that `tensor = ` the result matches name alone. Writes into buf; -ENAMETOOLONG when it
 * does not fit. */
int mc_exp_glob_escape(const char *name, char *buf, size_t cap);

/* The tensor names of the model file at path, in file order, that match glob (NULL: all):
 * each(user, name) per tensor until it returns false. The recognisers of shim/formats/ read
 * the file. 0; -ENOMEDIUM when the file is not a format they know, -EBADMSG when it is
 * malformed (why says what is wrong), another -errno when it cannot be read. */
int mc_exp_model_tensors(const char *path, const char *glob,
                         bool (*each)(void *user, const char *name), void *user, char *why,
                         size_t why_cap);

struct mc_exp_sweep_result {
	unsigned n; /* values that ran (all, unless the run stopped or until = failure) */
	struct mc_exp_load load[MC_EXP_SWEEP_MAX];
	char down[MC_EXP_SWEEP_MAX][512]; /* the target did not get ready at that value */
	enum mc_exp_verdict verdict[MC_EXP_SWEEP_MAX][MC_EXP_MAX_HYPS];
	int main_hyp;                    /* the hypothesis whose figure ranks and plots; -1 none */
	unsigned rank[MC_EXP_SWEEP_MAX]; /* value indexes, most damaging first (per = tensor) */
	unsigned worst;                  /* the value whose figures stand for `during` */
};

/* After the values ran: each value's verdicts, the during verdict of each hypothesis (with
 * gate, failed when it failed at any value; without, not applicable), the ranking, and the
 * worst value's figures as r->load[MC_EXP_DURING] (borrowed: see mc_exp_sweep_release). */
void mc_exp_sweep_judge(struct mc_exp_result *r);

/* Gives r->load[MC_EXP_DURING] back to the sweep before the loads are freed. */
void mc_exp_sweep_release(struct mc_exp_result *r);

/* The report's parts: text after the hypotheses, and the "sweep" member of the JSON. */
void mc_exp_sweep_text(FILE *out, const struct mc_exp_result *r);
void mc_exp_sweep_json(FILE *out, const struct mc_exp_result *r);

/* --csv FILE: one row per value (or tensor, in rank order), one column per hypothesis'
 * figure; --plot FILE.svg: the curve, or the ranking as bars. Through outfile.c; 0, or -1
 * after saying why on stderr. No value ran (the steady state failed before chaos): 0, after
 * saying that nothing was written. */
int mc_exp_sweep_csv(const char *path, const struct mc_exp_result *r);
int mc_exp_sweep_plot(const char *path, const struct mc_exp_result *r);

/* ---- experiment_junit.c ---- */

/* s as XML character data or attribute value (& < > " ' escaped; a control character but
 * tab, newline and carriage return, which XML 1.0 does not allow, as '?'). */
void mc_exp_xml_text(FILE *out, const char *s);

/* Writes the result as JUnit XML to path: a temporary file in its directory, then renamed
 * over it; never writes through a link (-ELOOP). 0 or -errno. */
int mc_exp_junit_write(const char *path, const struct mc_exp_result *r);

/* The same for a run that could not run: one testcase in error, with message. */
int mc_exp_junit_write_error(const char *path, const char *name, const char *message);

#endif
