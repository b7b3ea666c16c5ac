/* json.h - strict JSON validation, jsmn-based lookup, and output helpers */
#ifndef FC_JSON_H
#define FC_JSON_H

#include <stddef.h>
#define JSMN_HEADER
#define JSMN_PARENT_LINKS
#define JSMN_STRICT
#include <jsmn.h>

struct fc_err;

/*
 * Check that buf[0..len) is exactly one JSON value (RFC 8259), optional
 * whitespace around it, nesting at most max_depth arrays and objects (0:
 * scalars only). Strings must be valid UTF-8 without raw control
 * characters; \u escapes of lone surrogates are accepted. On failure fill
 * e with FC_EINPUT and "what: invalid JSON at byte N: reason" (what names
 * the input; N counts from 0; empty or blank input is "empty input").
 */
int json_validate(const char *buf, size_t len, int max_depth,
		  const char *what, struct fc_err *e);

/* A parsed document: tokens over a caller-owned buffer. */
struct json_doc {
	const char *buf;
	size_t len;
	jsmntok_t *tok;
	int ntok;
};

/* How deep json_parse lets documents nest. */
#define JSON_PARSE_DEPTH 512

/*
 * Validate buf (as json_validate, JSON_PARSE_DEPTH), then tokenize it with
 * jsmn (tokens malloc'd, d->buf points into buf: keep it alive). Token 0
 * is the top-level value. -1 and FC_EINPUT on bad JSON, FC_EVMM on ENOMEM.
 */
int json_parse(struct json_doc *d, const char *buf, size_t len,
	       const char *what, struct fc_err *e);
void json_free(struct json_doc *d);

/* Index of the value for key in the object at token obj, or -1; first match. */
int json_get(const struct json_doc *d, int obj, const char *key);
/* Index of the token after the subtree rooted at i (a key's: its value's). */
int json_skip(const struct json_doc *d, int i);
/* Does token i hold exactly this string (escapes decoded) / literal text? */
int json_eq(const struct json_doc *d, int i, const char *s);

/*
 * Copy the string token i into a malloc'd NUL-terminated string, decoding
 * escapes (\uXXXX to UTF-8, surrogate pairs joined, a lone surrogate
 * becomes U+FFFD). NULL if i is not a string, it contains \u0000, or ENOMEM.
 */
char *json_str(const struct json_doc *d, int i);
/*
 * Integer value of primitive token i (digits only: no fraction or
 * exponent); 0, or -1 and no change if not an integer or out of range.
 */
int json_int(const struct json_doc *d, int i, long long *out);
/* 1 for true, 0 for false, -1 otherwise. */
int json_bool(const struct json_doc *d, int i);

/*
 * A growable output buffer: start zeroed; p is malloc'd and kept
 * NUL-terminated after every successful call. On failure (-1, ENOMEM)
 * the contents may hold part of what was being appended.
 */
struct buf {
	char *p;
	size_t len, cap;
};
int buf_add(struct buf *b, const void *p, size_t n);	/* -1 on ENOMEM */
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Append s[0..n) as a JSON string literal with quotes: escapes " \\ and
 * control characters, keeps valid UTF-8, turns each invalid byte into \ufffd.
 */
int buf_json_str(struct buf *b, const char *s, size_t n);
void buf_free(struct buf *b);

#endif
