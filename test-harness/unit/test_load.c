/* test_load.c: the load client's pure logic (shim/cli/load_judge.c, load_plan.c): JSON
 * pointers, equality within a tolerance, requests-file lines and their messages (against
 * data/requests-bad.expected), presets, server-sent events, health lies, percentiles.
 * Usage: unit-load DATA_DIR */
#include <errno.h>
#include <stdlib.h>

#include "load.h"
#include "mc_test.h"

static const char *data_dir = ".";

/* ---- JSON pointers ---- */

static json_t *parse(const char *text)
{
	return json_loads(text, JSON_DECODE_ANY, NULL);
}

static void check_pointer(json_t *doc, const char *ptr, const char *expected)
{
	char why[256] = "";
	json_t *v = mc_load_pointer_get(doc, ptr, why, sizeof(why));
	char *got = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

	if (expected)
		MC_CHECK_STR(got, expected);
	else
		MC_CHECK(v == NULL && why[0]);
	if (!expected && v)
		fprintf(stderr, "  pointer '%s' matched %s\n", ptr, got);
	free(got);
}

static void test_pointers(void)
{
	/* RFC 6901 section 5's document, and a few more */
	json_t *doc = parse("{\"foo\":[\"bar\",\"baz\"],\"\":0,\"a/b\":1,\"c%d\":2,\"e^f\":3,"
	                    "\"g|h\":4,\"i\\\\j\":5,\"k\\\"l\":6,\" \":7,\"m~n\":8,\"~1\":9,"
	                    "\"deep\":{\"list\":[{\"x\":[10,11]}]}}");
	char why[256];

	MC_CHECK(doc != NULL);
	check_pointer(doc, "/foo", "[\"bar\",\"baz\"]");
	check_pointer(doc, "/foo/0", "\"bar\"");
	check_pointer(doc, "/", "0");
	check_pointer(doc, "/a~1b", "1");
	check_pointer(doc, "/c%d", "2");
	check_pointer(doc, "/e^f", "3");
	check_pointer(doc, "/g|h", "4");
	check_pointer(doc, "/i\\j", "5");
	check_pointer(doc, "/k\"l", "6");
	check_pointer(doc, "/ ", "7");
	check_pointer(doc, "/m~0n", "8");
	check_pointer(doc, "/~01", "9"); /* ~0 then 1: the member "~1", never "/" */
	check_pointer(doc, "/deep/list/0/x/1", "11");
	char *whole = json_dumps(doc, JSON_COMPACT);
	check_pointer(doc, "", whole);
	free(whole);
	/* what matches nothing */
	check_pointer(doc, "/nope", NULL);
	check_pointer(doc, "/foo/2", NULL);
	check_pointer(doc, "/foo/-", NULL);
	check_pointer(doc, "/foo/01", NULL);
	check_pointer(doc, "/foo/x", NULL);
	check_pointer(doc, "/foo/0/more", NULL);
	check_pointer(doc, "/deep/list/0/x/18446744073709551616", NULL);
	MC_CHECK(mc_load_pointer_get(doc, "/deep/nope", why, sizeof(why)) == NULL);
	MC_CHECK_STR(why, "no member 'nope' at '/deep'");
	MC_CHECK(mc_load_pointer_get(doc, "/foo/5", why, sizeof(why)) == NULL);
	MC_CHECK_STR(why, "no element '5' in the array at '/foo' (2 long)");
	/* syntax */
	MC_CHECK(mc_load_pointer_valid(""));
	MC_CHECK(mc_load_pointer_valid("/a~0~1"));
	MC_CHECK(!mc_load_pointer_valid("a"));
	MC_CHECK(!mc_load_pointer_valid("/a~2"));
	MC_CHECK(!mc_load_pointer_valid("/a~"));
	MC_CHECK(mc_load_pointer_get(doc, "/a~", why, sizeof(why)) == NULL);
	json_decref(doc);
}

/* ---- equality ---- */

static bool eq(const char *a, const char *b, double tolerance)
{
	json_t *x = parse(a), *y = parse(b);
	bool r = mc_load_equal(x, y, tolerance);

	json_decref(x);
	json_decref(y);
	return r;
}

static void test_equal(void)
{
	MC_CHECK(eq("1", "1", 0));
	MC_CHECK(eq("1", "1.0", 0)); /* an integer and a real of the same value */
	MC_CHECK(!eq("1", "1.0000001", 0));
	MC_CHECK(eq("1", "1.0000001", 1e-6));
	MC_CHECK(!eq("1", "1.01", 1e-6));
	MC_CHECK(eq("[0.5,[1,2]]", "[0.5000001,[1.0000002,2]]", 1e-6));
	MC_CHECK(!eq("[0.5,[1,2]]", "[0.5,[1,2.1]]", 1e-6));
	MC_CHECK(!eq("[1,2]", "[1,2,3]", 1));
	MC_CHECK(eq("{\"a\":1.0,\"b\":[1]}", "{\"b\":[1.0000001],\"a\":1}", 1e-6));
	MC_CHECK(!eq("{\"a\":1}", "{\"a\":1,\"b\":2}", 1));
	MC_CHECK(!eq("{\"a\":1}", "{\"b\":1}", 1));
	MC_CHECK(eq("\"cat\"", "\"cat\"", 0.5));
	MC_CHECK(!eq("\"cat\"", "\"Cat\"", 0.5));
	MC_CHECK(!eq("\"1\"", "1", 0.5));
	MC_CHECK(eq("null", "null", 0));
	MC_CHECK(!eq("null", "false", 0));
	MC_CHECK(eq("true", "true", 0));
	MC_CHECK(!eq("2", "3", 0.999));
	MC_CHECK(eq("2", "3", 1));
	MC_CHECK(!mc_load_equal(NULL, NULL, 0));
}

/* ---- requests-file lines and presets ---- */

static char *shaped(enum mc_load_protocol p, const char *line, const char *model, bool stream)
{
	struct mc_load_plan_opts o = { .protocol = p, .model = model, .stream = stream };
	struct mc_load_request r;
	char why[MC_LOAD_MSG_MAX];

	if (mc_load_plan_line(&o, line, strlen(line), 1, &r, why, sizeof(why)) < 0)
		return strdup(why);
	char *body = strdup(r.body);
	free(r.method);
	free(r.path);
	free(r.body);
	json_decref(r.expect);
	return body;
}

static void check_shaped(enum mc_load_protocol p, const char *line, const char *model, bool stream,
                         const char *expected)
{
	char *got = shaped(p, line, model, stream);

	MC_CHECK_STR(got, expected);
	free(got);
}

static void test_presets(void)
{
	check_shaped(MC_LOAD_HTTP_JSON, "{\"x\": [1, 2]}", NULL, false, "{\"x\":[1,2]}");
	check_shaped(MC_LOAD_HTTP_JSON, "\"text\"", NULL, false, "\"text\"");
	check_shaped(MC_LOAD_MLCHAOS, "[0.5, 1]", NULL, false, "{\"features\":[0.5,1]}");
	check_shaped(MC_LOAD_MLCHAOS, "{\"features\":[1]}", NULL, false, "{\"features\":[1]}");
	check_shaped(MC_LOAD_MLCHAOS, "{\"x\":1}", NULL, false,
	             "protocol mlchaos: give a body {\"features\":[...]} or an array of numbers");
	check_shaped(MC_LOAD_OPENAI_COMP, "\"Hello\"", "m1", false,
	             "{\"max_tokens\":16,\"temperature\":0.0,\"stream\":false,\"model\":\"m1\","
	             "\"prompt\":\"Hello\"}");
	check_shaped(MC_LOAD_OPENAI_COMP, "{\"prompt\":\"Hi\",\"max_tokens\":4}", NULL, true,
	             "{\"max_tokens\":4,\"temperature\":0.0,\"stream\":true,\"prompt\":\"Hi\"}");
	check_shaped(MC_LOAD_OPENAI_COMP, "{\"messages\":[]}", NULL, false,
	             "protocol openai-completions: give a string (the prompt) or an object with "
	             "\"prompt\"");
	check_shaped(MC_LOAD_OPENAI_CHAT, "\"Hi\"", "m", false,
	             "{\"max_tokens\":16,\"temperature\":0.0,\"stream\":false,\"model\":\"m\","
	             "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}");
	check_shaped(MC_LOAD_KSERVE_V2, "[1, 2, 3]", "iris", false,
	             "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,3],\"datatype\":\"FP32\","
	             "\"data\":[1,2,3]}]}");
	check_shaped(MC_LOAD_KSERVE_V2, "{\"data\":[1],\"datatype\":\"INT64\"}", "iris", false,
	             "{\"inputs\":[{\"name\":\"input-0\",\"shape\":[1,1],\"datatype\":\"INT64\","
	             "\"data\":[1]}]}");
	check_shaped(MC_LOAD_KSERVE_V2, "{\"inputs\":[]}", "iris", false, "{\"inputs\":[]}");
	/* the envelope: its body fills the preset too */
	check_shaped(MC_LOAD_OPENAI_COMP, "{\"body\":\"Hey\",\"expect\":\" there\"}", NULL, false,
	             "{\"max_tokens\":16,\"temperature\":0.0,\"stream\":false,\"prompt\":\"Hey\"}");
	MC_CHECK_STR(mc_load_protocol_answer(MC_LOAD_OPENAI_CHAT), "/choices/0/message/content");
	MC_CHECK(mc_load_protocol_of("kserve-v2") == MC_LOAD_KSERVE_V2);
	MC_CHECK(mc_load_protocol_of("openai") < 0);
}

static void test_checks(void)
{
	struct mc_load_plan_opts o = { .protocol = MC_LOAD_OPENAI_COMP };
	char why[256];

	MC_CHECK(mc_load_plan_check(&o, why, sizeof(why)) == -EINVAL);
	MC_CHECK_STR(why, "protocol openai-completions needs requests_file = the requests to send "
	                  "(JSON Lines)");
	o.requests_file = "x";
	MC_CHECK(mc_load_plan_check(&o, why, sizeof(why)) == 0);
	o.protocol = MC_LOAD_KSERVE_V2;
	MC_CHECK(mc_load_plan_check(&o, why, sizeof(why)) == -EINVAL);
	o.model = "m";
	o.stream = true;
	MC_CHECK(mc_load_plan_check(&o, why, sizeof(why)) == -EINVAL);
	MC_CHECK_STR(why, "stream = true is for protocol openai-completions and openai-chat, not "
	                  "kserve-v2");
}

struct messages {
	char text[8192];
	size_t len;
};

static void collect(void *user, const char *msg)
{
	struct messages *m = user;
	int n = snprintf(m->text + m->len, sizeof(m->text) - m->len, "%s\n", msg);

	if (n > 0 && (size_t)n < sizeof(m->text) - m->len)
		m->len += (size_t)n;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, 65536);
	size_t n = f && buf ? fread(buf, 1, 65535, f) : 0;

	if (f)
		fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static void test_requests_file(void)
{
	char path[512], expected_path[512];
	struct messages m = { .len = 0 };
	struct mc_load_plan plan;

	snprintf(path, sizeof(path), "%s/requests-bad.jsonl", data_dir);
	snprintf(expected_path, sizeof(expected_path), "%s/requests-bad.expected", data_dir);
	struct mc_load_plan_opts o = { .protocol = MC_LOAD_HTTP_JSON, .requests_file = path };
	MC_CHECK(mc_load_plan_build(&o, collect, &m, &plan) == -EINVAL);
	/* the golden file holds the messages with "FILE" for the path */
	char *expected = read_all(expected_path), want[8192] = "";
	size_t w = 0;
	for (const char *c = expected; c && *c && w + 600 < sizeof(want); c++) {
		if (strncmp(c, "FILE", 4) == 0) {
			w += (size_t)snprintf(want + w, sizeof(want) - w, "%s", path);
			c += 3;
		} else {
			want[w++] = *c;
		}
	}
	want[w] = '\0';
	MC_CHECK_STR(m.text, want);
	free(expected);

	/* the good lines alone: in file order, the envelope's parts kept */
	snprintf(path, sizeof(path), "%s/requests-good.jsonl", data_dir);
	o.requests_file = path;
	m.len = 0;
	m.text[0] = '\0';
	MC_CHECK(mc_load_plan_build(&o, collect, &m, &plan) == 0);
	MC_CHECK_STR(m.text, "");
	MC_CHECK_U64(plan.n, 3);
	if (plan.n == 3) {
		MC_CHECK_STR(plan.reqs[0].body, "{\"features\":[1,2]}");
		MC_CHECK_STR(plan.reqs[1].method, "PUT");
		MC_CHECK_STR(plan.reqs[1].path, "/v2/x");
		MC_CHECK_U64(plan.reqs[1].n_headers, 1);
		MC_CHECK_STR(plan.reqs[1].headers[0], "X-Tenant: a");
		MC_CHECK(json_integer_value(plan.reqs[1].expect) == 2);
		MC_CHECK_U64(plan.reqs[2].line, 4); /* a blank line is no request */
		MC_CHECK_STR(plan.answer, "");
		mc_load_plan_free(&plan);
	}
	o.requests_file = "/nonexistent/requests.jsonl";
	m.len = 0;
	MC_CHECK(mc_load_plan_build(&o, collect, &m, &plan) == -ENOENT);
	MC_CHECK_STR(m.text, "/nonexistent/requests.jsonl: No such file or directory\n");
}

/* ---- server-sent events ---- */

struct events {
	char got[1024];
	size_t len;
	unsigned n;
};

static int on_data(void *user, const char *data, size_t len)
{
	struct events *e = user;
	int n = snprintf(e->got + e->len, sizeof(e->got) - e->len, "[%.*s]", (int)len, data);

	if (n > 0)
		e->len += (size_t)n;
	e->n++;
	return 0;
}

static void feed_bytewise(struct mc_sse *s, const char *text)
{
	for (const char *c = text; *c; c++)
		mc_sse_feed(s, c, 1);
}

static void test_sse(void)
{
	const char *stream = ": a comment\r\n"
	                     "event: message\r\n"
	                     "data: {\"a\":1}\r\n"
	                     "\r\n"
	                     "data:no-space\n"
	                     "data:  two\n"
	                     "id: 7\n"
	                     "\n"
	                     "data\n"
	                     "\n"
	                     "retry: 10\n"
	                     "data: [DONE]\n"
	                     "\n"
	                     "data: after done\n\n";
	struct events e = { .len = 0 };
	struct mc_sse s;

	mc_sse_init(&s, on_data, &e);
	feed_bytewise(&s, stream);
	MC_CHECK(mc_sse_end(&s) == 0);
	MC_CHECK_STR(e.got, "[{\"a\":1}][no-space\n two][]");
	MC_CHECK(s.done);
	mc_sse_free(&s);

	/* in one piece; the last event without its blank line is still an event */
	memset(&e, 0, sizeof(e));
	mc_sse_init(&s, on_data, &e);
	mc_sse_feed(&s, "data: x\n\ndata: y", 16);
	MC_CHECK_U64(e.n, 1);
	mc_sse_end(&s);
	MC_CHECK_STR(e.got, "[x][y]");
	MC_CHECK(!s.done);
	mc_sse_free(&s);

	json_t *chunk = parse("{\"choices\":[{\"delta\":{\"content\":\"tok\"}}]}");
	MC_CHECK_STR(mc_load_stream_text(chunk, MC_LOAD_OPENAI_CHAT), "tok");
	MC_CHECK(mc_load_stream_text(chunk, MC_LOAD_OPENAI_COMP) == NULL);
	json_decref(chunk);
	chunk = parse("{\"choices\":[{\"text\":\" the\"}]}");
	MC_CHECK_STR(mc_load_stream_text(chunk, MC_LOAD_OPENAI_COMP), " the");
	json_decref(chunk);
}

/* ---- health lies ---- */

#define MS 1000000ull

static void test_health(void)
{
	struct mc_load_done done[40];
	struct mc_load_probe probes[4] = {
		{ .at_ns = 100 * MS, .status = 200 },  /* around it: 10 requests, all failed */
		{ .at_ns = 100 * MS, .status = 503 },  /* the truth: no lie */
		{ .at_ns = 700 * MS, .status = 200 },  /* around it: 10 requests, none failed */
		{ .at_ns = 2000 * MS, .status = 200 }, /* nothing around it */
	};

	for (int i = 0; i < 20; i++) {
		done[i].at_ns = (uint64_t)(50 + 10 * i) * MS; /* 50 .. 240 ms */
		done[i].failed = i < 10;                      /* 50 .. 140 ms failed */
	}
	for (int i = 20; i < 40; i++) {
		done[i].at_ns = (uint64_t)(500 + 20 * (i - 20)) * MS;
		done[i].failed = false;
	}
	/* window 50 ms: probe 0 sees 50..150 ms: 10 failed of 11 */
	MC_CHECK_U64(mc_load_health_lies(probes, 4, done, 40, 50 * MS), 1);
	/* window 100 ms: 0..200 ms: 10 failed of 16: still more than half */
	MC_CHECK_U64(mc_load_health_lies(probes, 4, done, 40, 100 * MS), 1);
	/* window 200 ms: 0..300 ms: 10 of 20 failed: half is not more than half */
	MC_CHECK_U64(mc_load_health_lies(probes, 4, done, 40, 200 * MS), 0);
	/* too few requests around: 2 failed of 2 is no evidence */
	struct mc_load_done two[2] = { { 99 * MS, true }, { 101 * MS, true } };
	MC_CHECK_U64(mc_load_health_lies(probes, 1, two, 2, 50 * MS), 0);
	struct mc_load_done three[3] = { { 99 * MS, true },
		                         { 100 * MS, true },
		                         { 101 * MS, true } };
	MC_CHECK_U64(mc_load_health_lies(probes, 1, three, 3, 50 * MS), 1);
	/* a probe at 0 with a window larger than its time */
	struct mc_load_probe early = { .at_ns = 10 * MS, .status = 204 };
	MC_CHECK_U64(mc_load_health_lies(&early, 1, three, 3, 100 * MS), 1);
	MC_CHECK_U64(mc_load_health_lies(&early, 1, NULL, 0, 100 * MS), 0);
}

static void test_percentiles(void)
{
	double v[] = { 5, 1, 4, 2, 3, 10, 9, 8, 7, 6 };

	mc_load_sort(v, 10);
	MC_CHECK(v[0] == 1 && v[9] == 10);
	MC_CHECK(mc_load_percentile(v, 10, 0.50) == 5);
	MC_CHECK(mc_load_percentile(v, 10, 0.99) == 10);
	MC_CHECK(mc_load_percentile(v, 10, 0.0) == 1);
	MC_CHECK(mc_load_percentile(v, 1, 0.99) == 1);
	MC_CHECK(mc_load_percentile(v, 0, 0.5) == 0);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	test_pointers();
	test_equal();
	test_presets();
	test_checks();
	test_requests_file();
	test_sse();
	test_health();
	test_percentiles();
	return mc_test_done("unit-load");
}
