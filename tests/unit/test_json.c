/* test_json.c - strict validation, jsmn lookup and output helpers (lib/json.c) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "tap.h"
#include "util.h"

#define DEPTH 8

/* A readable form of a test input for the TAP line. */
static char *show(const char *s, size_t n)
{
	return escape_name(s, n > 60 ? 60 : n);
}

/* json_validate must refuse s[0..n) at byte `at` with a reason holding why. */
static void bad_n(const char *s, size_t n, size_t at, const char *why)
{
	struct fc_err e = { 0 };
	char want[64], *name = show(s, n);
	int r = json_validate(s, n, DEPTH, "ev", &e);

	snprintf(want, sizeof(want), "ev: invalid JSON at byte %zu: ", at);
	ok(r == -1 && e.code == FC_EINPUT &&
	   strncmp(e.msg, want, strlen(want)) == 0 && strstr(e.msg, why),
	   "rejects '%s': %s", name, e.msg);
	free(name);
}

static void bad(const char *s, size_t at, const char *why)
{
	bad_n(s, strlen(s), at, why);
}

/* Valid for the validator, and jsmn must agree on it. */
static void good_n(const char *s, size_t n)
{
	struct fc_err e = { 0 };
	struct json_doc d;
	char *name = show(s, n);
	int r = json_validate(s, n, DEPTH, "ev", &e);

	ok(r == 0, "accepts '%s'%s%s", name, r ? ": " : "", r ? e.msg : "");
	r = json_parse(&d, s, n, "ev", &e);
	ok(r == 0 && d.ntok > 0 && d.tok[0].parent == -1,
	   "jsmn tokenizes '%s'%s%s", name, r ? ": " : "", r ? e.msg : "");
	json_free(&d);
	free(name);
}

static void good(const char *s)
{
	good_n(s, strlen(s));
}

static void test_empty_and_trailing(void)
{
	bad("", 0, "empty input");
	bad(" \t\r\n", 4, "empty input");
	bad("{} {}", 3, "trailing data");
	bad("1 2", 2, "trailing data");
	bad("[]]", 2, "trailing data");
	bad("nullx", 4, "trailing data");
	bad("\"a\"b", 3, "trailing data");
	bad("0x10", 1, "trailing data");
	bad_n("{}\0", 3, 2, "trailing data");
	bad("\xef\xbb\xbf{}", 0, "found byte 0xef");
	bad("\f1", 0, "expected a value, found byte 0x0c");
	bad("\v1", 0, "found byte 0x0b");
	bad("1\f", 1, "trailing data");
}

static void test_bad_numbers(void)
{
	bad("01", 1, "leading zero");
	bad("-01", 2, "leading zero");
	bad("[00]", 2, "leading zero");
	bad("1.", 2, "digit after '.'");
	bad("1.e3", 2, "digit after '.'");
	bad("-", 1, "digit after '-'");
	bad("--1", 1, "digit after '-'");
	bad("-a", 1, "digit after '-'");
	bad("1e", 2, "exponent");
	bad("1E+", 3, "exponent");
	bad("1e-x", 3, "exponent");
	bad("+1", 0, "expected a value, found '+'");
	bad(".5", 0, "expected a value, found '.'");
	bad("NaN", 0, "expected a value");
	bad("Infinity", 0, "expected a value");
	bad("-Infinity", 1, "digit after '-'");
	bad("1.5.2", 3, "trailing data");
	bad("[1e5e5]", 4, "expected ',' or ']'");
}

static void test_bad_literals(void)
{
	bad("tru", 3, "unexpected end of input");
	bad("nul", 3, "unexpected end of input");
	bad("True", 0, "expected a value, found 'T'");
	bad("nulL", 3, "invalid literal (expected 'null')");
	bad("fals", 4, "unexpected end of input");
	bad("falsy", 4, "invalid literal");
	bad("[undefined]", 1, "expected a value, found 'u'");
}

static void test_bad_strings(void)
{
	bad("\"\\x\"", 1, "invalid escape '\\x'");
	bad("\"\\'\"", 1, "invalid escape");
	bad("\"\\U0041\"", 1, "invalid escape '\\U'");
	bad("\"\\u12\"", 1, "invalid \\u escape");
	bad("\"\\u12G4\"", 1, "invalid \\u escape");
	bad("\"\\u\"", 1, "invalid \\u escape");
	bad("\"\\", 1, "unterminated string");
	bad("\"abc", 4, "unterminated string");
	bad("[\"a]", 4, "unterminated string");
	bad("\"a\tb\"", 2, "control character 0x09");
	bad("\"\n\"", 1, "control character 0x0a");
	bad("\"\x1f\"", 1, "control character 0x1f");
	bad_n("\"a\0b\"", 5, 2, "control character 0x00");
	bad("'a'", 0, "expected a value, found '''");
}

static void test_bad_utf8(void)
{
	bad("\"\x80\"", 1, "invalid UTF-8");		/* lone continuation */
	bad("\"\xbf\"", 1, "invalid UTF-8");
	bad("\"\xc0\xaf\"", 1, "invalid UTF-8");	/* overlong '/' */
	bad("\"\xc1\xbf\"", 1, "invalid UTF-8");	/* overlong 2-byte */
	bad("\"\xe0\x80\xaf\"", 1, "invalid UTF-8");	/* overlong 3-byte */
	bad("\"\xe0\x9f\xbf\"", 1, "invalid UTF-8");	/* overlong U+07FF */
	bad("\"\xf0\x80\x80\xaf\"", 1, "invalid UTF-8");	/* overlong 4 */
	bad("\"\xf0\x8f\xbf\xbf\"", 1, "invalid UTF-8");	/* overlong U+FFFF */
	bad("\"\xed\xa0\x80\"", 1, "invalid UTF-8");	/* U+D800 */
	bad("\"\xed\xbf\xbf\"", 1, "invalid UTF-8");	/* U+DFFF */
	bad("\"\xed\xa0\xbd\xed\xb8\x80\"", 1, "invalid UTF-8"); /* CESU pair */
	bad("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8");	/* U+110000 */
	bad("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8");
	bad("\"\xf8\x88\x80\x80\x80\"", 1, "invalid UTF-8");
	bad("\"\xfe\"", 1, "invalid UTF-8");
	bad("\"\xff\"", 1, "invalid UTF-8");
	bad("\"\xc3\"", 1, "invalid UTF-8");		/* cut before quote */
	bad("\"\xe2\x82\"", 1, "invalid UTF-8");
	bad("\"\xf0\x9f\x98\"", 1, "invalid UTF-8");
	bad("\"\xc3", 1, "invalid UTF-8");		/* cut at the end */
	bad("\"ok\xc3\x28\"", 3, "invalid UTF-8");	/* bad continuation */
	bad("\"\xe2\x28\xa1\"", 1, "invalid UTF-8");
	bad("\xc3\xa9", 0, "found byte 0xc3");		/* outside a string */
}

static void test_bad_structure(void)
{
	bad("[1,]", 3, "expected a value, found ']'");
	bad("[,1]", 1, "expected a value, found ','");
	bad("[1,,2]", 3, "expected a value, found ','");
	bad(",", 0, "expected a value, found ','");
	bad("{,}", 1, "expected a string key, found ','");
	bad("{\"a\":1,}", 7, "expected a string key, found '}'");
	bad("{\"a\" 1}", 5, "expected ':', found '1'");
	bad("{\"a\":}", 5, "expected a value, found '}'");
	bad("{1:2}", 1, "expected a string key, found '1'");
	bad("{a:1}", 1, "expected a string key, found 'a'");
	bad("[1 2]", 3, "expected ',' or ']', found '2'");
	bad("{\"a\":1 \"b\":2}", 7, "expected ',' or '}', found '\"'");
	bad("[1}", 2, "expected ',' or ']', found '}'");
	bad("{\"a\":1]", 6, "expected ',' or '}', found ']'");
	bad("]", 0, "expected a value, found ']'");
	bad("[", 1, "unexpected end of input");
	bad("[1", 2, "unexpected end of input");
	bad("[1,", 3, "unexpected end of input");
	bad("{", 1, "unexpected end of input");
	bad("{\"a\"", 4, "unexpected end of input");
	bad("{\"a\":", 5, "unexpected end of input");
	bad("{\"a\":1", 6, "unexpected end of input");
}

static void test_depth(void)
{
	char deep[2 * DEPTH + 4], *huge;
	struct fc_err e = { 0 };
	size_t n = 200000;
	int i;

	for (i = 0; i < DEPTH; i++) {
		deep[i] = '[';
		deep[DEPTH + 1 + i] = ']';
	}
	deep[DEPTH] = '1';
	deep[2 * DEPTH + 1] = '\0';
	good(deep);				/* exactly DEPTH deep */

	memmove(deep + 1, deep, 2 * DEPTH + 2);
	deep[0] = '[';
	memcpy(deep + 2 * DEPTH + 2, "]", 2);
	bad(deep, DEPTH, "nesting deeper than 8");

	good("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1}}}}}}}}");
	bad("{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{}}}}}}}}}",
	    40, "nesting deeper than 8");
	bad("[{\"a\":[{\"a\":[{\"a\":[{\"a\":[[]]}]}]}]}]", 24,
	    "nesting deeper than 8");

	is_int(json_validate("7", 1, 0, "x", &e), 0, "depth 0 takes a scalar");
	is_int(json_validate("[]", 2, 0, "x", &e), -1, "depth 0 refuses []");

	huge = malloc(n);
	memset(huge, '[', n);
	is_int(json_validate(huge, n, 100, "x", &e), -1,
	       "200000 '[' fail fast at the limit");
	ok(strstr(e.msg, "at byte 100: nesting deeper than 100") != NULL,
	   "and say where: %s", e.msg);
	free(huge);
}

static void test_valid(void)
{
	static const char *const v[] = {
		"0", "-0", "1", "-1", "0.5", "-0.0e-0", "1e10", "1E+2",
		"1e-2", "10", "123.456e789",
		"123456789012345678901234567890",	/* far past 2^53 */
		"9007199254740993", "-9223372036854775809",
		"true", "false", "null", " \t\r\n1 \n",
		"\"\"", "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
		"\"\\u0041\\u00e9\\u20AC\\uFFFF\"",
		"\"\\ud83d\\ude00\"",		/* a pair */
		"\"\\ud800\"", "\"\\udfff\"",	/* lone surrogates, as text */
		"\"\\udc00\\ud800\"", "\"\\u0000\"",
		"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"",
		"\"\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\xf4\x8f\xbf\xbf\"",
		"\"\xc2\x80\xe0\xa0\x80\xf0\x90\x80\x80\"",
		"\"\x7f\"", "\"'\"",
		"[]", "{}", "[[]]", "[{}]", "[1,2,3]", " [ 1 , 2 ] ",
		"{ \"a\" : 1 }", "{\"a\":1,\"a\":2}",
		"{\"a\":[1,{\"b\":null}],\"c\":\"d\",\"e\":{}}",
		"[\"x\",true,false,null,-1.5e3,{\"k\":[]}]",
		"{\"\":\"\"}",
	};
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(*v); i++)
		good(v[i]);
}

static int parse(struct json_doc *d, const char *s)
{
	struct fc_err e = { 0 };
	int r = json_parse(d, s, strlen(s), "doc", &e);

	if (r)
		diag("%s", e.msg);
	return r;
}

static void test_lookup(void)
{
	const char *s = "{\"name\":\"hello\",\"n\":42,\"neg\":-7,\"f\":1.5,"
			"\"big\":9223372036854775808,\"t\":true,\"no\":false,"
			"\"nil\":null,\"arr\":[1,[2,3],{\"a\":[4]}],"
			"\"obj\":{\"inner\":\"x\"},\"k\\u0065y\":\"esc\"}";
	struct json_doc d;
	long long n = 99;
	char *str;
	int i;

	is_int(parse(&d, s), 0, "parses a manifest-like object");
	is_int(d.tok[0].type, JSMN_OBJECT, "token 0 is the object");
	str = json_str(&d, json_get(&d, 0, "name"));
	is_str(str, "hello", "json_get + json_str");
	free(str);
	is_int(json_int(&d, json_get(&d, 0, "n"), &n), 0, "json_int on 42");
	is_int(n, 42, "value 42");
	json_int(&d, json_get(&d, 0, "neg"), &n);
	is_int(n, -7, "negative integer");
	n = 5;
	is_int(json_int(&d, json_get(&d, 0, "f"), &n), -1, "1.5 is no integer");
	is_int(json_int(&d, json_get(&d, 0, "big"), &n), -1, "2^63 overflows");
	is_int(json_int(&d, json_get(&d, 0, "name"), &n), -1, "a string is not");
	is_int(n, 5, "failed json_int leaves the value");
	is_int(json_bool(&d, json_get(&d, 0, "t")), 1, "true");
	is_int(json_bool(&d, json_get(&d, 0, "no")), 0, "false");
	is_int(json_bool(&d, json_get(&d, 0, "nil")), -1, "null is no bool");
	ok(json_eq(&d, json_get(&d, 0, "nil"), "null"), "json_eq on null");
	is_int(json_get(&d, 0, "missing"), -1, "missing key");
	is_int(json_get(&d, 0, "hello"), -1, "a value is not a key");
	is_int(json_get(&d, json_get(&d, 0, "arr"), "a"), -1,
	       "json_get on an array");
	i = json_get(&d, json_get(&d, 0, "obj"), "inner");
	ok(json_eq(&d, i, "x"), "nested object lookup");
	str = json_str(&d, json_get(&d, 0, "key"));
	is_str(str, "esc", "an escaped key matches its decoded form");
	free(str);
	is_int(json_get(&d, 0, "k\\u0065y"), -1, "but not its raw form");
	is_int(json_skip(&d, 0), d.ntok, "skipping the root ends the doc");
	i = json_get(&d, 0, "arr");
	is_int(json_skip(&d, i), i + 9, "skip over [1,[2,3],{\"a\":[4]}]");
	is_int(json_skip(&d, i + 2), i + 5, "skip over [2,3]");
	is_int(json_skip(&d, i + 6), i + 9, "a key's subtree is its value's");
	json_free(&d);
	is_int(d.ntok, 0, "json_free clears");
}

static void test_scalars(void)
{
	struct json_doc d;
	long long n = 0;
	char *str;

	is_int(parse(&d, " 42 "), 0, "a bare number parses");
	is_int(d.ntok, 1, "as one token");
	is_int(json_int(&d, 0, &n), 0, "json_int on it");
	is_int(n, 42, "value 42");
	json_free(&d);
	is_int(parse(&d, "-9223372036854775808"), 0, "INT64_MIN parses");
	json_int(&d, 0, &n);
	ok(n == (-9223372036854775807LL - 1), "INT64_MIN value");
	json_free(&d);
	is_int(parse(&d, "\ttrue\n"), 0, "a bare literal parses");
	is_int(json_bool(&d, 0), 1, "json_bool on it");
	json_free(&d);
	is_int(parse(&d, "\"hi\""), 0, "a bare string parses");
	str = json_str(&d, 0);
	is_str(str, "hi", "json_str on it");
	free(str);
	json_free(&d);
}

static void test_decode(void)
{
	static const char *const v[][2] = {
		{ "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t" },
		{ "\"\\u0041\\u00e9\\u20ac\"", "A\xc3\xa9\xe2\x82\xac" },
		{ "\"\\uD83D\\uDE00\"", "\xf0\x9f\x98\x80" },
		{ "\"\\ud800x\"", "\xef\xbf\xbdx" },
		{ "\"\\udc00\\ud800\"", "\xef\xbf\xbd\xef\xbf\xbd" },
		{ "\"\\ud800\\u0041\"", "\xef\xbf\xbd" "A" },
		{ "\"\xc3\xa9\\n\"", "\xc3\xa9\n" },
		{ "\"\\u007f\\u0080\\u07ff\\u0800\"", "\x7f\xc2\x80\xdf\xbf\xe0\xa0\x80" },
	};
	struct json_doc d;
	char *str;
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(*v); i++) {
		if (parse(&d, v[i][0]) != 0) {
			ok(0, "decode case %zu parses", i);
			continue;
		}
		str = json_str(&d, 0);
		is_str(str, v[i][1], "decodes case %zu", i);
		free(str);
		json_free(&d);
	}
	parse(&d, "[\"a\\u0000b\", 1]");
	ok(json_str(&d, 1) == NULL, "json_str refuses \\u0000");
	ok(json_str(&d, 2) == NULL, "json_str refuses a number");
	ok(json_str(&d, 0) == NULL, "json_str refuses an array");
	ok(json_str(&d, 99) == NULL, "json_str refuses a bad index");
	json_free(&d);
}

static void test_parse_errors(void)
{
	struct fc_err e = { 0 };
	struct json_doc d;

	is_int(json_parse(&d, "{\"a\":01}", 8, "m.json", &e), -1,
	       "json_parse refuses bad JSON");
	is_str(e.msg, "m.json: invalid JSON at byte 6: leading zero in number",
	       "with the validator's message");
	is_int(e.code, FC_EINPUT, "as bad input");
	ok(d.tok == NULL && d.ntok == 0, "and leaves no tokens");
	is_int(json_parse(&d, "", 0, "m.json", &e), -1, "empty input");
}

static void test_buf(void)
{
	struct buf b = { 0 };
	int i;

	is_int(buf_add(&b, NULL, 0), 0, "adding nothing to an empty buf");
	is_str(b.p, "", "gives an empty string");
	buf_puts(&b, "abc");
	buf_printf(&b, "-%d-%s", 12, "x");
	is_str(b.p, "abc-12-x", "buf_puts and buf_printf");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%04d", i);
	is_int(b.len, 8 + 4000, "grows past its first size");
	ok(strncmp(b.p + b.len - 8, "09980999", 8) == 0 && b.p[b.len] == '\0',
	   "keeps order and the NUL");
	buf_free(&b);
	ok(b.p == NULL && b.len == 0 && b.cap == 0, "buf_free clears");
	is_int(buf_printf(&b, "%0300d", 7), 0, "one large printf");
	is_int(b.len, 300, "of 300 bytes");
	buf_free(&b);
}

static void json_str_case(const char *in, size_t n, const char *want)
{
	struct buf b = { 0 };
	struct fc_err e = { 0 };
	char *name = show(in, n);

	is_int(buf_json_str(&b, in, n), 0, "buf_json_str '%s'", name);
	is_str(b.p, want, "escapes '%s'", name);
	ok(json_validate(b.p, b.len, 1, "out", &e) == 0, "output is valid: %s",
	   e.msg);
	buf_free(&b);
	free(name);
}

static void test_json_str_out(void)
{
	const char *s = "a\"b\\c\n\t\x01\x7f/\xc3\xa9\xf0\x9f\x98\x80";
	struct json_doc d;
	struct buf b = { 0 };
	char *back;

	json_str_case("", 0, "\"\"");
	json_str_case("plain", 5, "\"plain\"");
	json_str_case("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
	json_str_case("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
	json_str_case("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	json_str_case("a\0b", 3, "\"a\\u0000b\"");
	json_str_case("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9,
		      "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	json_str_case("\xff", 1, "\"\\ufffd\"");
	json_str_case("x\xc3", 2, "\"x\\ufffd\"");
	json_str_case("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");
	json_str_case("\xc0\xaf!", 3, "\"\\ufffd\\ufffd!\"");

	buf_json_str(&b, s, strlen(s));
	ok(json_parse(&d, b.p, b.len, "out", NULL) == 0, "round trip parses");
	back = json_str(&d, 0);
	is_str(back, s, "round trip gives the input back");
	free(back);
	json_free(&d);
	buf_free(&b);
}

int main(void)
{
	test_empty_and_trailing();
	test_bad_numbers();
	test_bad_literals();
	test_bad_strings();
	test_bad_utf8();
	test_bad_structure();
	test_depth();
	test_valid();
	test_lookup();
	test_scalars();
	test_decode();
	test_parse_errors();
	test_buf();
	test_json_str_out();
	return done_testing();
}
