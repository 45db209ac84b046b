/* fuzz_http_status.c: libFuzzer harness for mc_http_status_class (shim/reqkey.c), the
 * watchdog's status-line sniffer, fed the bytes a process sends. Checks the class against the
 * contract of reqkey.h, written out here independently, and that no byte past the twelfth
 * matters (it reads at most 12 bytes, never past len). */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "reqkey.h"

static bool digit(uint8_t c, char lo, char hi)
{
	return c >= (uint8_t)lo && c <= (uint8_t)hi;
}

/* The contract: "HTTP/1.x DDD" (x any byte, D decimal, the first 1-5) gives D1 - 1. */
static int expected_class(const uint8_t *p, size_t len)
{
	static const char prefix[] = "HTTP/1.";
	if (len < 12)
		return -1;
	for (size_t i = 0; i < sizeof(prefix) - 1; i++)
		if (p[i] != (uint8_t)prefix[i])
			return -1;
	if (p[8] != ' ' || !digit(p[9], '1', '5') || !digit(p[10], '0', '9') ||
	    !digit(p[11], '0', '9'))
		return -1;
	return p[9] - '1';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int got = mc_http_status_class(data, size);
	FZ_CHECK(got >= -1 && got <= 4);
	FZ_CHECK(got == expected_class(data, size));
	if (size >= 12) {
		/* An exact 12-byte copy: the answer must not change, and ASan sees any read past
		 * the twelfth byte. */
		uint8_t *head = malloc(12);
		FZ_CHECK(head != NULL);
		memcpy(head, data, 12);
		FZ_CHECK(mc_http_status_class(head, 12) == got);
		free(head);
	}
	/* Every shorter prefix is not a status line. */
	for (size_t n = 0; n < size && n < 12; n++)
		FZ_CHECK(mc_http_status_class(data, n) == -1);
	return 0;
}
