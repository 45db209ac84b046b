/* test_json.c: region = json (engine/json.c): numbers read and written within their width,
 * bodies found after an HTTP head, json_path aiming at a field, each mode, and the bodies
 * left alone (cut, chunked, not JSON), with every byte count kept. */
#include <math.h>
#include <string.h>

#include "cfg_util.h"
#include "json.h"
#include "mc_test.h"

static void check_write(double v, size_t w, const char *want)
{
	char out[64];
	memset(out, 'x', sizeof(out));
	int r = mc_json_write_number(v, out, w);
	if (!want) {
		MC_CHECKF(r < 0, "%g in %zu: expected no fit", v, w);
		return;
	}
	MC_CHECKF(r == 0 && memcmp(out, want, w) == 0 && out[w] == 'x',
	          "%g in %zu: got '%.*s', want '%s'", v, w, (int)w, out, want);
}

static void test_numbers(void)
{
	double v;
	MC_CHECK(mc_json_read_number("-12.5e1", 7, &v) && v == -125);
	MC_CHECK(mc_json_read_number("0.25", 4, &v) && v == 0.25);
	MC_CHECK(!mc_json_read_number("1.", 2, &v));
	MC_CHECK(!mc_json_read_number("--1", 3, &v));
	MC_CHECK(!mc_json_read_number("1e", 2, &v));
	check_write(3.14159, 4, "3.14");
	check_write(-3.14159, 4, "-3.1");
	check_write(2, 4, "2   ");
	check_write(0, 1, "0");
	check_write(-0.0, 1, "0");
	check_write(-5, 1, NULL); /* a sign on one digit does not fit */
	check_write(12, 1, NULL);
	check_write(12345, 3, "1e4");
	check_write(0.000123, 6, "0.0001");
	check_write(NAN, 3, "NaN");
	check_write(NAN, 2, NULL);
	check_write(0.999, 2, "1 ");
	check_write(1e300, 5, "1e300");
	/* a wide number: no more fraction digits than a double holds, the rest blanks */
	char wide[40];
	MC_CHECK(mc_json_write_number(0.1234567890123456789, wide, 40) == 0);
	MC_CHECK(mc_json_read_number(wide, 19, &v) && fabs(v - 0.12345678901234568) < 1e-15);
	MC_CHECK(wide[39] == ' ');
}

static struct mc_ruleset *json_rules(const char *mode_and_more)
{
	char text[512];
	snprintf(text, sizeof(text),
	         "[fault.j]\nhook = send\naction = corrupt\nregion = json\n%s\n", mode_and_more);
	return build_rules(text);
}

static enum mc_json_status damage(const char *rule, const char *in, char *out,
                                  struct mc_json_report *rep)
{
	struct mc_ruleset *rs = json_rules(rule);
	enum mc_json_status st = MC_JSON_MALFORMED;
	strcpy(out, in);
	MC_CHECK(rs != NULL);
	if (rs) {
		st = mc_json_damage(mc_engine_rule(rs, 0), 42, out, strlen(out), rep);
		mc_engine_free(rs);
	}
	MC_CHECK_U64(strlen(out), strlen(in)); /* every byte count kept */
	return st;
}

static void test_modes(void)
{
	char out[512];
	struct mc_json_report rep;
	const char *body = "{\"inputs\": [[1.25, 2.5, -3.75], [4.125, 5, 6.5]], \"id\": 17}";

	MC_CHECK(damage("mode = zero\ncount = all\njson_path = /inputs", body, out, &rep) ==
	         MC_JSON_DONE);
	MC_CHECK_STR(out, "{\"inputs\": [[0   , 0  , 0    ], [0    , 0, 0  ]], \"id\": 17}");
	MC_CHECK_U64(rep.numbers, 7);
	MC_CHECK_U64(rep.matched, 6);
	MC_CHECK_U64(rep.changed, 6);

	MC_CHECK(damage("mode = sign\ncount = all\njson_path = /inputs/1", body, out, &rep) ==
	         MC_JSON_DONE);
	/* 5 cannot carry a sign in one byte: left as it was; -6.5 has 3 bytes: -7 */
	MC_CHECK_STR(out, "{\"inputs\": [[1.25, 2.5, -3.75], [-4.13, 5, -7 ]], \"id\": 17}");
	MC_CHECK_U64(rep.changed, 2);
	MC_CHECK_U64(rep.unwritable, 1);

	MC_CHECK(damage("mode = nan\njson_path = /id", body, out, &rep) == MC_JSON_DONE);
	MC_CHECK_U64(rep.matched, 1);
	MC_CHECK_U64(rep.unwritable, 1); /* "17" has no room for NaN */

	MC_CHECK(damage("mode = swap\njson_path = /inputs/0", "[{\"inputs\": 0}]", out, &rep) ==
	         MC_JSON_DONE);
	MC_CHECK_U64(rep.matched, 0); /* /0/inputs is not /inputs/0 */

	MC_CHECK(damage("mode = swap\njson_path = /v", "{\"v\": [1.5, 2.5], \"w\": 9}", out,
	                &rep) == MC_JSON_DONE);
	MC_CHECK_STR(out, "{\"v\": [2.5, 1.5], \"w\": 9}");

	MC_CHECK(damage("mode = noise\nstd = 0.5\ncount = all", "[100.0, 200.0, 300.0]", out,
	                &rep) == MC_JSON_DONE);
	MC_CHECK(strcmp(out, "[100.0, 200.0, 300.0]") != 0 && rep.changed == 3);
	double a, b, c;
	MC_CHECK(sscanf(out, "[%lf, %lf, %lf]", &a, &b, &c) == 3);
	/* the same draw, the same noise */
	char again[512];
	damage("mode = noise\nstd = 0.5\ncount = all", "[100.0, 200.0, 300.0]", again, &rep);
	MC_CHECK_STR(again, out);
}

static void test_bodies(void)
{
	char out[512];
	struct mc_json_report rep;
	const char *head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
	                   "Content-Length: 21\r\n\r\n";
	char msg[512];

	snprintf(msg, sizeof(msg), "%s{\"pred\": [1.5, 2.75]}", head);
	MC_CHECK(damage("mode = zero\ncount = all", msg, out, &rep) == MC_JSON_DONE);
	MC_CHECK(strstr(out, "{\"pred\": [0  , 0   ]}") != NULL);
	MC_CHECK(strncmp(out, head, strlen(head)) == 0); /* the head untouched */
	MC_CHECK_U64(rep.body, strlen(head));

	snprintf(msg, sizeof(msg), "%s{\"pred\": [1.5, 2.7", head);
	MC_CHECK(damage("mode = zero", msg, out, &rep) == MC_JSON_PARTIAL);
	MC_CHECK_STR(out, msg);
	MC_CHECK(damage("mode = zero", "HTTP/1.1 200 OK\r\nContent-Len", out, &rep) ==
	         MC_JSON_PARTIAL);
	MC_CHECK(damage("mode = zero",
	                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[1,2]\r\n", out,
	                &rep) == MC_JSON_CHUNKED);
	MC_CHECK(damage("mode = zero", "HTTP/1.1 204 No Content\r\n\r\n", out, &rep) ==
	         MC_JSON_NO_BODY);
	MC_CHECK(damage("mode = zero", "{\"a\": [1, 2,, 3]}", out, &rep) == MC_JSON_MALFORMED);
	MC_CHECK_STR(out, "{\"a\": [1, 2,, 3]}");
	MC_CHECK(damage("mode = zero", "{\"a\": tru}", out, &rep) == MC_JSON_MALFORMED);
	MC_CHECK(damage("mode = zero", "{\"s\": \"a \\\" [1\", \"n\": 5}", out, &rep) ==
	         MC_JSON_DONE);
	MC_CHECK_STR(out, "{\"s\": \"a \\\" [1\", \"n\": 0}");
	/* deeper than the scanner's stack: left alone, said so */
	char deep[128];
	memset(deep, '[', 40);
	strcpy(deep + 40, "1");
	memset(deep + 41, ']', 40);
	deep[81] = '\0';
	MC_CHECK(damage("mode = zero", deep, out, &rep) == MC_JSON_MALFORMED);
	MC_CHECK_STR(out, deep);
}

static void test_config(void)
{
	struct diags d;
	struct mc_config *cfg =
	    parse_text("[fault.s]\nhook = send\naction = corrupt\nmode = zero\n", &d);
	MC_CHECK(!cfg && strstr(d.text, "hook = send takes action = corrupt with region = json"));
	mc_cfg_free(cfg);
	cfg = parse_text("[fault.s]\nhook = read\naction = corrupt\nregion = json\nmode = "
	                 "bitflip\njson_path = inputs\n",
	                 &d);
	MC_CHECK(!cfg && strstr(d.text, "mode = bitflip does not apply to region = json") &&
	         strstr(d.text, "json_path 'inputs' is not a JSON pointer"));
	mc_cfg_free(cfg);
	cfg = parse_ok("[fault.s]\nhook = read\naction = corrupt\nregion = json\nmode = noise\n"
	               "std = 0.1\ncount = all\njson_path = /inputs\n");
	MC_CHECK(cfg && cfg->rules[0].region == MC_REGION_JSON &&
	         strcmp(cfg->rules[0].json_path, "/inputs") == 0);
	mc_cfg_free(cfg);
}

/* JSON bodies travel on sockets: a read of a file never matches a region = json rule. */
static void test_sockets_only(void)
{
	static struct mc_engine_state st;
	struct mc_ruleset *rs = json_rules("mode = zero");
	struct mc_decision d;
	MC_CHECK(rs != NULL);
	if (!rs)
		return;
	mc_engine_state_reset(&st);
	struct mc_call call = { .hook = MC_HOOK_SEND, .size = 100, .not_socket = true };
	MC_CHECK(!mc_engine_decide(rs, &st, NULL, &call, &d));
	call.not_socket = false;
	MC_CHECK(mc_engine_decide(rs, &st, NULL, &call, &d) && d.action == MC_ACTION_CORRUPT);
	mc_engine_free(rs);
}

int main(void)
{
	test_numbers();
	test_modes();
	test_bodies();
	test_config();
	test_sockets_only();
	return mc_test_done("json");
}
