/* test_cuda.c: the pure parts of the CUDA families: the keys error and sticky (names,
 * numbers, the families they apply to, FILE:LINE messages) and the live device memory table
 * that cuda_alloc's budget reads (shim/devmem.c), alone and under threads. */
#include <pthread.h>

#include "cfg_util.h"
#include "devmem.h"
#include "mc_test.h"

/* The CUDA error a rule's text gives (0 when the text is not valid). */
static int error_of(const char *rule)
{
	struct mc_config *cfg = parse_ok(rule);
	int err = cfg && cfg->rules[0].n_errnos == 1 ? cfg->rules[0].errnos[0] : 0;
	mc_cfg_free(cfg);
	return err;
}

/* The diagnostics of an invalid text. */
static bool rejected_with(const char *text, const char *message)
{
	struct diags d;
	struct mc_config *cfg = parse_text(text, &d);
	bool ok = !cfg && d.errors > 0 && strstr(d.text, message);
	if (!ok)
		fprintf(stderr, "for:\n%sgot:\n%s", text, d.text);
	mc_cfg_free(cfg);
	return ok;
}

static void test_error_names(void)
{
	static const struct {
		const char *value;
		int code;
	} cases[] = { { "illegal_address", 700 },
		      { "launch_failure", 719 },
		      { "unknown", 999 },
		      { "no_device", 100 },
		      { "out_of_memory", 2 },
		      { "46", 46 },
		      { "9999", 9999 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[160];
		snprintf(text, sizeof(text),
		         "[fault.x]\nhook = cuda_launch\naction = fail\nerror = %s\n",
		         cases[i].value);
		MC_CHECKF(error_of(text) == cases[i].code, "error = %s gives %d", cases[i].value,
		          cases[i].code);
		MC_CHECK(mc_cuda_error_name(cases[i].code) == NULL ||
		         strcmp(mc_cuda_error_name(cases[i].code), cases[i].value) == 0);
	}
	MC_CHECK(
	    rejected_with("[fault.x]\nhook = cuda_launch\naction = fail\nerror = illegal\n",
	                  "t.ini:4: error = illegal: write a CUDA error name (out_of_memory, "
	                  "no_device, illegal_address, launch_failure, unknown) or its number"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_copy\naction = fail\nerror = 0\n",
	                       "t.ini:4: error = 0: write a CUDA error name"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_copy\naction = fail\nerror = 10000\n",
	                       "t.ini:4: error = 10000"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_copy\naction = fail\nerror = -1\n",
	                       "t.ini:4: error = -1"));
}

static void test_defaults(void)
{
	static const struct {
		const char *hook;
		int code;
	} cases[] = { { "cuda_alloc", 2 },
		      { "cuda_launch", 700 },
		      { "cuda_copy", 700 },
		      { "cuda_init", 100 } };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[128];
		snprintf(text, sizeof(text), "[fault.x]\nhook = %s\naction = fail\n",
		         cases[i].hook);
		MC_CHECKF(error_of(text) == cases[i].code, "hook = %s fails with %d by default",
		          cases[i].hook, cases[i].code);
	}
}

static void test_keys_by_family(void)
{
	struct mc_config *cfg =
	    parse_ok("[fault.x]\nhook = cuda_launch\naction = fail\nsticky = true\n"
	             "[fault.y]\nhook = cuda_copy\naction = fail\nsticky = yes\nmin_size = 1MiB\n"
	             "[fault.z]\nhook = cuda_alloc\naction = fail\nbudget = 1GiB\n");
	MC_CHECK(cfg && cfg->n_rules == 3 && cfg->rules[0].sticky && cfg->rules[1].sticky &&
	         !cfg->rules[2].sticky && cfg->rules[2].budget_bytes == 1ull << 30);
	mc_cfg_free(cfg);
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_alloc\naction = fail\nsticky = true\n",
	                       "t.ini:4: sticky does not apply to hook = cuda_alloc (only to "
	                       "hook = cuda_launch, cuda_copy)"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_init\naction = fail\nsticky = true\n",
	                       "t.ini:4: sticky does not apply to hook = cuda_init"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_launch\naction = delay\ndelay = 1ms\n"
	                       "sticky = true\n",
	                       "t.ini:5: sticky does not apply to action = delay"));
	MC_CHECK(rejected_with("[fault.x]\nhook = read\naction = fail\nerror = unknown\n",
	                       "t.ini:4: error does not apply to hook = read"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_launch\naction = fail\nerrno = EIO\n",
	                       "t.ini:4: errno does not apply to hook = cuda_launch"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_launch\naction = fail\nbudget = 1GiB\n",
	                       "t.ini:4: budget does not apply to hook = cuda_launch"));
	MC_CHECK(rejected_with("[fault.x]\nhook = cuda_alloc\naction = corrupt\n", "t.ini:3:"));
}

static struct mc_devmem table;

static void test_devmem(void)
{
	memset(&table, 0, sizeof(table));
	MC_CHECK(mc_devmem_add(&table, 0x7f0000001000, 1000, 0));
	MC_CHECK(mc_devmem_add(&table, 0x7f0000002000, 24, 0));
	MC_CHECK(mc_devmem_add(&table, 0x7f0000001000 | MC_DEVMEM_HANDLE, 4096, 1));
	MC_CHECK_U64(mc_devmem_live(&table, 0), 1024);
	MC_CHECK_U64(mc_devmem_live(&table, 1), 4096);
	MC_CHECK_U64(mc_devmem_live(&table, 2), 0);
	/* a pointer and a handle of the same value are two allocations */
	MC_CHECK(mc_devmem_remove(&table, 0x7f0000001000));
	MC_CHECK_U64(mc_devmem_live(&table, 0), 24);
	MC_CHECK_U64(mc_devmem_live(&table, 1), 4096);
	MC_CHECK(!mc_devmem_remove(&table, 0x7f0000001000)); /* freed twice: nothing to take */
	MC_CHECK(!mc_devmem_remove(&table, 0x1234000));      /* never seen */
	MC_CHECK(!mc_devmem_add(&table, 0, 8, 0));           /* NULL is no allocation */
	/* a device past the table's counts as the last; a negative one as 0 */
	MC_CHECK(mc_devmem_add(&table, 0x9000, 5, 1000));
	MC_CHECK_U64(mc_devmem_live(&table, MC_DEVMEM_DEVICES - 1), 5);
	MC_CHECK(mc_devmem_remove(&table, 0x9000));
	MC_CHECK(mc_devmem_remove(&table, 0x7f0000002000));
	MC_CHECK(mc_devmem_remove(&table, 0x7f0000001000 | MC_DEVMEM_HANDLE));
	MC_CHECK_U64(mc_devmem_live(&table, 0), 0);
	MC_CHECK_U64(mc_devmem_live(&table, 1), 0);

	/* full: the allocation past the last slot is not counted, the others stay exact; the
	 * tombstones of freed ones are taken again */
	unsigned added = 0;
	for (uint64_t k = 1; k <= MC_DEVMEM_SLOTS + 1; k++)
		added += mc_devmem_add(&table, k << 12, 1, 0);
	MC_CHECK_U64(added, MC_DEVMEM_SLOTS);
	MC_CHECK_U64(mc_devmem_live(&table, 0), MC_DEVMEM_SLOTS);
	MC_CHECK(mc_devmem_remove(&table, 7ull << 12));
	MC_CHECK(mc_devmem_add(&table, 0xabc000, 10, 0));
	MC_CHECK_U64(mc_devmem_live(&table, 0), MC_DEVMEM_SLOTS - 1 + 10);
	for (uint64_t k = 1; k <= MC_DEVMEM_SLOTS + 1; k++)
		mc_devmem_remove(&table, k << 12);
	MC_CHECK(mc_devmem_remove(&table, 0xabc000));
	MC_CHECK_U64(mc_devmem_live(&table, 0), 0);
}

#define THREADS    4
#define PER_THREAD 2000
#define ROUNDS     20

static void *churn(void *arg)
{
	uint64_t base = (uint64_t)(uintptr_t)arg << 32;
	for (int r = 0; r < ROUNDS; r++) {
		for (uint64_t i = 1; i <= PER_THREAD; i++)
			mc_devmem_add(&table, base | (i << 8), i, (int)(base >> 32) % 2);
		for (uint64_t i = 1; i <= PER_THREAD; i += 2)
			mc_devmem_remove(&table, base | (i << 8));
		for (uint64_t i = 2; i <= PER_THREAD; i += 2)
			mc_devmem_remove(&table, base | (i << 8));
	}
	/* what stays: the odd ones */
	for (uint64_t i = 1; i <= PER_THREAD; i += 2)
		mc_devmem_add(&table, base | (i << 8), i, (int)(base >> 32) % 2);
	return NULL;
}

static void test_devmem_threads(void)
{
	memset(&table, 0, sizeof(table));
	pthread_t t[THREADS];
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, churn, (void *)(i + 1));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	uint64_t odd = (uint64_t)(PER_THREAD / 2) * (PER_THREAD / 2); /* 1 + 3 + ... */
	MC_CHECK_U64(mc_devmem_live(&table, 0) + mc_devmem_live(&table, 1), THREADS * odd);
	MC_CHECK_U64(mc_devmem_live(&table, 1), (THREADS / 2) * odd);
}

int main(void)
{
	test_error_names();
	test_defaults();
	test_keys_by_family();
	test_devmem();
	test_devmem_threads();
	return mc_test_done("unit-cuda");
}
