/* experiment_sweep.c: the values of [sweep] in `mlchaos experiment`: a fault's key rewritten
 * in the chaos text per value, tensor names escaped for the glob syntax, the tensor names of
 * a model file (the recognisers of shim/formats/). Pure but for reading the model file:
 * starts nothing, writes nothing. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiment.h"
#include "tensors.h"

/* ---- the chaos text with one value ---- */

/* The line starting at s, as [start, end) without its newline. */
static const char *line_end(const char *s)
{
	const char *nl = strchr(s, '\n');

	return nl ? nl : s + strlen(s);
}

/* Whether [s, end) is the header of [fault.FAULT]; *ret_header whether it is any header. */
static bool is_fault_header(const char *s, const char *end, const char *fault, bool *ret_header)
{
	while (s < end && isspace((unsigned char)*s))
		s++;
	*ret_header = s < end && *s == '[';
	if (!*ret_header)
		return false;
	const char *close = memchr(s, ']', (size_t)(end - s));
	size_t n = strlen(fault);
	return close && (size_t)(close - s) == 7 + n && strncmp(s + 1, "fault.", 6) == 0 &&
	       strncmp(s + 7, fault, n) == 0;
}

/* Whether [s, end) is a "key = value" line for key (keys are case-insensitive). */
static bool is_key_line(const char *s, const char *end, const char *key)
{
	size_t n = strlen(key);

	while (s < end && isspace((unsigned char)*s))
		s++;
	if ((size_t)(end - s) <= n || strncasecmp(s, key, n) != 0)
		return false;
	s += n;
	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	return s < end && (*s == '=' || *s == ':');
}

char *mc_exp_sweep_rewrite(const char *text, const char *fault, const char *key, const char *value,
                           int *ret_added)
{
	const char *header = NULL, *found = NULL;
	bool inside = false, is_header;
	int header_no = 0, no = 0;

	for (const char *s = text; *s; s = *line_end(s) ? line_end(s) + 1 : line_end(s)) {
		const char *end = line_end(s);
		no++;
		bool ours = is_fault_header(s, end, fault, &is_header);
		if (is_header)
			inside = ours;
		if (ours && !header) {
			header = s;
			header_no = no;
		} else if (inside && !found && is_key_line(s, end, key)) {
			found = s;
		}
	}
	if (!header)
		return NULL;
	const char *at = found ? found : line_end(header) + (*line_end(header) ? 1 : 0);
	const char *rest = found ? line_end(found) : at;
	char *out = NULL;
	int n = asprintf(&out, "%.*s%s%s = %s%s%s", (int)(at - text), text,
	                 !found && at == line_end(header) ? "\n" : "", key, value,
	                 found ? "" : "\n", rest);
	*ret_added = found ? 0 : header_no + 1;
	return n < 0 ? NULL : out;
}

int mc_exp_glob_escape(const char *name, char *buf, size_t cap)
{
	size_t k = 0;

	for (const char *c = name; *c; c++) {
		bool special = strchr("*?[]\\", *c) != NULL;
		if (k + special + 2 > cap)
			return -ENAMETOOLONG;
		if (special)
			buf[k++] = '\\';
		buf[k++] = *c;
	}
	if (cap == 0)
		return -ENAMETOOLONG;
	buf[k] = '\0';
	return 0;
}

/* ---- the tensors of a model file ---- */

static int64_t read_at(void *ctx, uint64_t off, void *buf, size_t len)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);

	return n < 0 ? -1 : n;
}

static void *alloc_mem(void *ctx, size_t n)
{
	(void)ctx;
	return malloc(n);
}

static void free_mem(void *ctx, void *p)
{
	(void)ctx;
	free(p);
}

int mc_exp_model_tensors(const char *path, const char *glob,
                         bool (*each)(void *user, const char *name), void *user, char *why,
                         size_t why_cap)
{
	const struct mc_tensor_alloc a = { .alloc = alloc_mem, .free = free_mem };
	struct mc_tensor_map *map = NULL;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);

	why[0] = '\0';
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		int err = S_ISREG(st.st_mode) ? errno : EINVAL;
		snprintf(why, why_cap, "not a regular file");
		close(fd);
		return -err;
	}
	struct mc_tensor_src src = { .read_at = read_at, .ctx = &fd, .size = (uint64_t)st.st_size };
	int r = mc_tensor_recognize(&src, &a, &map, why, why_cap);
	close(fd);
	if (r == 0)
		return -ENOMEDIUM;
	if (r < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < map->n; i++) {
		const char *name = map->names + map->t[i].name;
		if ((!glob || mc_glob_match(glob, name)) && !each(user, name))
			break;
	}
	mc_tensor_map_free(map, &a);
	return 0;
}
