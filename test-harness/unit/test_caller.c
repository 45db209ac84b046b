/* test_caller.c: rules aimed by caller. The keys (caller =, not_caller =: globs on an object's
 * file name), the engine's targeting by the calling object's name (known or not) and what it
 * asks of a hook (MC_NEEDS_CALLER: nothing for rules without the keys), and the lookup of the
 * object that holds a code address (shim/objects.c, against this process's own objects). */
#include <dlfcn.h>
#include <link.h>
#include <math.h>
#include <string.h>
#include <sys/auxv.h>

#include "cfg_util.h"
#include "mc_test.h"
#include "objects.h"
#include "real.h"

/* objects.c's one need of the real-function table. */
struct mc_real_fns mc_real = { .dl_find_object = _dl_find_object };

static struct mc_engine_state st;

static unsigned asked;

static const char *caller_is(void *arg)
{
	asked++;
	return arg;
}

/* A decision for a call from caller (NULL: not known), which the engine asks at most once. */
static bool decide_from(const struct mc_ruleset *rs, enum mc_hook h, const char *caller,
                        struct mc_decision *d)
{
	struct mc_call call = {
		.hook = h, .size = 4096, .caller = caller_is, .caller_arg = (void *)caller
	};
	unsigned before = asked;
	bool r = mc_engine_decide(rs, &st, NULL, &call, d);
	MC_CHECK(asked - before <= 1);
	return r;
}

static void test_keys(void)
{
	struct diags d;
	struct mc_config *cfg = parse_ok(
	    "[fault.a]\nhook = malloc\naction = fail\ncaller = libtorch*\n"
	    "[fault.b]\nhook = read\naction = delay\ndelay = 1ms\nnot_caller = lib[cz]*\n");
	MC_CHECK(cfg != NULL);
	if (cfg) {
		MC_CHECK_STR(cfg->rules[0].caller, "libtorch*");
		MC_CHECK(cfg->rules[0].not_caller == NULL);
		MC_CHECK_STR(cfg->rules[1].not_caller, "lib[cz]*");
	}
	mc_cfg_free(cfg);

	cfg = parse_text("[fault.a]\nhook = malloc\naction = fail\ncaller = /usr/lib/libfoo.so\n",
	                 &d);
	MC_CHECK(cfg == NULL && d.errors == 1);
	MC_CHECKF(strstr(d.text, "t.ini:4: caller = /usr/lib/libfoo.so can never match") != NULL,
	          "got: %s", d.text);
	mc_cfg_free(cfg);

	cfg = parse_text("[fault.a]\nhook = sleep\naction = delay\ndelay = 1ms\nnot_caller = [ab\n",
	                 &d);
	MC_CHECK(cfg == NULL && d.errors == 1);
	MC_CHECKF(strstr(d.text, "t.ini:5: bad glob '[ab' for not_caller") != NULL, "got: %s",
	          d.text);
	mc_cfg_free(cfg);
}

static void test_targeting(void)
{
	struct mc_ruleset *rs =
	    build_rules("[fault.torch]\nhook = malloc\naction = fail\ncaller = libtorch*\n"
	                "[fault.rest]\nhook = malloc\naction = fail\nnot_caller = libc.so*\n"
	                "[fault.plain]\nhook = sleep\naction = fail\n");
	struct mc_decision d;

	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	MC_CHECK(mc_engine_hook_needs(rs, MC_HOOK_MALLOC) & MC_NEEDS_CALLER);
	MC_CHECK(!(mc_engine_hook_needs(rs, MC_HOOK_SLEEP) & MC_NEEDS_CALLER));

	MC_CHECK(decide_from(rs, MC_HOOK_MALLOC, "libtorch_cpu.so", &d));
	MC_CHECK_STR(d.rule->name, "torch");
	/* not libtorch: the next rule, whose not_caller spares libc alone */
	MC_CHECK(decide_from(rs, MC_HOOK_MALLOC, "libpython3.11.so.1.0", &d));
	MC_CHECK_STR(d.rule->name, "rest");
	MC_CHECK(!decide_from(rs, MC_HOOK_MALLOC, "libc.so.6", &d));
	MC_CHECK(d.express == MC_EXPRESS_NO); /* the next call may come from elsewhere */
	/* an unknown caller: caller never matches, not_caller always does */
	MC_CHECK(decide_from(rs, MC_HOOK_MALLOC, NULL, &d));
	MC_CHECK_STR(d.rule->name, "rest");
	/* a rule without the keys ignores the caller, and never asks for it */
	unsigned before = asked;
	MC_CHECK(decide_from(rs, MC_HOOK_SLEEP, NULL, &d));
	MC_CHECK(decide_from(rs, MC_HOOK_SLEEP, "libtorch_cpu.so", &d));
	MC_CHECK_U64(asked, before);
	MC_CHECK_U64(mc_engine_rule(rs, 0)->checks != 0, 1);
	mc_engine_free(rs);

	/* a caller rule at a rate: matched calls are counted only when the caller matches */
	rs = build_rules("[fault.r]\nhook = malloc\naction = fail\nselect = call\nrate = 1%\n"
	                 "caller = libfoo.so\n");
	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	for (int i = 0; i < 10; i++) {
		decide_from(rs, MC_HOOK_MALLOC, "libfoo.so", &d);
		decide_from(rs, MC_HOOK_MALLOC, "libbar.so", &d);
	}
	MC_CHECK_U64(atomic_load(&st.rule[0].matched), 10);
	mc_engine_free(rs);
}

static void test_basename(void)
{
	char out[MC_CALLER_NAME_MAX];

	mc_objects_basename("/usr/lib/x86_64-linux-gnu/libc.so.6", out, sizeof(out));
	MC_CHECK_STR(out, "libc.so.6");
	mc_objects_basename("libfoo.so", out, sizeof(out));
	MC_CHECK_STR(out, "libfoo.so");
	mc_objects_basename("/dir/", out, sizeof(out));
	MC_CHECK_STR(out, "");
	mc_objects_basename("/a/abcdefgh", out, 5);
	MC_CHECK_STR(out, "abcd");
}

static int here(void)
{
	return 1;
}

static void test_find(void)
{
	struct mc_caller c;

	/* +1: a return address lies past its call; the byte before it is looked up */
	MC_CHECK(mc_objects_find((const char *)(uintptr_t)here + 1, &c));
	MC_CHECK_STR(c.name, "unit-caller"); /* the program: by its own file name */
	MC_CHECK(!c.loader);
	/* libc's own strlen (a sanitizer's runtime would interpose the plain name) */
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	void *libc_strlen = libc ? dlsym(libc, "strlen") : NULL;
	MC_CHECK(libc_strlen != NULL);
	if (libc_strlen) {
		MC_CHECK(mc_objects_find((const char *)libc_strlen + 1, &c));
		MC_CHECK_STR(c.name, "libc.so.6");
	}
	if (libc)
		dlclose(libc);
	MC_CHECK(mc_objects_find((const char *)(uintptr_t)sqrt + 1, &c));
	MC_CHECK_STR(c.name, "libm.so.6");
	/* the kernel says where the loader is: its ELF header is in its mapping */
	const char *loader = (const char *)getauxval(AT_BASE);
	MC_CHECK(loader != NULL);
	if (loader) {
		MC_CHECK(mc_objects_find(loader + 1, &c));
		MC_CHECK(c.loader);
		MC_CHECKF(strncmp(c.name, "ld-linux", 8) == 0, "loader named %s", c.name);
	}
	/* no object holds the heap or NULL */
	static char *heap;
	heap = malloc(64);
	MC_CHECK(!mc_objects_find(heap + 1, &c));
	MC_CHECK_STR(c.name, "");
	free(heap);
	MC_CHECK(!mc_objects_find(NULL, &c));
}

int main(void)
{
	test_keys();
	test_targeting();
	test_basename();
	test_find();
	return mc_test_done("caller");
}
