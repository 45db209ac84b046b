/* fuzz_json.c: libFuzzer harness for mc_json_damage (shim/engine/json.c), which rewrites the
 * numbers of JSON bodies that arrive from the network or leave for it. The first input byte
 * picks the mode, count and json_path; the rest is one read's or one send's bytes. Checks
 * the contract of json.h: the length never changes, the bytes change only when the body
 * scanned whole, only inside numbers (a byte that changed was a number's or is a blank or a
 * number's now), and a body rewritten scans again with the same numbers; ASan checks the
 * bounds (the bytes are copied to a buffer of their exact size). */
#include <string.h>

#include "fuzz.h"
#include "json.h"

static const char *const paths[] = { NULL, "/inputs", "/a/0", "/proba/1/0", "/" };

static bool numberish(char c)
{
	return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' ||
	       c == 'N' || c == 'a' || c == ' ';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t modes[] = { MC_CORRUPT_NOISE, MC_CORRUPT_ZERO, MC_CORRUPT_NAN,
		                         MC_CORRUPT_SIGN, MC_CORRUPT_SWAP };
	if (size == 0)
		return 0;
	struct mc_erule rule;
	memset(&rule, 0, sizeof(rule));
	rule.mode = modes[data[0] % 5];
	rule.count = (data[0] >> 3) & 1 ? MC_COUNT_ALL : 1u + (data[0] >> 4);
	rule.json_path = paths[(data[0] >> 5) % 5];
	rule.std = 0.5;
	rule.noise = (data[0] >> 7) ? MC_NOISE_ABSOLUTE : MC_NOISE_RELATIVE;
	size--;
	data++;
	char *buf = malloc(size ? size : 1), *orig = malloc(size ? size : 1);
	FZ_CHECK(buf && orig);
	memcpy(buf, data, size);
	memcpy(orig, data, size);
	struct mc_json_report rep;
	enum mc_json_status st = mc_json_damage(&rule, 7, buf, size, &rep);
	if (st != MC_JSON_DONE || rep.changed == 0) {
		FZ_CHECK(memcmp(buf, orig, size) == 0);
	} else {
		for (size_t i = 0; i < size; i++)
			FZ_CHECK(buf[i] == orig[i] || (numberish(buf[i]) && numberish(orig[i])));
		struct mc_json_report again;
		rule.count = 0; /* a scan that picks nothing: the counts alone */
		FZ_CHECK(mc_json_damage(&rule, 7, buf, size, &again) == MC_JSON_DONE ||
		         rule.mode == MC_CORRUPT_NAN);
		if (rule.mode != MC_CORRUPT_NAN)
			FZ_CHECK(again.numbers == rep.numbers);
	}
	FZ_CHECK(rep.changed + rep.unwritable <= rep.matched + 2);
	free(buf);
	free(orig);
	return 0;
}
