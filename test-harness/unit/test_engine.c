/* test_engine.c: decisions with a fake clock and fake call contexts: windows, after/times,
 * first-match order, targeting (size, zero length, port, path, phase, process), budgets and
 * oom = kill, errno lists, jitter, short lengths, shadow, max_faults, rule ids and masks. */
#include <errno.h>
#include <stdlib.h>

#include "cfg_util.h"
#include "mc_test.h"

#define MS 1000000ull
#define S  1000000000ull

static uint64_t fake_now_ns;
static unsigned clock_calls;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	clock_calls++;
	return fake_now_ns;
}

static struct mc_engine_state st;

static struct mc_call call_of(enum mc_hook hook, uint64_t size)
{
	struct mc_call call = { .hook = hook, .size = size, .now_ns = fake_clock };

	return call;
}

static bool decide(const struct mc_ruleset *rs, struct mc_thread_state *ts,
                   const struct mc_call *call, struct mc_decision *d)
{
	return mc_engine_decide(rs, &st, ts, call, d);
}

static void test_window(void)
{
	struct mc_ruleset *rs = build_rules("[fault.w]\nhook = sleep\naction = delay\n"
	                                    "delay = 1ms\nstart = 10s\nduration = 30s\n");
	struct mc_call call = call_of(MC_HOOK_SLEEP, 0);
	struct mc_decision d;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	fake_now_ns = 5 * S;
	MC_CHECK(!decide(rs, NULL, &call, &d));
	fake_now_ns = 10 * S - 1;
	MC_CHECK(!decide(rs, NULL, &call, &d));
	fake_now_ns = 10 * S;
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK(d.action == MC_ACTION_DELAY && d.delay_ns == 1 * MS);
	fake_now_ns = 40 * S - 1;
	MC_CHECK(decide(rs, NULL, &call, &d));
	fake_now_ns = 40 * S;
	MC_CHECK(!decide(rs, NULL, &call, &d));
	fake_now_ns = 1000 * S;
	MC_CHECK(!decide(rs, NULL, &call, &d));
	/* one clock read per decision, and none for rules without a window */
	clock_calls = 0;
	decide(rs, NULL, &call, &d);
	MC_CHECK_U64(clock_calls, 1);
	mc_engine_free(rs);
	rs = build_rules("[fault.w]\nhook = sleep\naction = delay\ndelay = 1ms\n");
	clock_calls = 0;
	MC_CHECK(rs && decide(rs, NULL, &call, &d));
	MC_CHECK_U64(clock_calls, 0);
	mc_engine_free(rs);
}

static void test_after_times(void)
{
	struct mc_ruleset *rs = build_rules("[fault.at]\nhook = open\naction = fail\n"
	                                    "after = 3\ntimes = 2\n");
	struct mc_call call = call_of(MC_HOOK_OPEN, 0);
	struct mc_decision d;
	bool got[8];

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	for (int i = 0; i < 8; i++)
		got[i] = decide(rs, NULL, &call, &d);
	MC_CHECK(!got[0] && !got[1] && !got[2]);
	MC_CHECK(got[3] && got[4]);
	MC_CHECK(!got[5] && !got[6] && !got[7]);
	MC_CHECK_U64(st.rule[0].skipped, 3);
	MC_CHECK_U64(st.rule[0].injected, 2);
	MC_CHECK_U64(st.rule[0].selected, 5);
	/* the window comes first: calls outside it are not counted by after */
	mc_engine_free(rs);
	rs = build_rules("[fault.at]\nhook = open\naction = fail\nafter = 1\nstart = 1s\n");
	mc_engine_state_reset(&st);
	fake_now_ns = 0;
	MC_CHECK(rs && !decide(rs, NULL, &call, &d));
	MC_CHECK_U64(st.rule[0].skipped, 0);
	fake_now_ns = 2 * S;
	MC_CHECK(rs && !decide(rs, NULL, &call, &d)); /* skipped by after */
	MC_CHECK(rs && decide(rs, NULL, &call, &d));
	mc_engine_free(rs);
}

/* The first rule of the hook that matches and is selected acts; other hooks never see it. */
static void test_order(void)
{
	struct mc_ruleset *rs =
	    build_rules("[fault.never]\nhook = read\naction = fail\nrate = 0\n"
	                "[fault.big]\nhook = read\naction = fail\nerrno = EINTR\n"
	                "min_size = 1000\n"
	                "[fault.any]\nhook = read\naction = fail\nerrno = EIO\n"
	                "[fault.mem]\nhook = malloc\naction = fail\n");
	struct mc_call call = call_of(MC_HOOK_READ, 10);
	struct mc_decision d;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK_STR(d.rule->name, "any");
	MC_CHECK_U64(d.err, EIO);
	call.size = 5000;
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK_STR(d.rule->name, "big");
	MC_CHECK_U64(d.err, EINTR);
	call = call_of(MC_HOOK_MALLOC, 10);
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK_STR(d.rule->name, "mem");
	call = call_of(MC_HOOK_SEND, 10);
	MC_CHECK(!decide(rs, NULL, &call, &d));
	call = call_of(MC_HOOK_COUNT, 10); /* out of range: nothing, no crash */
	MC_CHECK(!decide(rs, NULL, &call, &d));
	MC_CHECK_U64(mc_engine_armed_hooks(rs),
	             MC_HOOK_BIT(MC_HOOK_READ) | MC_HOOK_BIT(MC_HOOK_MALLOC));
	MC_CHECK_U64(mc_engine_rule_count(rs), 4);
	MC_CHECK_U64(mc_engine_rule_id(rs, "any"), 2);
	MC_CHECK(mc_engine_rule_id(rs, "nope") == -ENOENT);
	MC_CHECK(mc_engine_rule(rs, 4) == NULL);
	mc_engine_free(rs);
}

static void test_targeting(void)
{
	struct mc_ruleset *rs =
	    build_rules("[fault.sized]\nhook = write\naction = fail\n"
	                "min_size = 100\nmax_size = 200\n"
	                "[fault.port]\nhook = send\naction = fail\nport = 8080\n"
	                "[fault.load]\nhook = sleep\naction = fail\nphase = load\n"
	                "[fault.zero]\nhook = read\naction = fail\n");
	struct mc_call call;
	struct mc_decision d;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	call = call_of(MC_HOOK_WRITE, 99);
	MC_CHECK(!decide(rs, NULL, &call, &d));
	call.size = 100;
	MC_CHECK(decide(rs, NULL, &call, &d));
	call.size = 200;
	MC_CHECK(decide(rs, NULL, &call, &d));
	call.size = 201;
	MC_CHECK(!decide(rs, NULL, &call, &d));

	call = call_of(MC_HOOK_SEND, 10);
	MC_CHECK(!decide(rs, NULL, &call, &d)); /* not a socket */
	call.local_port = 8080;
	MC_CHECK(decide(rs, NULL, &call, &d));
	call.local_port = 40000;
	call.peer_port = 8080;
	MC_CHECK(decide(rs, NULL, &call, &d));
	call.peer_port = 8081;
	MC_CHECK(!decide(rs, NULL, &call, &d));

	call = call_of(MC_HOOK_SLEEP, 0);
	MC_CHECK(!decide(rs, NULL, &call, &d)); /* phase not tracked */
	call.phase = MC_PHASE_SERVE;
	MC_CHECK(!decide(rs, NULL, &call, &d));
	call.phase = MC_PHASE_LOAD;
	MC_CHECK(decide(rs, NULL, &call, &d));

	call = call_of(MC_HOOK_READ, 0); /* read(fd, buf, 0) passes through */
	MC_CHECK(!decide(rs, NULL, &call, &d));
	call.size = 1;
	MC_CHECK(decide(rs, NULL, &call, &d));
	mc_engine_free(rs);
}

/* Path globs are matched once per open into a mask, which later calls carry. */
static void test_paths(void)
{
	static char text[128 * 80];
	struct mc_ruleset *rs;
	struct mc_rulemask mask;
	struct mc_call call;
	struct mc_decision d;
	size_t len = 0;

	/* 100 rules, so that masks span two words: read rules with a path at ids 1, 70, 99,
	 * malloc rules elsewhere */
	for (int i = 0; i < 100; i++) {
		const char *path = i == 1    ? "*/models/*.bin"
		                   : i == 70 ? "/data/*"
		                   : i == 99 ? "*"
		                             : NULL;

		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "[fault.r%d]\nhook = %s\naction = fail\n", i,
		                        path ? "read" : "malloc");
		if (path)
			len +=
			    (size_t)snprintf(text + len, sizeof(text) - len, "path = %s\n", path);
	}
	rs = build_rules(text);
	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	MC_CHECK(mc_engine_match_path(rs, "/srv/models/w.bin", &mask));
	MC_CHECK(mask.w[0] == 1ull << 1);
	MC_CHECK(mask.w[1] == 1ull << (99 - 64));
	MC_CHECK(mc_engine_match_path(rs, "/data/x", &mask));
	MC_CHECK(mask.w[0] == 0 && mask.w[1] == ((1ull << 6) | (1ull << 35)));

	call = call_of(MC_HOOK_READ, 10);
	MC_CHECK(!decide(rs, NULL, &call, &d)); /* no path known: path rules never match */
	mc_engine_match_path(rs, "/srv/models/w.bin", &mask);
	call.path_rules = &mask;
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK_STR(d.rule->name, "r1");
	mc_engine_match_path(rs, "/data/x", &mask);
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK_STR(d.rule->name, "r70");
	mc_engine_match_path(rs, "/etc/passwd", &mask);
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK_STR(d.rule->name, "r99");
	mc_engine_free(rs);
}

static void test_budget(void)
{
	struct mc_ruleset *rs = build_rules("[fault.b]\nhook = malloc\naction = fail\n"
	                                    "budget = 1MiB\n"
	                                    "[fault.k]\nhook = mmap\naction = fail\nbudget = 1MiB\n"
	                                    "oom = kill\n");
	struct mc_call call;
	struct mc_decision d;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	call = call_of(MC_HOOK_MALLOC, 512 << 10);
	MC_CHECK(!decide(rs, NULL, &call, &d));
	call.heap_live_bytes = 512 << 10; /* exactly at the budget: still fits */
	MC_CHECK(!decide(rs, NULL, &call, &d));
	call.heap_live_bytes = (512 << 10) + 1;
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK(d.action == MC_ACTION_FAIL && d.err == ENOMEM && !d.kill);
	call.heap_live_bytes = 2 << 20; /* already above */
	call.size = 1;
	MC_CHECK(decide(rs, NULL, &call, &d));
	call.heap_live_bytes = 0;
	call.size = UINT64_MAX; /* no overflow */
	MC_CHECK(decide(rs, NULL, &call, &d));

	call = call_of(MC_HOOK_MMAP, 4096);
	call.heap_live_bytes = 1 << 20;
	MC_CHECK(decide(rs, NULL, &call, &d));
	MC_CHECK(d.kill && d.err == ENOMEM);
	call.heap_live_bytes = 0;
	MC_CHECK(!decide(rs, NULL, &call, &d));
	mc_engine_free(rs);
}

static void test_action_parameters(void)
{
	struct mc_ruleset *rs =
	    build_rules("[mlchaos]\nrequest_key = none\n"
	                "[fault.e]\nhook = read\naction = fail\n"
	                "errno = EIO, EINTR, EAGAIN\n"
	                "[fault.j]\nhook = sleep\naction = delay\n"
	                "delay = 10ms\njitter = 2ms\n"
	                "[fault.s]\nhook = write\naction = short\nmax_bytes = 7\n"
	                "[fault.r]\nhook = open\naction = redirect\n"
	                "to = /models/old.bin\n"
	                "[fault.c]\nhook = mmap\naction = corrupt\nscope = call\n");
	struct mc_thread_state ts;
	unsigned seen_eio = 0, seen_eintr = 0, seen_eagain = 0, other = 0, bad_delay = 0;
	unsigned bad_short = 0, zero_short = 0;
	uint64_t min_delay = UINT64_MAX, max_delay = 0, nonce = 0;
	unsigned same_nonce = 0;
	struct mc_decision d;
	struct mc_call call;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	mc_engine_thread_init(&ts, 0, 0);
	for (int i = 0; i < 3000; i++) {
		call = call_of(MC_HOOK_READ, 100);
		MC_CHECK(decide(rs, &ts, &call, &d));
		seen_eio += d.err == EIO;
		seen_eintr += d.err == EINTR;
		seen_eagain += d.err == EAGAIN;
		other += d.err != EIO && d.err != EINTR && d.err != EAGAIN;

		call = call_of(MC_HOOK_SLEEP, 0);
		decide(rs, &ts, &call, &d);
		bad_delay += d.delay_ns < 10 * MS || d.delay_ns >= 12 * MS;
		min_delay = d.delay_ns < min_delay ? d.delay_ns : min_delay;
		max_delay = d.delay_ns > max_delay ? d.delay_ns : max_delay;

		call = call_of(MC_HOOK_WRITE, (uint64_t)(i % 10) + 1);
		decide(rs, &ts, &call, &d);
		MC_CHECK(d.action == MC_ACTION_SHORT && d.max_bytes == 7);
		{
			uint64_t n = call.size, got = mc_engine_short_len(&d, n);

			zero_short += got == 0;
			bad_short += got > n || got > 7;
			bad_short += mc_engine_short_len(&d, 0) != 0;
			bad_short += mc_engine_short_len(&d, 1) != 1;
		}

		call = call_of(MC_HOOK_MMAP, 4096);
		decide(rs, &ts, &call, &d);
		same_nonce += d.nonce == nonce;
		nonce = d.nonce;
	}
	MC_CHECK(seen_eio > 800 && seen_eintr > 800 && seen_eagain > 800);
	MC_CHECK_U64(other, 0);
	MC_CHECK_U64(bad_delay, 0);
	MC_CHECK(min_delay < 10 * MS + 100000 && max_delay > 12 * MS - 100000);
	MC_CHECK_U64(bad_short, 0);
	MC_CHECK_U64(zero_short, 0);
	MC_CHECK_U64(same_nonce, 0);

	call = call_of(MC_HOOK_OPEN, 0);
	MC_CHECK(decide(rs, &ts, &call, &d));
	MC_CHECK_STR(d.to, "/models/old.bin");
	mc_engine_free(rs);
}

/* A short decision never yields 0 for a nonzero request, whatever max_bytes and n are. */
static void test_short_lengths(void)
{
	struct mc_decision d = { .action = MC_ACTION_SHORT };
	unsigned bad = 0;

	for (uint64_t i = 0; i < 20000; i++) {
		uint64_t n = i % 5 == 0 ? UINT64_MAX - i : i % 3000 + 1;
		uint64_t got;

		d.draw = i * 0x9e3779b97f4a7c15ull;
		d.max_bytes = i % 7 == 0 ? UINT64_MAX : i % 4096 + 1;
		got = mc_engine_short_len(&d, n);
		bad += got == 0 || got > n || got > d.max_bytes;
	}
	d.max_bytes = 0; /* not from a valid config, but must not divide by zero */
	bad += mc_engine_short_len(&d, 10) == 0;
	MC_CHECK_U64(bad, 0);
}

static void test_shadow_and_max_faults(void)
{
	struct mc_ruleset *rs = build_rules("[mlchaos]\nmax_faults = 3\n"
	                                    "[fault.a]\nhook = read\naction = fail\nshadow = true\n"
	                                    "[fault.b]\nhook = malloc\naction = fail\n");
	struct mc_call read_call = call_of(MC_HOOK_READ, 1);
	struct mc_call malloc_call = call_of(MC_HOOK_MALLOC, 1);
	struct mc_decision d;
	unsigned hits = 0;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	MC_CHECK(decide(rs, NULL, &read_call, &d) && d.shadow);
	MC_CHECK(decide(rs, NULL, &malloc_call, &d) && !d.shadow);
	for (int i = 0; i < 10; i++)
		hits += decide(rs, NULL, i % 2 ? &read_call : &malloc_call, &d);
	MC_CHECK_U64(hits, 1); /* 3 in all, rules together */
	MC_CHECK_U64(st.faults, 3);
	mc_engine_free(rs);

	rs = build_rules("[mlchaos]\nshadow = yes\n[fault.b]\nhook = malloc\naction = fail\n");
	mc_engine_state_reset(&st);
	MC_CHECK(rs && decide(rs, NULL, &malloc_call, &d) && d.shadow);
	mc_engine_free(rs);
}

static void test_process_and_enabled(void)
{
	static const char text[] = "[fault.py]\nhook = malloc\naction = fail\nprocess = python*\n"
	                           "[fault.gu]\nhook = read\naction = fail\nprocess = gunicorn*\n"
	                           "[fault.all]\nhook = sleep\naction = fail\n";
	struct mc_config *cfg = parse_ok(text);
	struct mc_proc py = { "python3", "/usr/bin/python3" };
	struct mc_proc gu = { "python3", "/opt/venv/bin/gunicorn" };
	struct mc_proc java = { "java", NULL };
	struct mc_ruleset *rs;
	struct mc_call call = call_of(MC_HOOK_MALLOC, 8);
	struct mc_decision d;

	MC_CHECK(cfg != NULL);
	if (!cfg)
		return;
	mc_engine_state_reset(&st);
	MC_CHECK(mc_engine_build(cfg, &py, &rs) == 0);
	MC_CHECK_U64(mc_engine_armed_hooks(rs),
	             MC_HOOK_BIT(MC_HOOK_MALLOC) | MC_HOOK_BIT(MC_HOOK_SLEEP));
	MC_CHECK(decide(rs, NULL, &call, &d));
	mc_engine_free(rs);
	MC_CHECK(mc_engine_build(cfg, &gu, &rs) == 0);
	MC_CHECK_U64(mc_engine_armed_hooks(rs), MC_HOOK_BIT(MC_HOOK_MALLOC) |
	                                            MC_HOOK_BIT(MC_HOOK_READ) |
	                                            MC_HOOK_BIT(MC_HOOK_SLEEP));
	mc_engine_free(rs);
	MC_CHECK(mc_engine_build(cfg, &java, &rs) == 0);
	MC_CHECK_U64(mc_engine_armed_hooks(rs), MC_HOOK_BIT(MC_HOOK_SLEEP));
	MC_CHECK(!decide(rs, NULL, &call, &d));    /* disabled for this process */
	MC_CHECK_U64(mc_engine_rule_count(rs), 3); /* ids stay file positions */
	MC_CHECK(!mc_engine_rule(rs, 0)->enabled && mc_engine_rule(rs, 2)->enabled);
	mc_engine_free(rs);
	mc_cfg_free(cfg);

	cfg = parse_ok("[mlchaos]\nenabled = false\n[fault.a]\nhook = malloc\naction = fail\n");
	MC_CHECK(cfg && mc_engine_build(cfg, NULL, &rs) == 0);
	MC_CHECK(cfg && mc_engine_armed_hooks(rs) == 0);
	if (cfg)
		mc_engine_free(rs);
	mc_cfg_free(cfg);
}

int main(void)
{
	test_window();
	test_after_times();
	test_order();
	test_targeting();
	test_paths();
	test_budget();
	test_action_parameters();
	test_short_lengths();
	test_shadow_and_max_faults();
	test_process_and_enabled();
	return mc_test_done("engine");
}
