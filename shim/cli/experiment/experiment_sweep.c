/* experiment_sweep.c: the values of [sweep] in `mlchaos experiment`: a fault's key rewritten
 * in the chaos text per value, tensor names escaped for the glob syntax, the tensor names of
 * a model file (the recognisers of shim/formats/). Pure but for reading the model file:
 * starts nothing, writes nothing. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "inspect.h"

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

int mc_exp_model_tensors(const char *path, const char *glob,
                         bool (*each)(void *user, const char *name), void *user, char *why,
                         size_t why_cap)
{
	struct mc_inspected r = { .file = path };

	mc_inspect_file(&r, NULL);
	snprintf(why, why_cap, "%s", r.status == 0 ? "" : r.why);
	if (r.status < -1)
		return -r.err;
	if (r.status == 0)
		return -ENOMEDIUM;
	if (r.status < 0)
		return -EBADMSG;
	for (uint32_t i = 0; i < r.map->n; i++) {
		const char *name = r.map->names + r.map->t[i].name;
		if ((!glob || mc_glob_match(glob, name)) && !each(user, name))
			break;
	}
	mc_inspected_free(&r);
	return 0;
}
