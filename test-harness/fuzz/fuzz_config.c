/* fuzz_config.c: libFuzzer harness for the INI language (config/): mc_cfg_parse_string, its
 * validator and, for configs that pass, mc_cfg_describe and the engine's compiler. Checks
 * the contract of config.h on every input: FILE:LINE messages in line order, an error for
 * every rejected config and none for an accepted one, validated fields that hold what the
 * language allows, and the same answer twice. It never writes a file. */
#include <errno.h>
#include <string.h>

#include <xxhash.h>

#include "config.h"
#include "engine.h"
#include "fuzz.h"

#define FUZZ_NAME     "fuzz.ini"
#define FUZZ_MAX_TEXT (64 * 1024) /* longer inputs say nothing the 1024-byte lines do not */

struct diags {
	unsigned n, errors;
	long last_line;
	unsigned long text_lines;
	uint64_t hash;
};

/* "fuzz.ini:LINE: ..." gives LINE, "fuzz.ini: ..." gives 0. */
static long line_of(const char *msg)
{
	const char *p = msg + sizeof(FUZZ_NAME);
	long line = 0;
	if (*p == ' ')
		return 0;
	FZ_CHECK(*p >= '1' && *p <= '9');
	while (*p >= '0' && *p <= '9')
		line = line * 10 + (*p++ - '0');
	FZ_CHECK(*p == ':');
	return line;
}

static void on_diag(void *user, enum mc_diag_level level, const char *msg)
{
	struct diags *d = user;
	FZ_CHECK(level == MC_DIAG_ERROR || level == MC_DIAG_WARNING);
	FZ_CHECK(msg != NULL);
	FZ_CHECK(strncmp(msg, FUZZ_NAME ":", sizeof(FUZZ_NAME)) == 0);
	FZ_CHECK(strchr(msg, '\n') == NULL);
	FZ_CHECK(strncmp(msg, "mlchaos:", 8) != 0);
	FZ_CHECK((level == MC_DIAG_WARNING) == (strstr(msg, ": warning: ") != NULL) ||
	         level == MC_DIAG_ERROR);
	long line = line_of(msg);
	FZ_CHECK(line >= 0 && (unsigned long)line <= d->text_lines + 1);
	if (line > 0) {
		FZ_CHECK(line >= d->last_line); /* delivered in line order */
		d->last_line = line;
	}
	d->n++;
	d->errors += level == MC_DIAG_ERROR;
	FZ_CHECK(d->n <= MC_CFG_MAX_MESSAGES + 2); /* the cap, the "more not shown" and OOM */
	d->hash = XXH3_64bits_withSeed(msg, strlen(msg), d->hash ^ (uint64_t)level);
}

static bool name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > MC_RULE_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
		if (!ok)
			return false;
	}
	return true;
}

/* Which actions each hook takes, as config/reference.ini documents them. */
static bool action_fits(enum mc_hook h, enum mc_action a)
{
	switch (a) {
	case MC_ACTION_DELAY:
	case MC_ACTION_FAIL:
		return true;
	case MC_ACTION_SHORT:
		return h == MC_HOOK_READ || h == MC_HOOK_SEND || h == MC_HOOK_WRITE;
	case MC_ACTION_CORRUPT:
		return h == MC_HOOK_READ || h == MC_HOOK_MMAP;
	case MC_ACTION_REDIRECT:
		return h == MC_HOOK_OPEN;
	case MC_ACTION_SIGNAL: /* the actions on the process: any family's call */
	case MC_ACTION_HANG:
	case MC_ACTION_LEAK:
	case MC_ACTION_BURN:
	case MC_ACTION_HOG:
		return true;
	default:
		return false;
	}
}

static void check_rule(const struct mc_config *cfg, const struct mc_rule_spec *r)
{
	FZ_CHECK(name_ok(r->name));
	FZ_CHECK(r->line >= 1);
	FZ_CHECK((unsigned)r->hook < MC_HOOK_COUNT);
	FZ_CHECK(action_fits(r->hook, r->action));
	FZ_CHECK(r->rate_ppm <= MC_RATE_ONE);
	FZ_CHECK(r->min_size <= r->max_size);
	FZ_CHECK(r->select == MC_SELECT_CALL || cfg->request_key != MC_KEY_NONE);
	FZ_CHECK(r->n_errnos <= MC_MAX_ERRNOS);
	if (r->action == MC_ACTION_FAIL)
		FZ_CHECK(r->n_errnos >= 1);
	for (unsigned i = 0; i < r->n_errnos; i++)
		FZ_CHECK(mc_errno_name(r->errnos[i]) != NULL);
	if (r->action == MC_ACTION_REDIRECT)
		FZ_CHECK(r->to && r->to[0] == '/');
	if (r->action == MC_ACTION_CORRUPT && r->mode != MC_CORRUPT_BITFLIP)
		FZ_CHECK(r->count <= 4096);
	if (r->path)
		FZ_CHECK(mc_glob_check(r->path) == 0);
	if (r->process)
		FZ_CHECK(mc_glob_check(r->process) == 0);
}

static void check_describe(const struct mc_config *cfg)
{
	char big[4096], small[16];
	size_t want = mc_cfg_describe(cfg, big, sizeof(big));
	FZ_CHECK(want > 0 && want < sizeof(big) && strlen(big) == want);
	size_t again = mc_cfg_describe(cfg, small, sizeof(small));
	FZ_CHECK(again == want);
	FZ_CHECK(strlen(small) == (want < sizeof(small) ? want : sizeof(small) - 1));
	FZ_CHECK(strncmp(small, big, strlen(small)) == 0);
	char one[1];
	FZ_CHECK(mc_cfg_describe(cfg, one, sizeof(one)) == want && one[0] == '\0');
}

static void check_engine(const struct mc_config *cfg)
{
	struct mc_ruleset *rs = NULL;
	int r = mc_engine_build(cfg, NULL, &rs);
	if (r == -ENOMEM)
		return;
	FZ_CHECK(r == 0 && rs != NULL);
	FZ_CHECK(mc_engine_rule_count(rs) == cfg->n_rules);
	FZ_CHECK(mc_engine_seed(rs) == cfg->seed);
	for (unsigned i = 0; i < cfg->n_rules; i++) {
		const struct mc_erule *e = mc_engine_rule(rs, i);
		FZ_CHECK(e != NULL && e->id == i);
		FZ_CHECK(strcmp(e->name, cfg->rules[i].name) == 0);
		FZ_CHECK(mc_engine_rule_id(rs, cfg->rules[i].name) == (int)i);
		/* select is a pure function of the rule and the key */
		bool a = mc_engine_select_key(e, "req-1", 5);
		FZ_CHECK(a == mc_engine_select_key(e, "req-1", 5));
	}
	FZ_CHECK(mc_engine_rule(rs, cfg->n_rules) == NULL);
	struct mc_rulemask mask;
	mc_engine_match_path(rs, "/srv/models/model.bin", &mask);
	mc_engine_free(rs);
}

static int parse(const char *text, size_t len, struct diags *d, struct mc_config **ret_cfg)
{
	memset(d, 0, sizeof(*d));
	d->text_lines = 1;
	for (size_t i = 0; i < len; i++)
		d->text_lines += text[i] == '\n';
	return mc_cfg_parse_string(FUZZ_NAME, text, on_diag, d, ret_cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > FUZZ_MAX_TEXT)
		return 0;
	char *text = malloc(size + 1);
	FZ_CHECK(text != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	size_t len = strlen(text);

	struct diags d, d2;
	struct mc_config *cfg = NULL, *cfg2 = NULL;
	int r = parse(text, len, &d, &cfg);
	FZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	FZ_CHECK((r == 0) == (cfg != NULL));
	if (r == -EINVAL)
		FZ_CHECK(d.errors >= 1);
	if (r == 0) {
		FZ_CHECK(d.errors == 0);
		FZ_CHECK(cfg->n_rules <= MC_MAX_RULES);
		FZ_CHECK(strcmp(cfg->file, FUZZ_NAME) == 0);
		if (cfg->halt_on_error_rate_ppm)
			FZ_CHECK(cfg->halt_window >= 1 && cfg->halt_window <= MC_HALT_WINDOW_MAX);
		for (unsigned i = 0; i < cfg->n_rules; i++) {
			check_rule(cfg, &cfg->rules[i]);
			for (unsigned j = 0; j < i; j++)
				FZ_CHECK(strcmp(cfg->rules[i].name, cfg->rules[j].name) != 0);
		}
		check_describe(cfg);
		check_engine(cfg);
	}

	/* Deterministic: the same text, the same verdict and the same messages. */
	int r2 = parse(text, len, &d2, &cfg2);
	if (r != -ENOMEM && r2 != -ENOMEM)
		FZ_CHECK(r2 == r && d2.n == d.n && d2.hash == d.hash);
	mc_cfg_free(cfg);
	mc_cfg_free(cfg2);
	free(text);
	return 0;
}
