/* json.c: json.h over jansson. */
#include <errno.h>
#include <stdio.h>

#include "json.h"

int mc_json_parse(const char *text, size_t len, json_t **ret, char *why, size_t cap, size_t *ret_at)
{
	json_error_t err;

	/* objects, arrays and scalars alike; a \u0000 in a string is kept, not refused */
	*ret = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
	/* a whole number past INT64_MAX (a rules line's 64-bit seed): read as a double, and
	 * then every number of the text is one (exact up to 2^53) */
	if (!*ret && json_error_code(&err) == json_error_numeric_overflow)
		*ret = json_loadb(text, len,
		                  JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
	if (*ret)
		return 0;
	if (json_error_code(&err) == json_error_out_of_memory)
		return -ENOMEM;
	if (why && cap)
		snprintf(why, cap, "%s", err.text);
	if (ret_at)
		*ret_at = err.position > 0 ? (size_t)err.position : 0;
	return -EINVAL;
}

const char *mc_json_get_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

bool mc_json_get_u64(const json_t *obj, const char *name, uint64_t *ret)
{
	const json_t *v = json_object_get(obj, name);
	double d = json_real_value(v);

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*ret = (uint64_t)json_integer_value(v);
		return true;
	}
	if (!json_is_real(v) || d < 0 || d >= 18446744073709551616.0 || d != (double)(uint64_t)d)
		return false;
	*ret = (uint64_t)d;
	return true;
}

bool mc_json_get_true(const json_t *obj, const char *name)
{
	return json_is_true(json_object_get(obj, name));
}
