/* poolproto.c - the fc-poold socket protocol, for the pool and its clients */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "json.h"
#include "poolproto.h"
#include "sock.h"

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
	while (i < n && is_ws(p[i]))
		i++;
	return i;
}

/* Just past the string that starts at p[i] (a '"'). */
static size_t skip_string(const char *p, size_t n, size_t i)
{
	for (i++; i < n && p[i] != '"'; i++)
		if (p[i] == '\\')
			i++;
	return i + 1;
}

/*
 * Just past the value that starts at p[i], in text json_validate passed:
 * strings and brackets are balanced, so counting brackets is enough.
 */
static size_t skip_value(const char *p, size_t n, size_t i)
{
	int depth = 0;

	if (p[i] != '{' && p[i] != '[' && p[i] != '"') {
		while (i < n && !is_ws(p[i]) && !strchr(",}]", p[i]))
			i++;
		return i;
	}
	while (i < n) {
		if (p[i] == '"') {
			i = skip_string(p, n, i);
		} else {
			if (p[i] == '{' || p[i] == '[')
				depth++;
			else if (p[i] == '}' || p[i] == ']')
				depth--;
			i++;
		}
		if (depth == 0)
			return i;
	}
	return i;
}

int poolproto_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > POOL_NAME_MAX || s[0] == '.')
		return 0;
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789._-") == n;
}

int poolproto_id_ok(const char *s, size_t n)
{
	if (n == 0 || n > POOL_NAME_MAX)
		return 0;
	/* Characters that need no escaping anywhere a request id is shown. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && !strchr("._:-", c))
			return 0;
	}
	return 1;
}

/* Copy the plain string value p[i..end) (quotes included) into out. */
static int take_string(const char *p, size_t i, size_t end, char *out,
		       const char *key, struct fc_err *e)
{
	size_t n = end - i;

	if (p[i] != '"' || n < 2 || !poolproto_id_ok(p + i + 1, n - 2))
		return fc_errf(e, FC_EINPUT, "bad request: \"%s\" must be a string of "
			       "1 to %d letters, digits, '.', '_', ':' or '-'", key,
			       POOL_NAME_MAX);
	memcpy(out, p + i + 1, n - 2);
	out[n - 2] = 0;
	return 0;
}

static int take_member(const char *p, const char *key, size_t i, size_t end,
		       struct poolreq *r, struct fc_err *e)
{
	if (strcmp(key, "function") == 0) {
		if (take_string(p, i, end, r->function, key, e) < 0)
			return -1;
		if (!poolproto_name_ok(r->function))
			return fc_errf(e, FC_EINPUT, "bad request: bad function name");
	} else if (strcmp(key, "id") == 0) {
		return take_string(p, i, end, r->id, key, e);
	} else if (strcmp(key, "timeout_ms") == 0) {
		char num[16];
		char *stop;
		if (end - i >= sizeof(num))
			goto bad_timeout;
		memcpy(num, p + i, end - i);
		num[end - i] = 0;
		r->timeout_ms = strtol(num, &stop, 10);
		if (*stop || r->timeout_ms < 1 || r->timeout_ms > 900000)
			goto bad_timeout;
	} else if (strcmp(key, "event") == 0) {
		r->ev_off = i;
		r->ev_len = end - i;
	}
	return 0;
bad_timeout:
	return fc_errf(e, FC_EINPUT, "bad request: \"timeout_ms\" must be 1 to 900000");
}

int poolproto_parse(const char *p, size_t n, struct poolreq *r,
		    struct fc_err *e)
{
	size_t i;
	char key[32];

	memset(r, 0, sizeof(*r));
	if (json_validate(p, n, POOL_EVENT_DEPTH + 1, "bad request", e) < 0)
		return -1;
	i = skip_ws(p, n, 0);
	if (p[i] != '{')
		return fc_errf(e, FC_EINPUT, "bad request: not a JSON object");
	i = skip_ws(p, n, i + 1);
	while (p[i] == '"') {
		size_t kend = skip_string(p, n, i), vstart, vend;
		size_t klen = kend - i - 2;
		snprintf(key, sizeof(key), "%.*s", klen < sizeof(key) ? (int)klen : 0,
			 p + i + 1);
		vstart = skip_ws(p, n, skip_ws(p, n, kend) + 1);	/* past ':' */
		vend = skip_value(p, n, vstart);
		if (take_member(p, key, vstart, vend, r, e) < 0)
			return -1;
		i = skip_ws(p, n, vend);
		if (p[i] == ',')
			i = skip_ws(p, n, i + 1);
	}
	if (!r->ev_len)
		return fc_errf(e, FC_EINPUT, "bad request: no \"event\"");
	return 0;
}

int poolproto_request(struct buf *b, const char *function, const char *id,
		      long timeout_ms, const char *event, size_t n)
{
	buf_puts(b, "{");
	if (function) {
		buf_puts(b, "\"function\":");
		buf_json_str(b, function, strlen(function));
		buf_puts(b, ",");
	}
	if (id && *id) {
		buf_puts(b, "\"id\":");
		buf_json_str(b, id, strlen(id));
		buf_puts(b, ",");
	}
	if (timeout_ms > 0)
		buf_printf(b, "\"timeout_ms\":%ld,", timeout_ms);
	buf_puts(b, "\"event\":");
	buf_add(b, event, n);
	return buf_puts(b, "}");
}

int poolproto_error(struct buf *b, int code, const char *msg)
{
	buf_printf(b, "{\"code\":%d,\"message\":", code);
	buf_json_str(b, msg, strlen(msg));
	return buf_puts(b, "}");
}

void poolproto_read_error(const char *p, size_t n, struct fc_err *e)
{
	struct json_doc d;
	struct fc_err ignore;
	long long code = FC_EVMM;
	char *msg = NULL;

	if (json_parse(&d, p, n, "error", &ignore) == 0) {
		int i = json_get(&d, 0, "code");
		if (i < 0 || json_int(&d, i, &code) < 0 || code < 1 || code > 125)
			code = FC_EVMM;
		i = json_get(&d, 0, "message");
		msg = i >= 0 ? json_str(&d, i) : NULL;
		json_free(&d);
	}
	fc_errf(e, (int)code, "%s", msg ? msg : "the pool failed the request");
	free(msg);
}

/* Read the greeting; -1 with e filled if it is not fc-poold's. */
static int greeting(int fd, const char *path, int64_t deadline,
		    struct buf *hello, struct fc_err *e)
{
	struct frame f;
	int w = wait_readable(fd, -1, deadline), r;

	if (w == 0)
		return fc_errf(e, FC_EINPUT, "%s: no greeting: not an fc-poold socket",
			       path);
	r = frame_read(fd, &f);
	if (r <= 0)
		return fc_errf(e, FC_EINPUT, "%s: %s: not an fc-poold socket", path,
			       r == 0 ? "closed at once" : "not our framing");
	if (f.type != 'R' || !strstr(f.data, "\"server\":\"" POOL_SERVER "\"")) {
		frame_free(&f);
		return fc_errf(e, FC_EINPUT, "%s: not an fc-poold socket", path);
	}
	if (hello)
		buf_add(hello, f.data, f.len);
	frame_free(&f);
	return 0;
}

int poolproto_connect(const char *path, int64_t deadline, struct buf *hello,
		      struct fc_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return fc_errnof(e, FC_EINPUT, "%s", path);
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fc_errnof(e, FC_EVMM, "socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = errno;
		close(fd);
		if (err == ECONNREFUSED)
			return fc_errf(e, FC_EVMM, "%s: no fc-poold is listening", path);
		errno = err;
		return fc_errnof(e, err == ENOENT || err == EACCES ? FC_EINPUT : FC_EVMM,
				 "%s", path);
	}
	if (greeting(fd, path, deadline, hello, e) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}
