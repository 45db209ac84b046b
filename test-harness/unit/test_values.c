/* test_values.c: the scalar values of the INI language (sizes, durations, rates, booleans,
 * integers) and the glob matcher, against known answers. */
#include <errno.h>

#include "config.h"
#include "mc_test.h"

static uint64_t size_of(const char *s)
{
	uint64_t v = 0xdeadbeef;

	MC_CHECK(mc_cfg_parse_size(s, &v) == 0);
	return v;
}

static uint64_t ns_of(const char *s)
{
	uint64_t v = 0xdeadbeef;

	MC_CHECK(mc_cfg_parse_duration(s, &v) == 0);
	return v;
}

static uint64_t ppm_of(const char *s)
{
	uint32_t v = 0xdeadbeef;

	MC_CHECK(mc_cfg_parse_rate(s, &v) == 0);
	return v;
}

static void test_sizes(void)
{
	uint64_t v;

	MC_CHECK_U64(size_of("0"), 0);
	MC_CHECK_U64(size_of("4096"), 4096);
	MC_CHECK_U64(size_of("17B"), 17);
	MC_CHECK_U64(size_of("1KiB"), 1024);
	MC_CHECK_U64(size_of("512MiB"), 512ull << 20);
	MC_CHECK_U64(size_of("2GiB"), 2ull << 30);
	MC_CHECK_U64(size_of("1TiB"), 1ull << 40);
	MC_CHECK_U64(size_of("1.5KiB"), 1536);
	MC_CHECK_U64(size_of("1 MiB"), 1ull << 20);
	MC_CHECK_U64(size_of("3KB"), 3000);
	MC_CHECK_U64(size_of("2MB"), 2000000);
	MC_CHECK_U64(size_of("1GB"), 1000000000);
	MC_CHECK_U64(size_of("1TB"), 1000000000000ull);
	MC_CHECK(mc_cfg_parse_size("", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_size("MiB", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_size("12XB", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_size("1mib", &v) == -EINVAL); /* units are case-sensitive */
	MC_CHECK(mc_cfg_parse_size("0.3B", &v) == -EINVAL); /* not a whole byte */
	MC_CHECK(mc_cfg_parse_size("-1", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_size("1.2.3", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_size("99999999999TiB", &v) == -ERANGE);
	MC_CHECK(mc_cfg_parse_size("18446744073709551616", &v) == -ERANGE);
	MC_CHECK_U64(size_of("18446744073709551615"), UINT64_MAX);
}

static void test_durations(void)
{
	uint64_t v;

	MC_CHECK_U64(ns_of("0"), 0);
	MC_CHECK_U64(ns_of("7ns"), 7);
	MC_CHECK_U64(ns_of("100us"), 100000);
	MC_CHECK_U64(ns_of("100\xc2\xb5s"), 100000);
	MC_CHECK_U64(ns_of("200ms"), 200000000);
	MC_CHECK_U64(ns_of("10s"), 10000000000ull);
	MC_CHECK_U64(ns_of("1.5s"), 1500000000ull);
	MC_CHECK_U64(ns_of("2m"), 120000000000ull);
	MC_CHECK_U64(ns_of("1h"), 3600000000000ull);
	MC_CHECK_U64(ns_of("0.25ms"), 250000);
	MC_CHECK(mc_cfg_parse_duration("10", &v) == -EINVAL); /* a unit is required */
	MC_CHECK(mc_cfg_parse_duration("10 parsecs", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_duration("0.5ns", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_duration("ms", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_duration("999999999999h", &v) == -ERANGE);
}

static void test_rates(void)
{
	uint32_t v;

	MC_CHECK_U64(ppm_of("5%"), 50000);
	MC_CHECK_U64(ppm_of("0.05"), 50000);
	MC_CHECK_U64(ppm_of("12.5%"), 125000);
	MC_CHECK_U64(ppm_of("100%"), 1000000);
	MC_CHECK_U64(ppm_of("1"), 1000000);
	MC_CHECK_U64(ppm_of("0"), 0);
	MC_CHECK_U64(ppm_of("0%"), 0);
	MC_CHECK_U64(ppm_of("0.0001%"), 1);
	MC_CHECK_U64(ppm_of("10 %"), 100000);
	MC_CHECK_U64(ppm_of("33.33333333%"), 333333); /* rounded to the nearest millionth */
	MC_CHECK_U64(ppm_of("0.0000005"), 1);
	MC_CHECK(mc_cfg_parse_rate("150%", &v) == -ERANGE);
	MC_CHECK(mc_cfg_parse_rate("1.01", &v) == -ERANGE);
	MC_CHECK(mc_cfg_parse_rate("5", &v) == -ERANGE);
	MC_CHECK(mc_cfg_parse_rate("abc", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_rate("5%%", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_rate("-5%", &v) == -EINVAL);
	MC_CHECK(mc_cfg_parse_rate("", &v) == -EINVAL);
}

static void test_scalars(void)
{
	uint64_t u;
	bool b;

	MC_CHECK(mc_cfg_parse_u64("42", &u) == 0 && u == 42);
	MC_CHECK(mc_cfg_parse_u64("0x2A", &u) == 0 && u == 42);
	MC_CHECK(mc_cfg_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX);
	MC_CHECK(mc_cfg_parse_u64("18446744073709551616", &u) == -ERANGE);
	MC_CHECK(mc_cfg_parse_u64("0x", &u) == -EINVAL);
	MC_CHECK(mc_cfg_parse_u64("-1", &u) == -EINVAL);
	MC_CHECK(mc_cfg_parse_u64(" 1", &u) == -EINVAL);
	MC_CHECK(mc_cfg_parse_u64("", &u) == -EINVAL);
	for (const char *const *t = (const char *const[]){ "true", "yes", "on", "1", "TRUE", 0 };
	     *t; t++)
		MC_CHECK(mc_cfg_parse_bool(*t, &b) == 0 && b);
	for (const char *const *t = (const char *const[]){ "false", "no", "off", "0", "No", 0 }; *t;
	     t++)
		MC_CHECK(mc_cfg_parse_bool(*t, &b) == 0 && !b);
	MC_CHECK(mc_cfg_parse_bool("maybe", &b) == -EINVAL);
}

static void test_glob(void)
{
	MC_CHECK(mc_glob_match("*/models/*.bin", "/srv/app/models/w.bin"));
	MC_CHECK(mc_glob_match("*/models/*.bin", "/models/w.bin"));
	MC_CHECK(!mc_glob_match("*/models/*.bin", "/srv/app/models/w.bin.tmp"));
	MC_CHECK(!mc_glob_match("*/models/*.bin", "models/w.bin"));
	MC_CHECK(mc_glob_match("/data/*", "/data/a/b/c")); /* '*' crosses '/' */
	MC_CHECK(mc_glob_match("gunicorn*", "gunicorn"));
	MC_CHECK(mc_glob_match("gunicorn*", "gunicorn: worker"));
	MC_CHECK(!mc_glob_match("gunicorn*", "python3"));
	MC_CHECK(mc_glob_match("?ython[0-9]", "python3"));
	MC_CHECK(!mc_glob_match("?ython[0-9]", "pythonx"));
	MC_CHECK(mc_glob_match("file[!a-c].txt", "filed.txt"));
	MC_CHECK(!mc_glob_match("file[!a-c].txt", "fileb.txt"));
	MC_CHECK(mc_glob_match("[]]x", "]x"));
	MC_CHECK(mc_glob_match("a\\*b", "a*b"));
	MC_CHECK(!mc_glob_match("a\\*b", "axb"));
	MC_CHECK(mc_glob_match("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaab"));
	MC_CHECK(!mc_glob_match("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaa"));
	MC_CHECK(mc_glob_match("*", ""));
	MC_CHECK(!mc_glob_match("?", ""));
	MC_CHECK(mc_glob_match("[a", "[a")); /* unterminated: literal, as fnmatch */
	MC_CHECK(mc_glob_check("*/models/*.bin") == 0);
	MC_CHECK(mc_glob_check("[abc") == -EINVAL);
	MC_CHECK(mc_glob_check("abc\\") == -EINVAL);
	MC_CHECK(mc_glob_check("a\\[b") == 0);
}

int main(void)
{
	test_sizes();
	test_durations();
	test_rates();
	test_scalars();
	test_glob();
	return mc_test_done("values");
}
