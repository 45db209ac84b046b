/* cfg_util.h: helpers the unit tests share to parse a config from a string and look at what
 * the parser said. Header-only. */
#ifndef MC_CFG_UTIL_H
#define MC_CFG_UTIL_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "engine.h"

#include <xxhash.h>

/* All diagnostics of one parse, one per line. */
struct diags {
	char text[16384];
	size_t len;
	unsigned errors, warnings;
};

static inline void collect_diag(void *user, enum mc_diag_level level, const char *msg)
{
	struct diags *d = user;
	int n = snprintf(d->text + d->len, sizeof(d->text) - d->len, "%s\n", msg);

	if (n > 0 && d->len + (size_t)n < sizeof(d->text))
		d->len += (size_t)n;
	if (level == MC_DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
}

/* Parse text as "t.ini"; returns the config (NULL on errors) and fills *d. */
static inline struct mc_config *parse_text(const char *text, struct diags *d)
{
	struct mc_config *cfg = NULL;

	memset(d, 0, sizeof(*d));
	mc_cfg_parse_string("t.ini", text, collect_diag, d, &cfg);
	return cfg;
}

/* Parse a config expected to be valid with no diagnostic; prints them otherwise. */
static inline struct mc_config *parse_ok(const char *text)
{
	struct diags d;
	struct mc_config *cfg = parse_text(text, &d);

	if (!cfg || d.len)
		fprintf(stderr, "unexpected diagnostics:\n%s", d.text);
	if (d.len) {
		mc_cfg_free(cfg);
		return NULL;
	}
	return cfg;
}

/* XXH3_64bits of a string the compiler cannot see through: with a literal, GCC 12 warns
 * about xxHash's long-input branch reading past the literal, a branch that never runs. */
static inline uint64_t hash_string(const char *s)
{
	const char *volatile hidden = s;

	return XXH3_64bits(hidden, strlen(hidden));
}

/* Build a rule set from valid config text (warnings allowed) for no particular process. */
static inline struct mc_ruleset *build_rules(const char *text)
{
	struct diags d;
	struct mc_config *cfg = parse_text(text, &d);
	struct mc_ruleset *rs = NULL;

	if (cfg && mc_engine_build(cfg, NULL, &rs) < 0)
		rs = NULL;
	mc_cfg_free(cfg);
	if (!rs)
		fprintf(stderr, "cannot build rules from:\n%s", text);
	return rs;
}

#endif
