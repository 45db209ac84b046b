/* test_truncate.c: action = truncate: at = SIZE and at = P% as the parser reads them, where a
 * file of a given size appears to end (never past its real end), and what a read at each
 * offset returns of a file cut there. */
#include "cfg_util.h"
#include "mc_test.h"

static void test_keys(void)
{
	struct mc_config *cfg =
	    parse_ok("[fault.half]\nhook = read\naction = truncate\nat = 50%\n"
	             "[fault.bytes]\nhook = mmap\naction = truncate\nat = 1KiB\n"
	             "[fault.empty]\nhook = stat\naction = truncate\nat = 0\n");

	MC_CHECK(cfg != NULL);
	if (!cfg)
		return;
	MC_CHECK(cfg->rules[0].action == MC_ACTION_TRUNCATE && cfg->rules[0].at_share);
	MC_CHECK_U64(cfg->rules[0].at_ppm, MC_RATE_ONE / 2);
	MC_CHECK(!cfg->rules[1].at_share);
	MC_CHECK_U64(cfg->rules[1].at_bytes, 1024);
	MC_CHECK_U64(cfg->rules[2].at_bytes, 0);
	MC_CHECK_STR(mc_action_name(MC_ACTION_TRUNCATE), "truncate");
	mc_cfg_free(cfg);
}

static void test_end(void)
{
	struct mc_ruleset *rs =
	    build_rules("[fault.half]\nhook = read\naction = truncate\nat = 50%\n"
	                "[fault.bytes]\nhook = read\naction = truncate\n"
	                "at = 1000\n"
	                "[fault.tiny]\nhook = read\naction = truncate\n"
	                "at = 0.1%\n");

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	const struct mc_erule *half = mc_engine_rule(rs, 0), *bytes = mc_engine_rule(rs, 1),
	                      *tiny = mc_engine_rule(rs, 2);
	MC_CHECK_U64(mc_engine_truncate_end(half, 4096), 2048);
	MC_CHECK_U64(mc_engine_truncate_end(half, 4097), 2048); /* rounded down */
	MC_CHECK_U64(mc_engine_truncate_end(half, 0), 0);
	MC_CHECK_U64(mc_engine_truncate_end(bytes, 4096), 1000);
	MC_CHECK_U64(mc_engine_truncate_end(bytes, 999), 999); /* never past the real end */
	MC_CHECK_U64(mc_engine_truncate_end(tiny, 999), 0);
	/* a share of the largest size does not overflow */
	MC_CHECK_U64(mc_engine_truncate_end(half, UINT64_MAX), UINT64_MAX / 2);
	mc_engine_free(rs);
}

static void test_len(void)
{
	MC_CHECK_U64(mc_engine_truncate_len(1000, 0, 100), 100);  /* before the end */
	MC_CHECK_U64(mc_engine_truncate_len(1000, 950, 100), 50); /* across it: cut */
	MC_CHECK_U64(mc_engine_truncate_len(1000, 1000, 100), 0); /* at it: end of file */
	MC_CHECK_U64(mc_engine_truncate_len(1000, 5000, 100), 0); /* past it */
	MC_CHECK_U64(mc_engine_truncate_len(0, 0, 100), 0);       /* an empty file */
	MC_CHECK_U64(mc_engine_truncate_len(1000, 900, 0), 0);    /* nothing asked */
}

int main(void)
{
	test_keys();
	test_end();
	test_len();
	return mc_test_done("truncate");
}
