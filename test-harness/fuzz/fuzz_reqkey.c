/* fuzz_reqkey.c: libFuzzer harness for mc_reqkey_scan (shim/reqkey.c), which reads the bytes
 * a server receives from the network. The first input byte picks the header name (one of a
 * few, or bytes taken from the input), the rest is what one read delivered. Checks the
 * contract of reqkey.h: bounded output, a key that is really a header value of a complete
 * request line, the 16 KiB scan limit, case-insensitive names; ASan checks the bounds. */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "reqkey.h"

static const char *const fixed_names[] = { "X-Request-Id", "x-request-id", "Host", "A", "" };
#define N_FIXED (sizeof(fixed_names) / sizeof(fixed_names[0]))

#define NAME_MAX_BYTES 64

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char fold(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 32) : c;
}

/* Picks the header name; returns how many input bytes it used. */
static size_t pick_name(const uint8_t *data, size_t size, char name[NAME_MAX_BYTES + 1],
                        size_t *ret_len)
{
	if (size == 0) {
		strcpy(name, fixed_names[0]);
		*ret_len = strlen(name);
		return 0;
	}
	uint8_t sel = data[0];
	if (sel < 0x80) {
		strcpy(name, fixed_names[sel % N_FIXED]);
		*ret_len = strlen(name);
		return 1;
	}
	size_t n = sel & 0x3f;
	if (n > size - 1)
		n = size - 1;
	memcpy(name, data + 1, n);
	name[n] = '\0';
	*ret_len = n;
	return 1 + n;
}

/* The bytes the contract requires before a key can be found: a request line
 * "TOKEN SP ... HTTP/1.x" ending in '\n' within the scanned bytes. */
static bool has_request_line(const char *buf, size_t len)
{
	if (len == 0 || buf[0] == ' ' || buf[0] == '\r' || buf[0] == '\n')
		return false;
	const char *nl = memchr(buf, '\n', len);
	if (!nl)
		return false;
	size_t end = (size_t)(nl - buf);
	if (end > 0 && buf[end - 1] == '\r')
		end--;
	return end >= 10 && memcmp(buf + end - 9, " HTTP/1.", 8) == 0 && memchr(buf, ' ', end);
}

/* Some line of buf[0, len) ending in '\n' reads "name:" + blanks + key + blanks (+ '\r'). */
static bool key_is_a_header_value(const char *buf, size_t len, const char *name, size_t name_len,
                                  const char *key, size_t key_len)
{
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			return false;
		size_t eol = (size_t)(nl - buf);
		const char *line = buf + pos;
		size_t n = eol - pos;
		bool named = n > name_len && line[name_len] == ':';
		for (size_t i = 0; named && i < name_len; i++)
			named = fold((unsigned char)line[i]) == fold((unsigned char)name[i]);
		if (named) {
			const char *v = line + name_len + 1;
			size_t vn = n - name_len - 1;
			while (vn > 0 && blank(*v)) {
				v++;
				vn--;
			}
			if (vn >= key_len && memcmp(v, key, key_len) == 0)
				return true;
		}
		pos = eol + 1;
	}
	return false;
}

static void check_found(const char *buf, size_t len, const char *name, size_t name_len,
                        const char *key, size_t key_len)
{
	size_t scanned = len < MC_REQKEY_SCAN_BYTES ? len : MC_REQKEY_SCAN_BYTES;
	FZ_CHECK(key_len >= 1 && key_len <= MC_REQKEY_MAX);
	FZ_CHECK(!blank(key[0]));
	FZ_CHECK(memchr(key, '\n', key_len) == NULL);
	FZ_CHECK(has_request_line(buf, scanned));
	FZ_CHECK(key_is_a_header_value(buf, scanned, name, name_len, key, key_len));
	if (key_len < MC_REQKEY_MAX)
		FZ_CHECK(!blank(key[key_len - 1]) && key[key_len - 1] != '\r');
}

static enum mc_reqkey_result scan_exact(const char *buf, size_t len, const char *name,
                                        size_t name_len, char *key, size_t *key_len)
{
	/* The buffer at its exact length, so ASan sees a read past the end. */
	char *exact = malloc(len ? len : 1);
	FZ_CHECK(exact != NULL);
	memcpy(exact, buf, len);
	enum mc_reqkey_result r = mc_reqkey_scan(exact, len, name, name_len, key, key_len);
	free(exact);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[NAME_MAX_BYTES + 1];
	size_t name_len;
	size_t used = pick_name(data, size, name, &name_len);
	const char *buf = (const char *)data + used;
	size_t len = size - used;

	char key[MC_REQKEY_MAX];
	size_t key_len = 12345;
	enum mc_reqkey_result r = mc_reqkey_scan(buf, len, name, name_len, key, &key_len);
	FZ_CHECK(r == MC_REQKEY_NOTHING || r == MC_REQKEY_NEW_NO_KEY || r == MC_REQKEY_FOUND);
	if (r == MC_REQKEY_FOUND)
		check_found(buf, len, name, name_len, key, key_len);
	else
		FZ_CHECK(key_len == 0);
	if (r == MC_REQKEY_NEW_NO_KEY)
		FZ_CHECK(
		    has_request_line(buf, len < MC_REQKEY_SCAN_BYTES ? len : MC_REQKEY_SCAN_BYTES));

	/* The same answer with the name in upper case, and with the input cut to what is
	 * scanned. */
	char upper[NAME_MAX_BYTES + 1];
	for (size_t i = 0; i <= name_len; i++)
		upper[i] = (char)fold((unsigned char)name[i]);
	char key2[MC_REQKEY_MAX];
	size_t key2_len;
	size_t cut = len < MC_REQKEY_SCAN_BYTES ? len : MC_REQKEY_SCAN_BYTES;
	enum mc_reqkey_result r2 = scan_exact(buf, cut, upper, name_len, key2, &key2_len);
	FZ_CHECK(r2 == r && key2_len == key_len);
	FZ_CHECK(key_len == 0 || memcmp(key, key2, key_len) == 0);
	return 0;
}
