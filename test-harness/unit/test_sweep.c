/* test_sweep.c: the pure parts of an experiment's [sweep] (shim/cli/experiment/
 * experiment_sweep.c): a fault key rewritten in the chaos text at the lines it had, tensor
 * names escaped so that the glob matcher of config/glob.c matches them alone, and the tensor
 * names of a model file read through the recognisers (a safetensors file written here). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "experiment.h"
#include "mc_test.h"

static void check_rewrite(const char *text, const char *fault, const char *key, const char *value,
                          const char *expected, int expected_added)
{
	int added = -1;
	char *got = mc_exp_sweep_rewrite(text, fault, key, value, &added);

	MC_CHECK_STR(got, expected);
	MC_CHECKF(added == expected_added, "added line %d, expected %d", added, expected_added);
	free(got);
}

static void test_rewrite(void)
{
	const char *text = "[mlchaos]\nseed = 1\n\n[fault.a]\nhook = read\nCount = 1\n"
	                   "[fault.ab]\ncount = 2\n";

	/* the key's line replaced in place, whatever its case; only in [fault.a] */
	check_rewrite(text, "a", "count", "64",
	              "[mlchaos]\nseed = 1\n\n[fault.a]\nhook = read\ncount = 64\n"
	              "[fault.ab]\ncount = 2\n",
	              0);
	check_rewrite(text, "ab", "count", "8",
	              "[mlchaos]\nseed = 1\n\n[fault.a]\nhook = read\nCount = 1\n"
	              "[fault.ab]\ncount = 8\n",
	              0);
	/* a key the section lacks: a line after its header (line 5 of the result) */
	check_rewrite(text, "a", "std", "0.1",
	              "[mlchaos]\nseed = 1\n\n[fault.a]\nstd = 0.1\nhook = read\nCount = 1\n"
	              "[fault.ab]\ncount = 2\n",
	              5);
	/* a "counter" key is not "count"; a header at the end without a newline */
	check_rewrite("[fault.x]\ncounter = 1\n", "x", "count", "3",
	              "[fault.x]\ncount = 3\ncounter = 1\n", 2);
	check_rewrite("[fault.x]", "x", "tensor", "w\\*", "[fault.x]\ntensor = w\\*\n", 2);
	/* the key of another section is not the section's own */
	check_rewrite("[fault.x]\n[fault.y]\ncount = 1\n", "x", "count", "2",
	              "[fault.x]\ncount = 2\n[fault.y]\ncount = 1\n", 2);
	int added = 0;
	MC_CHECK(mc_exp_sweep_rewrite("[fault.x]\n", "y", "count", "1", &added) == NULL);
}

static void test_escape(void)
{
	static const char *const names[] = { "emb.weight", "layers.*.w",  "a?b",
		                             "x[0]",       "back\\slash", "" };
	char buf[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		MC_CHECK(mc_exp_glob_escape(names[i], buf, sizeof(buf)) == 0);
		MC_CHECK(mc_glob_check(buf) == 0);
		MC_CHECKF(mc_glob_match(buf, names[i]), "'%s' does not match '%s'", buf, names[i]);
	}
	MC_CHECK(mc_exp_glob_escape("layers.*.w", buf, sizeof(buf)) == 0);
	MC_CHECK(!mc_glob_match(buf, "layers.0.w"));
	MC_CHECK_STR(buf, "layers.\\*.w");
	MC_CHECK(mc_exp_glob_escape("abc", buf, 4) == 0);
	MC_CHECK(mc_exp_glob_escape("abcd", buf, 4) == -ENAMETOOLONG);
	MC_CHECK(mc_exp_glob_escape("a*", buf, 3) == -ENAMETOOLONG);
}

/* ---- tensor names ---- */

struct names {
	char list[8][32];
	unsigned n, stop_after;
};

static bool add_name(void *user, const char *name)
{
	struct names *n = user;

	if (n->n < 8)
		snprintf(n->list[n->n], sizeof(n->list[0]), "%s", name);
	n->n++;
	return n->n != n->stop_after;
}

/* A safetensors file of three float32 tensors, in file order b, a, c. */
static void write_model(int fd)
{
	const char header[] = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	                      "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]},"
	                      "\"c.w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[12,16]}}";
	uint64_t n = sizeof(header) - 1;
	char data[16] = { 0 };

	MC_CHECK(write(fd, &n, 8) == 8); /* little-endian hosts only, as the project builds */
	MC_CHECK(write(fd, header, n) == (ssize_t)n);
	MC_CHECK(write(fd, data, sizeof(data)) == (ssize_t)sizeof(data));
}

static void test_tensors(void)
{
	char path[] = "/tmp/mlchaos-unit-sweep-XXXXXX", why[256];
	int fd = mkstemp(path);
	struct names n = { .stop_after = 0 };

	MC_CHECK(fd >= 0);
	if (fd < 0)
		return;
	write_model(fd);
	close(fd);
	MC_CHECK(mc_exp_model_tensors(path, NULL, add_name, &n, why, sizeof(why)) == 0);
	MC_CHECKF(n.n == 3 && strcmp(n.list[0], "b") == 0 && strcmp(n.list[1], "a") == 0 &&
	              strcmp(n.list[2], "c.w") == 0,
	          "%u tensors: %s %s %s (%s)", n.n, n.list[0], n.list[1], n.list[2], why);
	n = (struct names){ .stop_after = 0 };
	MC_CHECK(mc_exp_model_tensors(path, "c.*", add_name, &n, why, sizeof(why)) == 0);
	MC_CHECK(n.n == 1 && strcmp(n.list[0], "c.w") == 0);
	n = (struct names){ .stop_after = 1 };
	MC_CHECK(mc_exp_model_tensors(path, NULL, add_name, &n, why, sizeof(why)) == 0);
	MC_CHECK(n.n == 1);
	/* not a model format, a truncated one, a missing file */
	fd = open(path, O_WRONLY | O_TRUNC);
	MC_CHECK(fd >= 0 && write(fd, "hello, world\n", 13) == 13);
	close(fd);
	MC_CHECK(mc_exp_model_tensors(path, NULL, add_name, &n, why, sizeof(why)) == -ENOMEDIUM);
	fd = open(path, O_WRONLY | O_TRUNC);
	uint64_t huge = 1000;
	MC_CHECK(fd >= 0 && write(fd, &huge, 8) == 8 && write(fd, "{\"a\":", 5) == 5);
	close(fd);
	MC_CHECK(mc_exp_model_tensors(path, NULL, add_name, &n, why, sizeof(why)) == -EBADMSG);
	MC_CHECKF(why[0], "a malformed file says why");
	unlink(path);
	MC_CHECK(mc_exp_model_tensors(path, NULL, add_name, &n, why, sizeof(why)) == -ENOENT);
}

int main(void)
{
	test_rewrite();
	test_escape();
	test_tensors();
	return mc_test_done("unit-sweep");
}
