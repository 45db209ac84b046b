/* mc_test.h: the assertions of the C test programs that test code directly (unit/, harness/,
 * cli/'s unit programs). A failed check prints FILE:LINE and what differed, and the test goes
 * on; mc_test_done() prints a summary and gives the exit status (0 all passed, 1 any failed
 * or none ran). Header-only, one test program per file. */
#ifndef MC_TEST_H
#define MC_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static unsigned mc_test_checks;
static unsigned mc_test_failures;

static inline void mc_test_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what);
	mc_test_failures++;
}

#define MC_CHECK(cond)                                           \
	do {                                                     \
		mc_test_checks++;                                \
		if (!(cond))                                     \
			mc_test_fail(__FILE__, __LINE__, #cond); \
	} while (0)

/* MC_CHECK with a printf-style message saying what was compared. */
#define MC_CHECKF(cond, ...)                                            \
	do {                                                            \
		mc_test_checks++;                                       \
		if (!(cond)) {                                          \
			fprintf(stderr, "%s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                   \
			fputc('\n', stderr);                            \
			mc_test_failures++;                             \
		}                                                       \
	} while (0)

#define MC_CHECK_U64(actual, expected)                                                           \
	do {                                                                                     \
		uint64_t a_ = (uint64_t)(actual), e_ = (uint64_t)(expected);                     \
		mc_test_checks++;                                                                \
		if (a_ != e_) {                                                                  \
			fprintf(stderr,                                                          \
			        "%s:%d: check failed: %s is %" PRIu64 ", expected %s = %" PRIu64 \
			        "\n",                                                            \
			        __FILE__, __LINE__, #actual, a_, #expected, e_);                 \
			mc_test_failures++;                                                      \
		}                                                                                \
	} while (0)

#define MC_CHECK_STR(actual, expected)                                                          \
	do {                                                                                    \
		const char *a_ = (actual), *e_ = (expected);                                    \
		mc_test_checks++;                                                               \
		if (!a_ || !e_ || strcmp(a_, e_) != 0) {                                        \
			fprintf(stderr, "%s:%d: check failed: %s is \"%s\", expected \"%s\"\n", \
			        __FILE__, __LINE__, #actual, a_ ? a_ : "(null)",                \
			        e_ ? e_ : "(null)");                                            \
			mc_test_failures++;                                                     \
		}                                                                               \
	} while (0)

/* Print the summary; the return value is the exit status. */
static inline int mc_test_done(const char *name)
{
	if (mc_test_failures) {
		fprintf(stderr, "%s: %u of %u checks failed\n", name, mc_test_failures,
		        mc_test_checks);
		return 1;
	}
	if (mc_test_checks == 0) {
		fprintf(stderr, "%s: no check ran\n", name);
		return 1;
	}
	printf("%s: %u checks passed\n", name, mc_test_checks);
	return 0;
}

#endif
