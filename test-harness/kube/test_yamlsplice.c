/* test_yamlsplice.c: the splicing under `mlchaos inject`, directly: libyaml's character marks
 * mapped to bytes (UTF-8, CRLF), where a node's text ends, the column of a block collection,
 * the order of insertions at one offset, merged deletions, and what the emitter writes (the
 * quoting of text YAML would read as something else, flow entries without their brackets). */
#include <stdlib.h>
#include <string.h>

#include "mc_test.h"
#include "yamlsplice.h"

static yaml_node_t *root(struct ys_stream *s, size_t doc)
{
	return yaml_document_get_root_node(&s->docs[doc].doc);
}

static void test_offsets(void)
{
	/* two-byte, three-byte and four-byte characters before a value on its line */
	const char *text = "a: {x: \"é✓😀\", y: target}\r\nb: [1, 2]\r\n";
	struct ys_stream s;
	MC_CHECK(ys_load(&s, "t.yaml", text, strlen(text)) == 0);
	struct ys_doc *d = &s.docs[0];
	yaml_node_t *y = ys_get(d, ys_get(d, root(&s, 0), "a"), "y");
	MC_CHECK(ys_is(y, "target"));
	size_t at = ys_offset(&s.src, y->start_mark);
	MC_CHECKF(strncmp(text + at, "target}", 7) == 0, "offset of y: [%s]", text + at);
	yaml_node_t *b = ys_get(d, root(&s, 0), "b");
	at = ys_offset(&s.src, b->start_mark);
	MC_CHECKF(strncmp(text + at, "[1, 2]", 6) == 0, "offset after CRLF: [%s]", text + at);
	MC_CHECK_U64(ys_content_end(&s.src, d, b), strstr(text, "]\r\n") + 1 - text);
	MC_CHECK_U64(ys_line_after(&s.src, at), strlen(text));
	ys_free(&s);
}

static void test_block_ends_and_columns(void)
{
	const char *text = "spec:\n"
	                   "  items:\n"
	                   "  - name: a   # trailing\n"
	                   "    v: |\n"
	                   "      line\n"
	                   "  # a comment after the list\n"
	                   "  other:\n"
	                   "      -\n"
	                   "        name: b\n";
	struct ys_stream s;
	MC_CHECK(ys_load(&s, "t.yaml", text, strlen(text)) == 0);
	struct ys_doc *d = &s.docs[0];
	yaml_node_t *spec = ys_get(d, root(&s, 0), "spec");
	yaml_node_t *items = ys_get(d, spec, "items");
	size_t end = ys_content_end(&s.src, d, items);
	/* a literal block ends after its line break, before the comment */
	MC_CHECKF(strncmp(text + end, "  # a comment", 13) == 0, "end of items: [%s]", text + end);
	MC_CHECK_U64(ys_line_after(&s.src, end), end);
	MC_CHECK_U64(ys_block_column(&s.src, d, items), 2);
	MC_CHECK_U64(ys_block_column(&s.src, d, spec), 2);
	/* an item that opens on the line after its dash */
	MC_CHECK_U64(ys_block_column(&s.src, d, ys_get(d, spec, "other")), 6);
	ys_free(&s);
}

static void test_edits(void)
{
	const char *text = "0123456789";
	struct ys_edits e = { 0 };
	size_t n;

	ys_insert(&e, 5, 4, strdup("[shallow]"));
	ys_insert(&e, 5, 9, strdup("[deep]"));
	ys_insert(&e, 5, 4, strdup("[shallow2]"));
	ys_delete(&e, 1, 3);
	ys_delete(&e, 2, 4); /* overlaps the one before: merged */
	ys_insert(&e, 10, 0, strdup("!"));
	char *out = ys_apply(&e, text, strlen(text), &n);
	MC_CHECK_STR(out, "04[deep][shallow][shallow2]56789!");
	MC_CHECK_U64(n, strlen(out));
	MC_CHECK(e.n == 0 && e.v == NULL);
	free(out);
}

static void test_emit(void)
{
	yaml_document_t f;
	yaml_document_initialize(&f, NULL, NULL, NULL, 1, 1);
	int m = yb_map(&f);
	const char *const odd[] = {
		"true", "no", "9464", "0x1F", "1_000", "1:20", ".inf", "~", ""
	};
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%zu", i);
		yb_put(&f, m, key, yb_str(&f, odd[i]));
	}
	yb_put(&f, m, "plain", yb_str(&f, "/mlchaos/libmlchaos.so"));
	yb_put(&f, m, "port", yb_int(&f, 9464));
	char *text = yb_emit(&f, true, 4);
	MC_CHECK(text != NULL);
	if (!text)
		return;
	MC_CHECKF(text && strstr(text, "    k0: \"true\"\n") && strstr(text, "    k1: \"no\"\n") &&
	              strstr(text, "    k2: \"9464\"\n") && strstr(text, "    k3: \"0x1F\"\n") &&
	              strstr(text, "    k4: \"1_000\"\n") && strstr(text, "    k5: \"1:20\"\n") &&
	              strstr(text, "    k6: \".inf\"\n") && strstr(text, "    k7: \"~\"\n") &&
	              strstr(text, "    k8: \"\"\n"),
	          "what YAML reads as no string is quoted, each line indented:\n%s", text);
	MC_CHECKF(text && strstr(text, "    plain: /mlchaos/libmlchaos.so\n") &&
	              strstr(text, "    port: 9464\n"),
	          "strings plain, numbers as numbers:\n%s", text);
	free(text);

	yaml_document_initialize(&f, NULL, NULL, NULL, 1, 1);
	int seq = yb_seq(&f);
	int item = yb_map(&f);
	yb_put(&f, item, "name", yb_str(&f, "a"));
	yb_push(&f, seq, item);
	yb_push(&f, seq, yb_str(&f, "b"));
	text = yb_emit(&f, false, 0);
	MC_CHECK_STR(text, "{name: a}, b");
	free(text);
}

static void test_parse_error(void)
{
	const char *text = "a: 1\nb: [unclosed\nc: 2\n";
	struct ys_stream s;
	fputs("(an error message follows, as expected)\n", stderr);
	MC_CHECK(ys_load(&s, "broken.yaml", text, strlen(text)) < 0);
	MC_CHECK(s.docs == NULL && s.n_docs == 0);
}

int main(void)
{
	test_offsets();
	test_block_ends_and_columns();
	test_edits();
	test_emit();
	test_parse_error();
	return mc_test_done("yamlsplice");
}
