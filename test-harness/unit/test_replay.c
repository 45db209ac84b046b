/* test_replay.c: rules with replay lists decide again what a run decided. A sequence of calls
 * is decided under rules with rates; their decisions are written as replay = THREAD:CALL:DRAW
 * and replay_key = KEY lists, as `mlchaos replay` writes them; the same calls decided under the
 * listed rules give the same decisions (rule, call number, thread, draw, errno, delay, short
 * length, corruption nonce), and no other call is selected. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "formats/tensors.h"
#include "mc_test.h"

#define N_CALLS 3000
#define N_KEYS  200

static struct mc_engine_state st;

/* What a decision did, compared between the run and its replay. */
struct outcome {
	bool acted;
	int rule;
	uint64_t ordinal, thread, draw, delay_ns, short_len, nonce;
	int err;
};

static struct outcome outcome_of(bool acted, const struct mc_decision *d, uint64_t size)
{
	struct outcome o = { acted, -1, 0, 0, 0, 0, 0, 0, 0 };

	if (!acted)
		return o;
	o.rule = d->rule->id;
	o.ordinal = d->ordinal;
	o.thread = d->thread;
	o.draw = d->draw;
	o.delay_ns = d->delay_ns;
	o.err = d->err;
	o.nonce = d->nonce;
	o.short_len = d->action == MC_ACTION_SHORT ? mc_engine_short_len(d, size) : 0;
	return o;
}

/* The same outcome, but for the rule's id, which differs when the replay keeps fewer rules:
 * compared by name instead. */
static bool same(const struct outcome *a, const struct mc_ruleset *ra, const struct outcome *b,
                 const struct mc_ruleset *rb)
{
	if (a->acted != b->acted)
		return false;
	if (!a->acted)
		return true;
	return strcmp(mc_engine_rule(ra, (unsigned)a->rule)->name,
	              mc_engine_rule(rb, (unsigned)b->rule)->name) == 0 &&
	       a->ordinal == b->ordinal && a->thread == b->thread && a->draw == b->draw &&
	       a->delay_ns == b->delay_ns && a->err == b->err && a->nonce == b->nonce &&
	       a->short_len == b->short_len;
}

/* Call i of the sequence: reads of a varying size, every third on a socket-less file. */
static struct mc_call read_call(unsigned i)
{
	struct mc_call call = { .hook = MC_HOOK_READ, .size = 64 + (i * 37) % 4000 };

	return call;
}

static void run_reads(const struct mc_ruleset *rs, uint64_t thread, struct outcome *out)
{
	static struct mc_thread_state ts;

	mc_engine_state_reset(&st);
	mc_engine_thread_init(&ts, mc_engine_seed(rs), thread);
	for (unsigned i = 0; i < N_CALLS; i++) {
		struct mc_call call = read_call(i);
		struct mc_decision d;
		bool acted = mc_engine_decide(rs, &st, &ts, &call, &d);

		out[i] = outcome_of(acted, &d, call.size);
	}
}

static const char reads_cfg[] = "[mlchaos]\nseed = 99\nrequest_key = none\n"
                                "[fault.eio]\nhook = read\naction = fail\nerrno = EIO, EINTR\n"
                                "%s"
                                "[fault.never]\nhook = read\naction = fail\nrate = 0.0001%%\n"
                                "[fault.trickle]\nhook = read\naction = short\nmax_bytes = 100\n"
                                "%s"
                                "[fault.rot]\nhook = read\naction = corrupt\nscope = call\n"
                                "min_size = 1KiB\n%s";

/* The replay lines of rule id in run out: entries of at most ~1000 bytes per line. */
static void replay_lines(const struct outcome *out, int id, char *buf, size_t cap)
{
	size_t len = 0, line = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < N_CALLS; i++) {
		char item[64];
		int n;

		if (!out[i].acted || out[i].rule != id)
			continue;
		n = snprintf(item, sizeof(item), "%" PRIu64 ":%" PRIu64 ":%016" PRIx64,
		             out[i].thread, out[i].ordinal, out[i].draw);
		if (line && line + (size_t)n + 1 > 1000) {
			len += (size_t)snprintf(buf + len, cap - len, "\n");
			line = 0;
		}
		len += (size_t)snprintf(buf + len, cap - len, "%s%s",
		                        line ? " " : "replay =", line ? "" : " ");
		line += line ? 1 : 9;
		len += (size_t)snprintf(buf + len, cap - len, "%s", item);
		line += (size_t)n;
	}
	if (len)
		snprintf(buf + len, cap - len, "\n");
}

/* select = call on one thread: the replayed decisions are the run's, call for call. */
static void test_calls_round_trip(void)
{
	static struct outcome run[N_CALLS], again[N_CALLS];
	static char lists[3][64 * 1024], text[256 * 1024];
	struct mc_ruleset *rs, *replayed;
	unsigned acted = 0, differ = 0;

	snprintf(text, sizeof(text), reads_cfg, "rate = 5%\n", "rate = 10%\n", "rate = 20%\n");
	rs = build_rules(text);
	if (!rs)
		return;
	run_reads(rs, 3, run);
	replay_lines(run, 0, lists[0], sizeof(lists[0]));
	replay_lines(run, 2, lists[1], sizeof(lists[1]));
	replay_lines(run, 3, lists[2], sizeof(lists[2]));
	/* the rule that never fired is left out, as mlchaos replay does */
	snprintf(text, sizeof(text),
	         "[mlchaos]\nseed = 99\nrequest_key = none\n"
	         "[fault.eio]\nhook = read\naction = fail\nerrno = EIO, EINTR\n%s"
	         "[fault.trickle]\nhook = read\naction = short\nmax_bytes = 100\n%s"
	         "[fault.rot]\nhook = read\naction = corrupt\nscope = call\nmin_size = 1KiB\n%s",
	         lists[0], lists[1], lists[2]);
	replayed = build_rules(text);
	if (!replayed) {
		mc_engine_free(rs);
		return;
	}
	run_reads(replayed, 3, again);
	for (unsigned i = 0; i < N_CALLS; i++) {
		acted += run[i].acted;
		if (!same(&run[i], rs, &again[i], replayed) && differ++ < 5)
			fprintf(stderr,
			        "call %u: run rule %d #%" PRIu64 ", replay rule %d #%" PRIu64 "\n",
			        i, run[i].rule, run[i].ordinal, again[i].rule, again[i].ordinal);
	}
	MC_CHECK_U64(differ, 0);
	/* a run with faults of every rule, so that the comparison says something */
	MC_CHECK(acted > N_CALLS / 5 && acted < N_CALLS / 2);
	MC_CHECK(mc_engine_rule_count(replayed) == 3);
	/* on another thread ordinal nothing is listed: nothing is selected */
	run_reads(replayed, 4, again);
	for (unsigned i = 0; i < N_CALLS; i++)
		differ += again[i].acted;
	MC_CHECK_U64(differ, 0);
	mc_engine_free(rs);
	mc_engine_free(replayed);
}

/* A listed call gets the listed draw, whatever the rule's own generator would give; times
 * still caps; an unlisted call is not selected. */
static void test_listed_draws(void)
{
	struct mc_ruleset *rs = build_rules("[mlchaos]\nrequest_key = none\n"
	                                    "[fault.d]\nhook = sleep\naction = delay\n"
	                                    "delay = 1ms\njitter = 1ms\n"
	                                    "replay = 0:2:1 0:4:2 0:5:3 1:1:4\ntimes = 3\n");
	struct mc_thread_state t0, t1;
	struct mc_call call = { .hook = MC_HOOK_SLEEP };
	struct mc_decision d;
	bool got[6];

	if (!rs)
		return;
	mc_engine_state_reset(&st);
	mc_engine_thread_init(&t0, 0, 0);
	mc_engine_thread_init(&t1, 0, 1);
	for (unsigned i = 1; i <= 5; i++) {
		got[i] = mc_engine_decide(rs, &st, &t0, &call, &d);
		if (got[i]) {
			MC_CHECK_U64(d.ordinal, i);
			MC_CHECK_U64(d.draw, i == 2 ? 1 : i == 4 ? 2 : 3);
			MC_CHECK(d.delay_ns >= 1000000 && d.delay_ns < 2000000);
		}
	}
	MC_CHECK(!got[1] && got[2] && !got[3] && got[4] && got[5]);
	/* times = 3: thread 1's listed call comes too late */
	MC_CHECK(!mc_engine_decide(rs, &st, &t1, &call, &d));
	/* no thread state: no call number, nothing selected */
	MC_CHECK(!mc_engine_decide(rs, &st, NULL, &call, &d));
	mc_engine_free(rs);
}

/* select = request: the listed keys are selected, with the draw (hence the jitter) a rate
 * gave them; calls without a key go by the replay list. */
static void test_keys_round_trip(void)
{
	static char text[64 * 1024];
	const char *rule = "[fault.slow]\nhook = send\naction = delay\ndelay = 10ms\n"
	                   "jitter = 5ms\n";
	struct mc_ruleset *rs, *replayed;
	struct mc_thread_state ts;
	uint64_t delays[N_KEYS];
	bool selected[N_KEYS];
	size_t len;
	unsigned n = 0, differ = 0;

	snprintf(text, sizeof(text), "[mlchaos]\nseed = 5\n%srate = 25%%\n", rule);
	rs = build_rules(text);
	if (!rs)
		return;
	len = (size_t)snprintf(text, sizeof(text), "[mlchaos]\nseed = 5\n%s", rule);
	mc_engine_state_reset(&st);
	mc_engine_thread_init(&ts, 5, 0);
	for (unsigned k = 0; k < N_KEYS; k++) {
		char key[32];
		struct mc_call call = { .hook = MC_HOOK_SEND, .size = 100 };
		struct mc_decision d;

		call.key = key;
		call.key_len = (size_t)snprintf(key, sizeof(key), "req %u;#", k);
		selected[k] = mc_engine_decide(rs, &st, &ts, &call, &d);
		delays[k] = d.delay_ns;
		if (selected[k]) {
			char esc[128];

			mc_cfg_replay_key_escape(key, call.key_len, esc, sizeof(esc));
			len += (size_t)snprintf(text + len, sizeof(text) - len, "replay_key = %s\n",
			                        esc);
			n++;
		}
	}
	snprintf(text + len, sizeof(text) - len, "replay = 0:1:77\n"); /* hex */
	replayed = build_rules(text);
	MC_CHECK(n > N_KEYS / 8 && n < N_KEYS / 2);
	if (!replayed) {
		mc_engine_free(rs);
		return;
	}
	mc_engine_state_reset(&st);
	mc_engine_thread_init(&ts, 5, 7); /* another thread: keys do not care */
	for (unsigned k = 0; k < N_KEYS; k++) {
		char key[32];
		struct mc_call call = { .hook = MC_HOOK_SEND, .size = 100 };
		struct mc_decision d;
		bool got;

		call.key = key;
		call.key_len = (size_t)snprintf(key, sizeof(key), "req %u;#", k);
		got = mc_engine_decide(replayed, &st, &ts, &call, &d);
		differ += got != selected[k] || (got && d.delay_ns != delays[k]);
	}
	MC_CHECK_U64(differ, 0);
	{
		struct mc_call call = { .hook = MC_HOOK_SEND, .size = 100 };
		struct mc_decision d;

		/* thread 7's first keyless call is not 0:1; thread 0's is */
		MC_CHECK(!mc_engine_decide(replayed, &st, &ts, &call, &d));
		mc_engine_thread_init(&ts, 5, 0);
		MC_CHECK(mc_engine_decide(replayed, &st, &ts, &call, &d) && d.draw == 0x77);
	}
	/* the hook must gather the key for a replay_key rule at rate 100% */
	MC_CHECK(mc_engine_hook_needs(replayed, MC_HOOK_SEND) & MC_NEEDS_KEY);
	mc_engine_free(rs);
	mc_engine_free(replayed);
}

/* Graded damage replays too: the noise of a scope = call rule is drawn from the call's
 * nonce, which the listed draw gives back, so the replayed reads of a tensor file hold the
 * same values, bit for bit (count = all: every value of the f32 tensor). */
#define NOISE_FILE 4096

static void read_noisy(const struct mc_ruleset *rs, const struct mc_tensor_map *map,
                       const uint8_t *file, uint8_t *out, struct outcome *o, unsigned n)
{
	static struct mc_thread_state ts;
	struct mc_tensor_view tv = { .map = map };

	mc_engine_state_reset(&st);
	mc_engine_thread_init(&ts, mc_engine_seed(rs), 0);
	for (unsigned i = 0; i < n; i++) {
		struct mc_call call = { .hook = MC_HOOK_READ, .size = NOISE_FILE };
		struct mc_decision d;
		bool acted = mc_engine_decide(rs, &st, &ts, &call, &d);

		o[i] = outcome_of(acted, &d, call.size);
		memcpy(out + (size_t)i * NOISE_FILE, file, NOISE_FILE);
		if (acted)
			mc_engine_corrupt_tensors(d.rule, &tv, 7, d.nonce, 0,
			                          out + (size_t)i * NOISE_FILE, NOISE_FILE, NULL);
	}
}

static void test_noise_round_trip(void)
{
	enum { N = 40 };
	static uint8_t file[NOISE_FILE], run[N * NOISE_FILE], again[N * NOISE_FILE];
	static struct outcome o_run[N], o_again[N];
	static char lists[8192], text[16384];
	const struct mc_tensor t = { .off = 96, .len = 4000, .name = 0, .dtype = MC_DT_F32 };
	const struct mc_tensor_map map = {
		.format = MC_TF_SAFETENSORS, .n = 1, .file_size = NOISE_FILE, .t = &t, .names = "w"
	};
	const char *rule = "[fault.noise]\nhook = read\naction = corrupt\nregion = tensors\n"
	                   "mode = noise\nstd = 0.02\ncount = all\nscope = call\n";
	struct mc_ruleset *rs, *replayed;
	unsigned acted = 0;

	for (unsigned k = 0; k < NOISE_FILE; k += 4) {
		float v = (float)(k % 97) / 10.0f - 4.0f;
		memcpy(file + k, &v, 4);
	}
	snprintf(text, sizeof(text), "[mlchaos]\nseed = 3\nrequest_key = none\n%srate = 30%%\n",
	         rule);
	rs = build_rules(text);
	if (!rs)
		return;
	read_noisy(rs, &map, file, run, o_run, N);
	struct outcome *list = calloc(N_CALLS, sizeof(*list));
	if (list) {
		memcpy(list, o_run, sizeof(o_run));
		replay_lines(list, 0, lists, sizeof(lists));
		free(list);
	}
	snprintf(text, sizeof(text), "[mlchaos]\nseed = 3\nrequest_key = none\n%s%s", rule, lists);
	replayed = build_rules(text);
	if (replayed) {
		read_noisy(replayed, &map, file, again, o_again, N);
		for (unsigned i = 0; i < N; i++)
			acted += o_run[i].acted;
		MC_CHECK(acted > 3 && acted < N);
		MC_CHECK(memcmp(run, again, sizeof(run)) == 0);
		/* and the damage differs between calls (scope = call) */
		unsigned damaged[2], found = 0;
		for (unsigned i = 0; i < N && found < 2; i++)
			if (o_run[i].acted)
				damaged[found++] = i;
		MC_CHECK(found == 2 &&
		         memcmp(run + (size_t)damaged[0] * NOISE_FILE,
		                run + (size_t)damaged[1] * NOISE_FILE, NOISE_FILE) != 0);
		mc_engine_free(replayed);
	}
	mc_engine_free(rs);
}

int main(void)
{
	test_calls_round_trip();
	test_noise_round_trip();
	test_listed_draws();
	test_keys_round_trip();
	return mc_test_done("replay");
}
