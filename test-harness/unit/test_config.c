/* test_config.c: every key of the INI language parsed into its field, the defaults, the
 * derived values (default errno, select), the reader's limits (long lines, CRLF, BOM,
 * indentation) and the one-line summary. Bad input has its golden files (test_golden.c). */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "cfg_util.h"
#include "mc_test.h"

#define MS 1000000ull
#define S  1000000000ull

static const char full[] = "; every key, once\n"
                           "[mlchaos]\n"
                           "seed = 0x2A\n"
                           "enabled = yes\n"
                           "request_key = header:X-Trace-Id\n"
                           "on_error = abort\n"
                           "log = /tmp/mlchaos-%p.jsonl\n"
                           "halt_file = /tmp/mlchaos.halt\n"
                           "max_faults = 1000\n"
                           "shadow = false\n"
                           "halt_on_error_rate = 20%\n"
                           "halt_window = 300\n"
                           "\n"
                           "[fault.weights]\n"
                           "hook = read\n"
                           "action = corrupt\n"
                           "path = */models/*.bin\n"
                           "port = 8080\n"
                           "min_size = 1KiB\n"
                           "max_size = 1MiB\n"
                           "process = python*\n"
                           "phase = load\n"
                           "rate = 12.5%\n"
                           "select = call\n"
                           "after = 100\n"
                           "times = 3\n"
                           "start = 10s\n"
                           "duration = 30s\n"
                           "shadow = true\n"
                           "mode = byte:0x7f\n"
                           "count = 4\n"
                           "offset = 4KiB-1MiB\n"
                           "scope = call\n"
                           "\n"
                           "[fault.slow]\n"
                           "hook = send\n"
                           "action = delay\n"
                           "delay = 200ms\n"
                           "jitter = 50ms\n"
                           "\n"
                           "[fault.oom]\n"
                           "hook = malloc\n"
                           "action = fail\n"
                           "budget = 512MiB\n"
                           "oom = kill\n"
                           "\n"
                           "[fault.flaky]\n"
                           "hook = read\n"
                           "action = fail\n"
                           "errno = EIO, EINTR,EAGAIN\n"
                           "\n"
                           "[fault.trickle]\n"
                           "hook = write\n"
                           "action = short\n"
                           "max_bytes = 1\n"
                           "\n"
                           "[fault.stale]\n"
                           "hook = open\n"
                           "action = redirect\n"
                           "path = /models/current.bin\n"
                           "to = /models/previous.bin\n"
                           "phase = serve\n";

static void test_full(void)
{
	struct mc_config *cfg = parse_ok(full);
	const struct mc_rule_spec *r;

	MC_CHECK(cfg != NULL);
	if (!cfg)
		return;
	MC_CHECK_U64(cfg->seed, 42);
	MC_CHECK(cfg->enabled);
	MC_CHECK(cfg->request_key == MC_KEY_HEADER);
	MC_CHECK_STR(cfg->header, "X-Trace-Id");
	MC_CHECK(cfg->on_error == MC_ON_ERROR_ABORT);
	MC_CHECK_STR(cfg->log, "/tmp/mlchaos-%p.jsonl");
	MC_CHECK_STR(cfg->halt_file, "/tmp/mlchaos.halt");
	MC_CHECK_U64(cfg->max_faults, 1000);
	MC_CHECK(!cfg->shadow);
	MC_CHECK_U64(cfg->halt_on_error_rate_ppm, 200000);
	MC_CHECK_U64(cfg->halt_window, 300);
	MC_CHECK_U64(cfg->n_rules, 6);

	r = &cfg->rules[0];
	MC_CHECK_STR(r->name, "weights");
	MC_CHECK_U64(r->line, 14);
	MC_CHECK(r->hook == MC_HOOK_READ);
	MC_CHECK(r->action == MC_ACTION_CORRUPT);
	MC_CHECK_STR(r->path, "*/models/*.bin");
	MC_CHECK_U64(r->port, 8080);
	MC_CHECK_U64(r->min_size, 1024);
	MC_CHECK_U64(r->max_size, 1 << 20);
	MC_CHECK_STR(r->process, "python*");
	MC_CHECK(r->phase == MC_PHASE_LOAD);
	MC_CHECK_U64(r->rate_ppm, 125000);
	MC_CHECK(r->select == MC_SELECT_CALL);
	MC_CHECK_U64(r->after, 100);
	MC_CHECK_U64(r->times, 3);
	MC_CHECK_U64(r->start_ns, 10 * S);
	MC_CHECK_U64(r->duration_ns, 30 * S);
	MC_CHECK(r->shadow);
	MC_CHECK(r->mode == MC_CORRUPT_BYTE);
	MC_CHECK_U64(r->byte, 0x7f);
	MC_CHECK_U64(r->count, 4);
	MC_CHECK_U64(r->offset_lo, 4096);
	MC_CHECK_U64(r->offset_hi, 1 << 20);
	MC_CHECK(r->scope == MC_SCOPE_CALL);

	r = &cfg->rules[1];
	MC_CHECK(r->hook == MC_HOOK_SEND && r->action == MC_ACTION_DELAY);
	MC_CHECK_U64(r->delay_ns, 200 * MS);
	MC_CHECK_U64(r->jitter_ns, 50 * MS);
	MC_CHECK(r->select == MC_SELECT_REQUEST); /* request_key is a header */

	r = &cfg->rules[2];
	MC_CHECK(r->hook == MC_HOOK_MALLOC && r->action == MC_ACTION_FAIL);
	MC_CHECK_U64(r->budget_bytes, 512ull << 20);
	MC_CHECK(r->oom == MC_OOM_KILL);
	MC_CHECK_U64(r->n_errnos, 1);
	MC_CHECK_U64(r->errnos[0], ENOMEM); /* the hook's default */

	r = &cfg->rules[3];
	MC_CHECK_U64(r->n_errnos, 3);
	MC_CHECK(r->errnos[0] == EIO && r->errnos[1] == EINTR && r->errnos[2] == EAGAIN);

	r = &cfg->rules[4];
	MC_CHECK(r->hook == MC_HOOK_WRITE && r->action == MC_ACTION_SHORT);
	MC_CHECK_U64(r->max_bytes, 1);

	r = &cfg->rules[5];
	MC_CHECK(r->hook == MC_HOOK_OPEN && r->action == MC_ACTION_REDIRECT);
	MC_CHECK_STR(r->path, "/models/current.bin");
	MC_CHECK_STR(r->to, "/models/previous.bin");
	MC_CHECK(r->phase == MC_PHASE_SERVE);
	mc_cfg_free(cfg);
}

static void test_defaults(void)
{
	struct mc_config *cfg = parse_ok("[fault.a]\nhook = malloc\naction = fail\n"
	                                 "[fault.b]\nhook = read\naction = corrupt\n");
	const struct mc_rule_spec *r;

	MC_CHECK(cfg != NULL);
	if (!cfg)
		return;
	MC_CHECK_U64(cfg->seed, 0);
	MC_CHECK(cfg->enabled);
	MC_CHECK(cfg->request_key == MC_KEY_HEADER);
	MC_CHECK_STR(cfg->header, "X-Request-Id");
	MC_CHECK(cfg->on_error == MC_ON_ERROR_PASSTHROUGH);
	MC_CHECK(cfg->log == NULL && cfg->halt_file == NULL);
	MC_CHECK_U64(cfg->max_faults, MC_UNLIMITED);
	MC_CHECK_U64(cfg->halt_on_error_rate_ppm, 0);
	r = &cfg->rules[0];
	MC_CHECK_U64(r->rate_ppm, MC_RATE_ONE);
	MC_CHECK(r->select == MC_SELECT_REQUEST);
	MC_CHECK_U64(r->after, 0);
	MC_CHECK_U64(r->times, MC_UNLIMITED);
	MC_CHECK_U64(r->start_ns, 0);
	MC_CHECK_U64(r->duration_ns, MC_UNLIMITED);
	MC_CHECK_U64(r->min_size, 0);
	MC_CHECK_U64(r->max_size, MC_UNLIMITED);
	MC_CHECK(r->phase == MC_PHASE_ANY && !r->shadow && r->path == NULL && r->port == 0);
	MC_CHECK(r->n_errnos == 1 && r->errnos[0] == ENOMEM);
	MC_CHECK_U64(r->budget_bytes, 0);
	r = &cfg->rules[1];
	MC_CHECK(r->mode == MC_CORRUPT_BITFLIP && r->count == 1 && r->scope == MC_SCOPE_FILE);
	MC_CHECK(r->offset_lo == 0 && r->offset_hi == MC_UNLIMITED);
	MC_CHECK(r->region == MC_REGION_ANY && r->tensor == NULL);
	mc_cfg_free(cfg);
}

/* The errno action = fail uses when none is written, per hook. */
static void test_default_errnos(void)
{
	static const struct {
		const char *hook;
		int err;
	} cases[] = { { "read", EIO },      { "send", ECONNRESET }, { "write", ENOSPC },
		      { "malloc", ENOMEM }, { "mmap", ENOMEM },     { "sleep", EINTR },
		      { "open", ENOENT } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		struct mc_config *cfg;

		snprintf(text, sizeof(text), "[fault.x]\nhook = %s\naction = fail\n",
		         cases[i].hook);
		cfg = parse_ok(text);
		MC_CHECK(cfg && cfg->rules[0].n_errnos == 1 &&
		         cfg->rules[0].errnos[0] == cases[i].err);
		mc_cfg_free(cfg);
	}
}

static void test_request_keys(void)
{
	struct mc_config *cfg;

	cfg = parse_ok("[mlchaos]\nrequest_key = none\n[fault.a]\nhook = malloc\naction = fail\n");
	MC_CHECK(cfg && cfg->request_key == MC_KEY_NONE);
	MC_CHECK(cfg && cfg->rules[0].select == MC_SELECT_CALL); /* no key: per call */
	mc_cfg_free(cfg);
	cfg =
	    parse_ok("[fault.a]\nhook = malloc\naction = fail\n[mlchaos]\nrequest_key = thread\n");
	MC_CHECK(cfg && cfg->request_key == MC_KEY_THREAD);
	MC_CHECK(cfg && cfg->rules[0].select == MC_SELECT_REQUEST);
	mc_cfg_free(cfg);
	cfg = parse_ok("[mlchaos]\nrequest_key = connection\n");
	MC_CHECK(cfg && cfg->request_key == MC_KEY_CONNECTION);
	mc_cfg_free(cfg);
}

static void test_modes(void)
{
	static const struct {
		const char *text;
		enum mc_corrupt_mode mode;
		unsigned byte;
	} cases[] = { { "bitflip", MC_CORRUPT_BITFLIP, 0 },
		      { "zero", MC_CORRUPT_ZERO, 0 },
		      { "random", MC_CORRUPT_RANDOM, 0 },
		      { "byte:0xFF", MC_CORRUPT_BYTE, 255 },
		      { "byte:0", MC_CORRUPT_BYTE, 0 } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[160];
		struct mc_config *cfg;

		snprintf(text, sizeof(text),
		         "[fault.x]\nhook = mmap\naction = corrupt\nmode = %s\n", cases[i].text);
		cfg = parse_ok(text);
		MC_CHECK(cfg && cfg->rules[0].mode == cases[i].mode &&
		         cfg->rules[0].byte == cases[i].byte);
		mc_cfg_free(cfg);
	}
}

/* region = tensors with its glob and every value mode; count beyond a page's bytes is fine for
 * the value modes (values per tensor) */
static void test_tensor_modes(void)
{
	static const struct {
		const char *text;
		enum mc_corrupt_mode mode;
		bool value;
	} cases[] = {
		{ "nan", MC_CORRUPT_NAN, true },           { "inf", MC_CORRUPT_INF, true },
		{ "exponent", MC_CORRUPT_EXPONENT, true }, { "sign", MC_CORRUPT_SIGN, true },
		{ "zero", MC_CORRUPT_ZERO, true },         { "bitflip", MC_CORRUPT_BITFLIP, false },
		{ "random", MC_CORRUPT_RANDOM, false },    { "byte:0x10", MC_CORRUPT_BYTE, false }
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[200];
		struct mc_config *cfg;

		snprintf(text, sizeof(text),
		         "[fault.x]\nhook = read\naction = corrupt\nregion = tensors\n"
		         "tensor = layers.0.*\nmode = %s\ncount = %u\n",
		         cases[i].text,
		         cases[i].value && cases[i].mode != MC_CORRUPT_ZERO ? 9000 : 7);
		cfg = parse_ok(text);
		MC_CHECK(cfg && cfg->rules[0].mode == cases[i].mode);
		MC_CHECK(cfg && cfg->rules[0].region == MC_REGION_TENSORS);
		MC_CHECK(cfg && cfg->rules[0].tensor &&
		         !strcmp(cfg->rules[0].tensor, "layers.0.*"));
		MC_CHECK(mc_cfg_mode_is_value(cases[i].mode) == cases[i].value);
		MC_CHECK_STR(mc_corrupt_mode_name(cases[i].mode),
		             cases[i].mode == MC_CORRUPT_BYTE ? "byte" : cases[i].text);
		mc_cfg_free(cfg);
	}
	{
		struct diags d;
		struct mc_config *cfg =
		    parse_text("[fault.x]\nhook = read\naction = corrupt\nmode = nan\n", &d);

		MC_CHECK(cfg == NULL && d.errors == 1); /* the message: golden bad-tensors */
		mc_cfg_free(cfg);
	}
}

static void test_offsets(void)
{
	struct mc_config *cfg;

	cfg = parse_ok("[fault.x]\nhook = read\naction = corrupt\noffset = 0-4096\n");
	MC_CHECK(cfg && cfg->rules[0].offset_lo == 0 && cfg->rules[0].offset_hi == 4096);
	mc_cfg_free(cfg);
	cfg = parse_ok("[fault.x]\nhook = read\naction = corrupt\noffset = 1MiB -\n");
	MC_CHECK(cfg && cfg->rules[0].offset_lo == 1 << 20 &&
	         cfg->rules[0].offset_hi == MC_UNLIMITED);
	mc_cfg_free(cfg);
}

/* Lines of up to MC_CFG_MAX_LINE bytes work (inih's own default is 200). */
static void test_long_lines(void)
{
	char text[4096], glob[MC_CFG_MAX_LINE + 1];
	const char *prefix = "path = /";
	size_t glob_len = MC_CFG_MAX_LINE - strlen(prefix);
	struct mc_config *cfg;
	struct diags d;

	memset(glob, 'a', glob_len);
	glob[glob_len] = '\0';
	snprintf(text, sizeof(text), "[fault.x]\nhook = open\naction = fail\n%s%s\n", prefix, glob);
	cfg = parse_ok(text);
	MC_CHECK(cfg && cfg->rules[0].path && strlen(cfg->rules[0].path) == glob_len + 1);
	mc_cfg_free(cfg);
	/* one byte more: a clear error, and the lines after it still count right */
	snprintf(text, sizeof(text), "[fault.x]\nhook = open\naction = fail\n%sa%s\nbogus = 1\n",
	         prefix, glob);
	cfg = parse_text(text, &d);
	MC_CHECK(cfg == NULL);
	MC_CHECK(strstr(d.text, "t.ini:4: line is 1025 bytes long, the limit is 1024") != NULL);
	MC_CHECK(strstr(d.text, "t.ini:5: unknown key 'bogus'") != NULL);
}

/* CRLF line ends, a UTF-8 BOM, indentation, comments of both kinds, name: value. */
static void test_syntax_variants(void)
{
	struct mc_config *cfg = parse_ok("\xef\xbb\xbf# comment\r\n"
	                                 "[mlchaos]\r\n"
	                                 "  seed = 7 ; inline comment\r\n"
	                                 "\t; indented comment\r\n"
	                                 "[fault.a] ; trailing comment\r\n"
	                                 "    hook: malloc\r\n"
	                                 "action=fail\r\n");

	MC_CHECK(cfg && cfg->seed == 7 && cfg->n_rules == 1);
	MC_CHECK(cfg && cfg->rules[0].hook == MC_HOOK_MALLOC);
	MC_CHECK(cfg && cfg->rules[0].action == MC_ACTION_FAIL);
	mc_cfg_free(cfg);
}

static void test_describe(void)
{
	struct mc_config *cfg = parse_ok("[mlchaos]\nseed = 42\n"
	                                 "[fault.a]\nhook = read\naction = corrupt\n"
	                                 "[fault.b]\nhook = malloc\naction = fail\n"
	                                 "[fault.c]\nhook = send\naction = delay\ndelay = 1ms\n");
	char buf[256];

	MC_CHECK(cfg != NULL);
	if (!cfg)
		return;
	mc_cfg_describe(cfg, buf, sizeof(buf));
	MC_CHECK_STR(buf, "3 rules (read:corrupt, malloc:fail, send:delay), seed 42");
	MC_CHECK_U64(mc_cfg_describe(cfg, buf, 8), strlen("3 rules (read:corrupt, malloc:fail, "
	                                                  "send:delay), seed 42"));
	MC_CHECK_STR(buf, "3 rules");
	mc_cfg_free(cfg);
	cfg = parse_ok("[mlchaos]\nenabled = false\n");
	MC_CHECK(cfg != NULL);
	if (cfg)
		mc_cfg_describe(cfg, buf, sizeof(buf));
	MC_CHECK_STR(buf, "0 rules, seed 0, disabled");
	mc_cfg_free(cfg);
}

/* A warning does not make the file invalid. */
static void test_warnings(void)
{
	struct diags d;
	struct mc_config *cfg =
	    parse_text("[fault.a]\nhook = malloc\naction = fail\nrate = 0%\n", &d);

	MC_CHECK(cfg != NULL);
	MC_CHECK_U64(d.errors, 0);
	MC_CHECK_U64(d.warnings, 1);
	MC_CHECK_STR(d.text, "t.ini:4: warning: rate = 0% never selects: rule 'a' does nothing\n");
	mc_cfg_free(cfg);
}

static void test_too_many_rules(void)
{
	static char text[MC_MAX_RULES * 64 + 256];
	size_t len = 0;
	struct mc_config *cfg;
	struct diags d;

	for (int i = 0; i <= MC_MAX_RULES; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		                        "[fault.r%d]\nhook = malloc\naction = fail\n", i);
	cfg = parse_text(text, &d);
	MC_CHECK(cfg == NULL);
	MC_CHECK_U64(d.errors, 1);
	MC_CHECK_STR(d.text, "t.ini:385: too many rules: at most 128 per config\n");
	/* exactly MC_MAX_RULES is fine */
	text[len - strlen("[fault.r128]\nhook = malloc\naction = fail\n")] = '\0';
	cfg = parse_ok(text);
	MC_CHECK(cfg && cfg->n_rules == MC_MAX_RULES);
	mc_cfg_free(cfg);
}

static void test_missing_file(void)
{
	struct mc_config *cfg = (struct mc_config *)1;
	struct diags d;

	memset(&d, 0, sizeof(d));
	MC_CHECK(mc_cfg_parse_file("/nonexistent/chaos.ini", collect_diag, &d, &cfg) == -ENOENT);
	MC_CHECK(cfg == NULL);
	MC_CHECK_STR(d.text, "/nonexistent/chaos.ini: cannot open: No such file or directory\n");
	memset(&d, 0, sizeof(d));
	MC_CHECK(mc_cfg_parse_file("/", collect_diag, &d, &cfg) == -EISDIR);
	MC_CHECK_STR(d.text, "/: cannot read: Is a directory\n");
}

/* on_error survives an invalid file, so that the library can honor on_error = abort. */
static enum mc_on_error policy_of(const char *text, int *ret)
{
	char path[] = "/tmp/mc-unit-policy-XXXXXX";
	enum mc_on_error on_error = MC_ON_ERROR_ABORT;
	struct mc_config *cfg = NULL;
	int fd = mkstemp(path);
	struct diags d;

	memset(&d, 0, sizeof(d));
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		perror("policy temp file");
		*ret = -EIO;
		return on_error;
	}
	close(fd);
	*ret = mc_cfg_parse_file_policy(path, collect_diag, &d, &cfg, &on_error);
	unlink(path);
	mc_cfg_free(cfg);
	return on_error;
}

static void test_policy(void)
{
	enum mc_on_error on_error = MC_ON_ERROR_ABORT;
	struct mc_config *cfg = NULL;
	int r;

	MC_CHECK(policy_of("[mlchaos]\non_error = abort\n[fault.x]\nhook = reed\n", &r) ==
	         MC_ON_ERROR_ABORT);
	MC_CHECK(r == -EINVAL);
	MC_CHECK(policy_of("[fault.x]\nhook = reed\n[mlchaos]\non_error = abort\n", &r) ==
	         MC_ON_ERROR_ABORT);
	MC_CHECK(policy_of("[mlchaos]\non_error = abrot\n[fault.x]\nhook = reed\n", &r) ==
	         MC_ON_ERROR_PASSTHROUGH);
	MC_CHECK(policy_of("[mlchaos]\nseed = x\n", &r) == MC_ON_ERROR_PASSTHROUGH);
	MC_CHECK(policy_of("[mlchaos]\non_error = abort\n", &r) == MC_ON_ERROR_ABORT && r == 0);
	MC_CHECK(mc_cfg_parse_file_policy("/nonexistent/x.ini", NULL, NULL, &cfg, &on_error) ==
	         -ENOENT);
	MC_CHECK(on_error == MC_ON_ERROR_PASSTHROUGH && cfg == NULL);
}

static void test_names(void)
{
	MC_CHECK_STR(mc_hook_name(MC_HOOK_MMAP), "mmap");
	MC_CHECK_STR(mc_hook_name(MC_HOOK_COUNT), "?");
	MC_CHECK_STR(mc_action_name(MC_ACTION_REDIRECT), "redirect");
	MC_CHECK_STR(mc_errno_name(ENOSPC), "ENOSPC");
	MC_CHECK(mc_errno_name(4095) == NULL);
}

/* The keys of each section as written, in file order, repeated keys once per line. */
static void test_written(void)
{
	struct mc_config *cfg = parse_ok("[mlchaos]\nseed = 0x2a\nrequest_key = none\n"
	                                 "[fault.a]\nhook = read ; a comment\naction = fail\n"
	                                 "errno = EIO,  EINTR\nreplay = 0:1:ff\n"
	                                 "replay = 0:2:0 1:1:1\n");

	if (!cfg)
		return;
	MC_CHECK_U64(cfg->written.n, 2);
	MC_CHECK_STR(cfg->written.v[0].key, "seed");
	MC_CHECK_STR(cfg->written.v[0].value, "0x2a");
	MC_CHECK_U64(cfg->written.v[1].line, 3);
	MC_CHECK_U64(cfg->rules[0].written.n, 5);
	MC_CHECK_STR(cfg->rules[0].written.v[0].value, "read");
	MC_CHECK_STR(cfg->rules[0].written.v[2].value, "EIO,  EINTR");
	MC_CHECK_STR(cfg->rules[0].written.v[4].key, "replay");
	MC_CHECK_STR(cfg->rules[0].written.v[4].value, "0:2:0 1:1:1");
	MC_CHECK_U64(cfg->rules[0].written.v[4].line, 9);
	mc_cfg_free(cfg);
}

/* replay lists: every entry of every line, sorted by (thread, call); keys decoded. */
static void test_replay_lists(void)
{
	struct mc_config *cfg = parse_ok("[mlchaos]\nseed = 1\n"
	                                 "[fault.c]\nhook = read\naction = fail\nselect = call\n"
	                                 "replay = 1:1:0xA 0:9:ffffffffffffffff\n"
	                                 "replay =  0:2:0\t\ntimes = 3\n"
	                                 "[fault.k]\nhook = send\naction = delay\ndelay = 1ms\n"
	                                 "replay_key = req-2 a\\x20b\\\\c req-1\n"
	                                 "replay = 0:1:5\n");
	const struct mc_rule_spec *c, *k;

	if (!cfg)
		return;
	c = &cfg->rules[0];
	k = &cfg->rules[1];
	MC_CHECK_U64(c->n_replay_calls, 3);
	MC_CHECK_U64(c->replay_calls[0].thread, 0);
	MC_CHECK_U64(c->replay_calls[0].call, 2);
	MC_CHECK_U64(c->replay_calls[1].call, 9);
	MC_CHECK_U64(c->replay_calls[1].draw, UINT64_MAX);
	MC_CHECK_U64(c->replay_calls[2].thread, 1);
	MC_CHECK_U64(c->replay_calls[2].draw, 10);
	MC_CHECK_U64(c->rate_ppm, MC_RATE_ONE);
	MC_CHECK_U64(k->n_replay_keys, 3);
	MC_CHECK_U64(k->n_replay_calls, 1);
	/* sorted by length, then bytes */
	MC_CHECK(k->replay_keys[0].len == 5 && memcmp(k->replay_keys[0].bytes, "a b\\c", 5) == 0);
	MC_CHECK(k->replay_keys[1].len == 5 && memcmp(k->replay_keys[1].bytes, "req-1", 5) == 0);
	MC_CHECK(k->replay_keys[2].len == 5 && memcmp(k->replay_keys[2].bytes, "req-2", 5) == 0);
	mc_cfg_free(cfg);
}

/* Any key, written by mc_cfg_replay_key_escape(), reads back the same through the parser. */
static void test_replay_key_escape(void)
{
	unsigned char key[MC_REPLAY_KEY_MAX];
	char text[4 * MC_REPLAY_KEY_MAX + 1], ini[1024];
	struct mc_config *cfg;

	for (unsigned i = 0; i < sizeof(key); i++)
		key[i] = (unsigned char)(i * 37 + 1); /* every kind of byte, NUL excepted... */
	key[5] = 0;                                   /* ...and NUL too */
	MC_CHECK_U64(mc_cfg_replay_key_escape(key, sizeof(key), text, sizeof(text)), strlen(text));
	MC_CHECK(strpbrk(text, " \t;#=\"'") == NULL);
	snprintf(ini, sizeof(ini),
	         "[fault.k]\nhook = send\naction = delay\ndelay = 1ms\n"
	         "replay_key = %s\n",
	         text);
	cfg = parse_ok(ini);
	if (!cfg)
		return;
	MC_CHECK_U64(cfg->rules[0].n_replay_keys, 1);
	MC_CHECK(cfg->rules[0].replay_keys[0].len == sizeof(key) &&
	         memcmp(cfg->rules[0].replay_keys[0].bytes, key, sizeof(key)) == 0);
	mc_cfg_free(cfg);
	/* cut to the buffer, still terminated, the full length returned */
	MC_CHECK_U64(mc_cfg_replay_key_escape("a;b", 3, text, 4), 6);
	MC_CHECK_STR(text, "a\\x");
}

int main(void)
{
	test_full();
	test_defaults();
	test_default_errnos();
	test_request_keys();
	test_modes();
	test_tensor_modes();
	test_offsets();
	test_long_lines();
	test_syntax_variants();
	test_describe();
	test_warnings();
	test_too_many_rules();
	test_missing_file();
	test_policy();
	test_names();
	test_written();
	test_replay_lists();
	test_replay_key_escape();
	return mc_test_done("config");
}
