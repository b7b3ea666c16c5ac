/* json.c - strict JSON validation, jsmn-based lookup, JSON output buffers */

/* This file holds jsmn's code: include it before json.h sets JSMN_HEADER. */
#define JSMN_PARENT_LINKS
#define JSMN_STRICT
#include <jsmn.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json.h"

/*
 * Length of the well-formed UTF-8 sequence at s[0..n), or 0 (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF).
 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		need = 1;
	} else if (c < 0xf0) {
		need = 2;
		lo = c == 0xe0 ? 0xa0 : lo;
		hi = c == 0xed ? 0x9f : hi;
	} else if (c < 0xf5) {
		need = 3;
		lo = c == 0xf0 ? 0x90 : lo;
		hi = c == 0xf4 ? 0x8f : hi;
	} else {
		return 0;
	}
	if (n <= need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return need + 1;
}

/* The validator: recursive descent over RFC 8259's grammar. */
struct vstate {
	const unsigned char *p;
	size_t len, pos;
	int depth, max_depth;
	const char *why;
	char whybuf[80];
};

static int peek(const struct vstate *v)
{
	return v->pos < v->len ? v->p[v->pos] : -1;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int fail(struct vstate *v, const char *why)
{
	v->why = why;
	return -1;
}

__attribute__((format(printf, 2, 3)))
static int failf(struct vstate *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->whybuf, sizeof(v->whybuf), fmt, ap);
	va_end(ap);
	v->why = v->whybuf;
	return -1;
}

/* "expected X, found Y" about the byte at v->pos. */
static int expected(struct vstate *v, const char *what)
{
	int c = peek(v);

	if (c < 0)
		return fail(v, "unexpected end of input");
	if (c > 0x20 && c < 0x7f)
		return failf(v, "expected %s, found '%c'", what, c);
	return failf(v, "expected %s, found byte 0x%02x", what, c);
}

static int is_ws(int c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(struct vstate *v)
{
	while (is_ws(peek(v)))
		v->pos++;
}

static int v_value(struct vstate *v);

static int v_literal(struct vstate *v, const char *word)
{
	size_t i;

	for (i = 0; word[i]; i++, v->pos++) {
		if (peek(v) < 0)
			return fail(v, "unexpected end of input");
		if (peek(v) != word[i])
			return failf(v, "invalid literal (expected '%s')",
				     word);
	}
	return 0;
}

static int v_digits(struct vstate *v, const char *why)
{
	if (!is_digit(peek(v)))
		return fail(v, why);
	while (is_digit(peek(v)))
		v->pos++;
	return 0;
}

static int v_number(struct vstate *v)
{
	if (peek(v) == '-')
		v->pos++;
	if (peek(v) == '0') {
		v->pos++;
		if (is_digit(peek(v)))
			return fail(v, "leading zero in number");
	} else if (v_digits(v, "expected a digit after '-'") < 0) {
		return -1;
	}
	if (peek(v) == '.') {
		v->pos++;
		if (v_digits(v, "expected a digit after '.'") < 0)
			return -1;
	}
	if (peek(v) == 'e' || peek(v) == 'E') {
		v->pos++;
		if (peek(v) == '+' || peek(v) == '-')
			v->pos++;
		if (v_digits(v, "expected a digit in the exponent") < 0)
			return -1;
	}
	return 0;
}

static int is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* An escape at v->pos (the backslash); errors point at the backslash. */
static int v_escape(struct vstate *v)
{
	size_t i;
	int c;

	if (v->pos + 1 >= v->len)
		return fail(v, "unterminated string");
	c = v->p[v->pos + 1];
	if (strchr("\"\\/bfnrt", c) && c != '\0') {
		v->pos += 2;
		return 0;
	}
	if (c != 'u') {
		if (c > 0x20 && c < 0x7f)
			return failf(v, "invalid escape '\\%c'", c);
		return failf(v, "invalid escape '\\' + byte 0x%02x", c);
	}
	for (i = 2; i < 6; i++)
		if (v->pos + i >= v->len || !is_hex(v->p[v->pos + i]))
			return fail(v, "invalid \\u escape (4 hex digits "
				    "expected)");
	v->pos += 6;
	return 0;
}

static int v_string(struct vstate *v)
{
	size_t n;
	int c;

	v->pos++;
	for (;;) {
		c = peek(v);
		if (c < 0)
			return fail(v, "unterminated string");
		if (c == '"') {
			v->pos++;
			return 0;
		}
		if (c < 0x20)
			return failf(v, "control character 0x%02x in string",
				     c);
		if (c == '\\') {
			if (v_escape(v) < 0)
				return -1;
			continue;
		}
		n = utf8_seq(v->p + v->pos, v->len - v->pos);
		if (n == 0)
			return fail(v, "invalid UTF-8 in string");
		v->pos += n;
	}
}

static int v_array(struct vstate *v)
{
	int c;

	v->pos++;
	skip_ws(v);
	if (peek(v) == ']') {
		v->pos++;
		return 0;
	}
	for (;;) {
		if (v_value(v) < 0)
			return -1;
		skip_ws(v);
		c = peek(v);
		v->pos++;
		if (c == ']')
			return 0;
		if (c != ',') {
			v->pos--;
			return expected(v, "',' or ']'");
		}
	}
}

static int v_object(struct vstate *v)
{
	int c;

	v->pos++;
	skip_ws(v);
	if (peek(v) == '}') {
		v->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(v);
		if (peek(v) != '"')
			return expected(v, "a string key");
		if (v_string(v) < 0)
			return -1;
		skip_ws(v);
		if (peek(v) != ':')
			return expected(v, "':'");
		v->pos++;
		if (v_value(v) < 0)
			return -1;
		skip_ws(v);
		c = peek(v);
		v->pos++;
		if (c == '}')
			return 0;
		if (c != ',') {
			v->pos--;
			return expected(v, "',' or '}'");
		}
	}
}

static int v_nested(struct vstate *v)
{
	int r;

	if (v->depth >= v->max_depth)
		return failf(v, "nesting deeper than %d", v->max_depth);
	v->depth++;
	r = peek(v) == '[' ? v_array(v) : v_object(v);
	v->depth--;
	return r;
}

static int v_value(struct vstate *v)
{
	int c;

	skip_ws(v);
	c = peek(v);
	if (c == '-' || is_digit(c))
		return v_number(v);
	switch (c) {
	case '[':
	case '{':
		return v_nested(v);
	case '"':
		return v_string(v);
	case 't':
		return v_literal(v, "true");
	case 'f':
		return v_literal(v, "false");
	case 'n':
		return v_literal(v, "null");
	}
	return expected(v, "a value");
}

int json_validate(const char *buf, size_t len, int max_depth,
		  const char *what, struct fc_err *e)
{
	struct vstate v = {
		.p = (const unsigned char *)buf,
		.len = len,
		.max_depth = max_depth,
	};

	skip_ws(&v);
	if (v.pos == v.len) {
		v.why = "empty input";
	} else if (v_value(&v) == 0) {
		skip_ws(&v);
		if (v.pos == v.len)
			return 0;
		v.why = "trailing data after the value";
	}
	return fc_errf(e, FC_EINPUT, "%s: invalid JSON at byte %zu: %s",
		       what ? what : "input", v.pos, v.why);
}

/*
 * jsmn in strict mode wants a delimiter after a primitive, so a document
 * that is one bare number or literal gets its single token made here.
 */
static int one_primitive(struct json_doc *d, size_t start)
{
	size_t end = d->len;

	while (end > start && is_ws(d->buf[end - 1]))
		end--;
	d->tok = calloc(1, sizeof(*d->tok));
	if (!d->tok)
		return -1;
	d->tok[0] = (jsmntok_t){ .type = JSMN_PRIMITIVE, .start = (int)start,
				 .end = (int)end, .size = 0, .parent = -1 };
	d->ntok = 1;
	return 0;
}

static int tokenize(struct json_doc *d)
{
	jsmn_parser p;
	int n;

	jsmn_init(&p);
	n = jsmn_parse(&p, d->buf, d->len, NULL, 0);
	if (n <= 0)
		return n == 0 ? JSMN_ERROR_PART : n;
	d->tok = calloc((size_t)n, sizeof(*d->tok));
	if (!d->tok)
		return JSMN_ERROR_NOMEM;
	jsmn_init(&p);
	d->ntok = jsmn_parse(&p, d->buf, d->len, d->tok, (unsigned)n);
	return d->ntok == n ? 0 : JSMN_ERROR_INVAL;
}

int json_parse(struct json_doc *d, const char *buf, size_t len,
	       const char *what, struct fc_err *e)
{
	size_t start = 0;
	int r;

	memset(d, 0, sizeof(*d));
	what = what ? what : "input";
	if (len > INT_MAX)
		return fc_errf(e, FC_EINPUT, "%s: JSON larger than %d bytes",
			       what, INT_MAX);
	if (json_validate(buf, len, JSON_PARSE_DEPTH, what, e) < 0)
		return -1;
	d->buf = buf;
	d->len = len;

	while (is_ws(buf[start]))
		start++;
	if (buf[start] != '[' && buf[start] != '{' && buf[start] != '"')
		r = one_primitive(d, start) < 0 ? JSMN_ERROR_NOMEM : 0;
	else
		r = tokenize(d);
	if (r == 0)
		return 0;
	json_free(d);
	if (r == JSMN_ERROR_NOMEM)
		return fc_errf(e, FC_EVMM, "%s: out of memory for JSON tokens",
			       what);
	return fc_errf(e, FC_EINPUT, "%s: JSON tokenizer failed (%d)", what, r);
}

void json_free(struct json_doc *d)
{
	free(d->tok);
	d->tok = NULL;
	d->ntok = 0;
}

int json_skip(const struct json_doc *d, int i)
{
	int end, j;

	if (i < 0 || i >= d->ntok)
		return d->ntok;
	/* A key's subtree is its value. */
	if (d->tok[i].type == JSMN_STRING && d->tok[i].size > 0)
		return json_skip(d, i + 1);
	end = d->tok[i].end;
	for (j = i + 1; j < d->ntok && d->tok[j].start < end; j++)
		;
	return j;
}

int json_get(const struct json_doc *d, int obj, const char *key)
{
	int i, k;

	if (obj < 0 || obj >= d->ntok || d->tok[obj].type != JSMN_OBJECT)
		return -1;
	i = obj + 1;
	for (k = 0; k < d->tok[obj].size && i + 1 < d->ntok; k++) {
		if (json_eq(d, i, key))
			return i + 1;
		i = json_skip(d, i + 1);
	}
	return -1;
}

int json_eq(const struct json_doc *d, int i, const char *s)
{
	const jsmntok_t *t;
	size_t n;
	char *str;
	int r;

	if (i < 0 || i >= d->ntok)
		return 0;
	t = &d->tok[i];
	if (t->type != JSMN_STRING && t->type != JSMN_PRIMITIVE)
		return 0;
	n = (size_t)(t->end - t->start);
	if (t->type == JSMN_STRING && memchr(d->buf + t->start, '\\', n)) {
		str = json_str(d, i);
		r = str && strcmp(str, s) == 0;
		free(str);
		return r;
	}
	return strlen(s) == n && memcmp(d->buf + t->start, s, n) == 0;
}

/* Four hex digits at s[0..n) into *out; -1 if malformed. */
static int hex4(const char *s, size_t n, unsigned *out)
{
	unsigned v = 0;
	size_t i;
	int c;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		c = (unsigned char)s[i];
		if (!is_hex(c))
			return -1;
		c = is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
		v = v << 4 | (unsigned)c;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the \uXXXX escape at s[0..n) (s points at the 'u'); joins a
 * surrogate pair, turns a lone surrogate into U+FFFD. Returns the bytes
 * used after the backslash, or -1.
 */
static long unicode_escape(const char *s, size_t n, unsigned *cp)
{
	unsigned lo;

	if (hex4(s + 1, n - 1, cp) < 0)
		return -1;
	if (*cp >= 0xd800 && *cp < 0xdc00 && n >= 11 && s[5] == '\\' &&
	    s[6] == 'u' && hex4(s + 7, n - 7, &lo) == 0 &&
	    lo >= 0xdc00 && lo < 0xe000) {
		*cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
		return 11;
	}
	if (*cp >= 0xd800 && *cp < 0xe000)
		*cp = 0xfffd;
	return 5;
}

/* Undo JSON escapes from s[0..n) into out; returns the length or -1. */
static long unescape(const char *s, size_t n, char *out)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	size_t i = 0, o = 0;
	const char *k;
	unsigned cp;
	long used;

	while (i < n) {
		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		if (++i >= n)
			return -1;
		if (s[i] != 'u') {
			k = strchr(from, s[i]);
			if (!k || !*k)
				return -1;
			out[o++] = to[k - from];
			i++;
			continue;
		}
		used = unicode_escape(s + i, n - i, &cp);
		if (used < 0 || cp == 0)
			return -1;
		o += put_utf8(out + o, cp);
		i += (size_t)used;
	}
	return (long)o;
}

char *json_str(const struct json_doc *d, int i)
{
	const jsmntok_t *t;
	size_t n;
	char *out;
	long len;

	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_STRING)
		return NULL;
	t = &d->tok[i];
	n = (size_t)(t->end - t->start);
	/* No escape decodes to more bytes than it is written with. */
	out = malloc(n + 1);
	if (!out)
		return NULL;
	len = unescape(d->buf + t->start, n, out);
	if (len < 0) {
		free(out);
		return NULL;
	}
	out[len] = '\0';
	return out;
}

int json_int(const struct json_doc *d, int i, long long *out)
{
	char tmp[32], *end;
	size_t n, neg;
	long long v;

	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_PRIMITIVE)
		return -1;
	n = (size_t)(d->tok[i].end - d->tok[i].start);
	if (n == 0 || n >= sizeof(tmp))
		return -1;
	memcpy(tmp, d->buf + d->tok[i].start, n);
	tmp[n] = '\0';
	neg = tmp[0] == '-';
	if (n == neg || strspn(tmp + neg, "0123456789") != n - neg)
		return -1;
	errno = 0;
	v = strtoll(tmp, &end, 10);
	if (errno || *end)
		return -1;
	*out = v;
	return 0;
}

int json_bool(const struct json_doc *d, int i)
{
	if (i < 0 || i >= d->ntok || d->tok[i].type != JSMN_PRIMITIVE)
		return -1;
	if (json_eq(d, i, "true"))
		return 1;
	if (json_eq(d, i, "false"))
		return 0;
	return -1;
}

/* Make room for n more bytes plus a NUL. */
static int buf_grow(struct buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 64;
	char *p;

	if (n > SIZE_MAX / 2 - b->len) {
		errno = ENOMEM;
		return -1;
	}
	if (b->len + n < b->cap)
		return 0;
	while (cap <= b->len + n)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

int buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_grow(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

int buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || buf_grow(b, (size_t)n) < 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* The escape for one byte that cannot go into a JSON string as is. */
static int add_escape(struct buf *b, unsigned char c, int bad_utf8)
{
	static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
	const char *k = c ? strchr(from, c) : NULL;
	char esc[8];

	if (bad_utf8)
		return buf_add(b, "\\ufffd", 6);
	if (k) {
		esc[0] = '\\';
		esc[1] = to[k - from];
		return buf_add(b, esc, 2);
	}
	snprintf(esc, sizeof(esc), "\\u%04x", c);
	return buf_add(b, esc, 6);
}

int buf_json_str(struct buf *b, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0, k;

	if (buf_add(b, "\"", 1) < 0)
		return -1;
	while (i < n) {
		if (u[i] >= 0x20 && u[i] < 0x7f && !strchr("\"\\", u[i])) {
			i++;
			continue;
		}
		k = u[i] >= 0x80 ? utf8_seq(u + i, n - i) : 0;
		if (k) {
			i += k;
			continue;
		}
		if (buf_add(b, s + start, i - start) < 0 ||
		    add_escape(b, u[i], u[i] >= 0x80) < 0)
			return -1;
		start = ++i;
	}
	if (buf_add(b, s + start, i - start) < 0)
		return -1;
	return buf_add(b, "\"", 1);
}

void buf_free(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
