/* errnos.c: errno names, and per hook family the errnos its functions can return, taken from
 * their man pages (read(2), pread(2), readv(2), recv(2), send(2), write(2), malloc(3),
 * posix_memalign(3), mmap(2), mremap(2), nanosleep(2), clock_nanosleep(2), open(2)). An
 * injected failure must look like a real one: an errno outside the family is rejected. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

struct errno_name {
	const char *name;
	int value;
};

static const struct errno_name errno_names[] = {
	{ "EPERM", EPERM },
	{ "ENOENT", ENOENT },
	{ "EINTR", EINTR },
	{ "EIO", EIO },
	{ "ENXIO", ENXIO },
	{ "E2BIG", E2BIG },
	{ "EBADF", EBADF },
	{ "EAGAIN", EAGAIN },
	{ "EWOULDBLOCK", EWOULDBLOCK },
	{ "ENOMEM", ENOMEM },
	{ "EACCES", EACCES },
	{ "EFAULT", EFAULT },
	{ "EBUSY", EBUSY },
	{ "EEXIST", EEXIST },
	{ "ENODEV", ENODEV },
	{ "ENOTDIR", ENOTDIR },
	{ "EISDIR", EISDIR },
	{ "EINVAL", EINVAL },
	{ "ENFILE", ENFILE },
	{ "EMFILE", EMFILE },
	{ "ETXTBSY", ETXTBSY },
	{ "EFBIG", EFBIG },
	{ "ENOSPC", ENOSPC },
	{ "ESPIPE", ESPIPE },
	{ "EROFS", EROFS },
	{ "EPIPE", EPIPE },
	{ "ENAMETOOLONG", ENAMETOOLONG },
	{ "ELOOP", ELOOP },
	{ "EOVERFLOW", EOVERFLOW },
	{ "ENOTSOCK", ENOTSOCK },
	{ "EDESTADDRREQ", EDESTADDRREQ },
	{ "EMSGSIZE", EMSGSIZE },
	{ "EOPNOTSUPP", EOPNOTSUPP },
	{ "ENOTSUP", ENOTSUP },
	{ "ENETDOWN", ENETDOWN },
	{ "ENETUNREACH", ENETUNREACH },
	{ "ENETRESET", ENETRESET },
	{ "ECONNABORTED", ECONNABORTED },
	{ "ECONNRESET", ECONNRESET },
	{ "ENOBUFS", ENOBUFS },
	{ "EISCONN", EISCONN },
	{ "ENOTCONN", ENOTCONN },
	{ "ETIMEDOUT", ETIMEDOUT },
	{ "ECONNREFUSED", ECONNREFUSED },
	{ "EHOSTUNREACH", EHOSTUNREACH },
	{ "EALREADY", EALREADY },
	{ "EDQUOT", EDQUOT },
	{ "ESTALE", ESTALE },
};

#define N_ERRNO_NAMES (sizeof(errno_names) / sizeof(errno_names[0]))

/* Zero-terminated lists, per family (families.h). */
#define ERRNO_LIST(...)        \
	{                      \
		__VA_ARGS__, 0 \
	}
#define FAMILY_ERRNOS(id, name, actions, traits, fallback, errnos) \
	static const int errnos_##id[] = ERRNO_LIST errnos;
MC_FAMILIES(FAMILY_ERRNOS)

#define FAMILY_ERRNO_LIST(id, ...) [MC_HOOK_##id] = errnos_##id,
static const int *const hook_errnos[MC_HOOK_COUNT] = { MC_FAMILIES(FAMILY_ERRNO_LIST) };

/* What action = fail injects when errno is not written. */
#define FAMILY_DEFAULT_ERRNO(id, name, actions, traits, fallback, ...) [MC_HOOK_##id] = fallback,
static const int hook_default_errno[MC_HOOK_COUNT] = { MC_FAMILIES(FAMILY_DEFAULT_ERRNO) };

int mc_cfg_errno_value(const char *name)
{
	for (size_t i = 0; i < N_ERRNO_NAMES; i++)
		if (strcmp(errno_names[i].name, name) == 0)
			return errno_names[i].value;
	return 0;
}

const char *mc_cfg_errno_suggest(const char *name)
{
	const char *names[N_ERRNO_NAMES];

	for (size_t i = 0; i < N_ERRNO_NAMES; i++)
		names[i] = errno_names[i].name;
	return mc_cfg_suggest(name, names, N_ERRNO_NAMES);
}

const char *mc_errno_name(int err)
{
	for (size_t i = 0; i < N_ERRNO_NAMES; i++)
		if (errno_names[i].value == err)
			return errno_names[i].name;
	return NULL;
}

bool mc_cfg_errno_allowed(enum mc_hook hook, int err)
{
	if ((unsigned)hook >= MC_HOOK_COUNT)
		return false;
	for (const int *e = hook_errnos[hook]; *e; e++)
		if (*e == err)
			return true;
	return false;
}

int mc_cfg_default_errno(enum mc_hook hook)
{
	return (unsigned)hook < MC_HOOK_COUNT ? hook_default_errno[hook] : EIO;
}

size_t mc_cfg_errno_list(enum mc_hook hook, char *buf, size_t size)
{
	size_t len = 0;

	if (size)
		buf[0] = '\0';
	if ((unsigned)hook >= MC_HOOK_COUNT)
		return 0;
	for (const int *e = hook_errnos[hook]; *e; e++) {
		const char *name = mc_errno_name(*e);
		size_t n = strlen(name) + (len ? 2 : 0);

		if (len + n + 1 > size)
			break;
		if (len)
			memcpy(buf + len, ", ", 2);
		memcpy(buf + len + (len ? 2 : 0), name, strlen(name) + 1);
		len += n;
	}
	return len;
}
