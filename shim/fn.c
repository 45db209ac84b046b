/* fn.c: names and families of the interposed functions (fn.h). */
#include "fn.h"

static const char *const fn_names[MC_FN_COUNT] = { [MC_FN_NONE] = "?",
#define NAME(name, family) [MC_FN_##name] = #name,
	                                           MC_FN_LIST(NAME)
#undef NAME
};

static const unsigned char fn_hooks[MC_FN_COUNT] = { [MC_FN_NONE] = MC_HOOK_COUNT,
#define HOOK(name, family) [MC_FN_##name] = MC_HOOK_##family,
	                                             MC_FN_LIST(HOOK)
#undef HOOK
};

const char *mc_fn_name(enum mc_fn fn)
{
	return (unsigned)fn < MC_FN_COUNT ? fn_names[fn] : "?";
}

enum mc_hook mc_fn_hook(enum mc_fn fn)
{
	return (unsigned)fn < MC_FN_COUNT ? (enum mc_hook)fn_hooks[fn] : MC_HOOK_COUNT;
}
