/* session.c - talking to the agent over a connected channel: hello, invoke */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "json.h"
#include "session.h"
#include "sock.h"
#include "util.h"

/* Read the next frame, or fail at the deadline or when the VM dies. */
static int next_frame(struct session *s, int64_t deadline, struct frame *f,
		      struct fc_err *e)
{
	int done = 0;

	for (;;) {
		while (s->off < s->have) {
			long used = frame_feed(&s->rd, s->buf + s->off,
					       s->have - s->off, f, &done);
			if (used < 0)
				return fc_errnof(e, FC_EVMM, "agent channel");
			s->off += (size_t)used;
			if (done)
				return 0;
		}
		s->off = s->have = 0;
		int w = wait_readable(s->fd, s->watch_fd, deadline);
		if (w == 0)
			return fc_errf(e, FC_ETIMEOUT, "no answer from the agent in time");
		if (w == 2)
			return fc_errf(e, FC_EVMM, "the VM exited");
		ssize_t n = read(s->fd, s->buf, sizeof(s->buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fc_errnof(e, FC_EVMM, "agent channel");
		if (n == 0)
			return fc_errf(e, FC_EVMM, "the VM went away (its guest "
				      "rebooted, crashed or was stopped)");
		s->have = (size_t)n;
	}
}

/* errorType: errorMessage of a runtime error JSON, for one-line messages. */
static void describe_error(const char *json, size_t n, char *out, size_t size)
{
	struct json_doc d;
	struct fc_err ignore;
	char *type = NULL, *msg = NULL;

	snprintf(out, size, "%.*s", (int)(n > 200 ? 200 : n), json);
	if (json_parse(&d, json, n, "error", &ignore) < 0)
		return;
	int t = json_get(&d, 0, "errorType"), m = json_get(&d, 0, "errorMessage");
	type = t >= 0 ? json_str(&d, t) : NULL;
	msg = m >= 0 ? json_str(&d, m) : NULL;
	if (type)
		snprintf(out, size, "%s: %s", type, msg ? msg : "");
	free(type);
	free(msg);
	json_free(&d);
}

void session_init(struct session *s, int fd, int watch_fd)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->watch_fd = watch_fd;
}

void session_close(struct session *s)
{
	frame_reader_free(&s->rd);
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

int session_hello(struct session *s, int64_t deadline, int logfd,
		  struct buf *ready, struct fc_err *e)
{
	unsigned char ent[32], seed[8];
	char ent_hex[65], seed_hex[17], msg[512];
	struct buf h = { 0 };
	struct frame f;
	int rc = -1;

	if (random_bytes(ent, sizeof(ent)) < 0 || random_bytes(seed, sizeof(seed)) < 0)
		return fc_errnof(e, FC_EVMM, "getrandom");
	hex(ent_hex, ent, sizeof(ent));
	hex(seed_hex, seed, sizeof(seed));
	buf_printf(&h, "{\"time_ns\":%lld,\"entropy\":\"%s\",\"seed\":\"%s\"}",
		   (long long)wall_ns(), ent_hex, seed_hex);
	if (frame_write(s->fd, 'H', h.p, h.len) < 0) {
		buf_free(&h);
		return fc_errnof(e, FC_EVMM, "agent channel");
	}
	buf_free(&h);
	while (next_frame(s, deadline, &f, e) == 0) {
		if (f.type == 'R') {
			if (ready)
				buf_add(ready, f.data, f.len);
			rc = 0;
		} else if (f.type == 'F') {
			describe_error(f.data, f.len, msg, sizeof(msg));
			fc_errf(e, FC_EFUNC, "%s", msg);
		} else if (f.type == 'L') {
			if (logfd >= 0)
				write_all(logfd, f.data, f.len);
			frame_free(&f);
			continue;
		} else {
			fc_errf(e, FC_EVMM, "agent: unexpected frame '%c'", f.type);
		}
		frame_free(&f);
		break;
	}
	return rc;
}

static int send_invoke(int fd, const char *id, long timeout_ms, int warmup,
		       const char *event, size_t n, struct fc_err *e)
{
	struct buf head = { 0 };
	unsigned char hdr[FC_FRAME_HDR];
	int rc = 0;

	buf_puts(&head, "{\"id\":");
	buf_json_str(&head, id, strlen(id));
	buf_printf(&head, ",\"timeout_ms\":%ld,\"deadline_ms\":%lld,%s\"event\":",
		   timeout_ms, (long long)(wall_ns() / 1000000 + timeout_ms),
		   warmup ? "\"warmup\":true," : "");
	if (!head.p)
		return fc_errf(e, FC_EVMM, "out of memory");
	frame_hdr(hdr, 'I', (uint32_t)(head.len + n + 1));
	if (write_all(fd, hdr, sizeof(hdr)) < 0 ||
	    write_all(fd, head.p, head.len) < 0 ||
	    write_all(fd, event, n) < 0 || write_all(fd, "}", 1) < 0)
		rc = fc_errnof(e, FC_EVMM, "agent channel");
	buf_free(&head);
	return rc;
}

/* Does report f end invocation id? (Reports without an id: yes.) */
static int report_is_for(const struct frame *f, const char *id)
{
	const char *p = strstr(f->data, "\"id\":\"");
	size_t n = strlen(id);

	if (!p)
		return 1;
	p += 6;
	return strncmp(p, id, n) == 0 && p[n] == '"';
}

static void parse_report(const struct frame *f, struct result *r)
{
	const char *d = strstr(f->data, "\"duration_ns\":");
	const char *m = strstr(f->data, "\"max_memory_kb\":");

	if (d)
		r->duration_ns = strtoll(d + 14, NULL, 10);
	if (m)
		r->max_memory_kb = strtol(m + 16, NULL, 10);
}

static int invoke(struct session *s, const char *id, long timeout_ms,
		  int warmup, const char *event, size_t n, int64_t deadline,
		  int logfd, struct result *r, struct fc_err *e)
{
	struct frame f;
	int rc = -1;

	memset(r, 0, sizeof(*r));
	r->max_memory_kb = -1;
	if (send_invoke(s->fd, id, timeout_ms, warmup, event, n, e) < 0)
		return -1;
	while (next_frame(s, deadline, &f, e) == 0) {
		int type = f.type;
		if (type == 'L') {
			if (logfd >= 0)
				write_all(logfd, f.data, f.len);
		} else if (type == 'O' || type == 'E' || type == 'F') {
			free(r->body);
			r->kind = type;
			r->body = f.data;
			r->len = f.len;
			f.data = NULL;
		} else if (type == 'P' && !report_is_for(&f, id)) {
			/*
			 * The end of an invocation whose client went away
			 * (a handle shared over time): not ours, ours follows.
			 */
			free(r->body);
			r->body = NULL;
			type = 0;
		} else if (type == 'P') {
			parse_report(&f, r);
			rc = r->body ? 0 : fc_errf(e, FC_EVMM, "agent: report without a result");
		}
		frame_free(&f);
		if (type == 'P')
			break;
	}
	return rc;
}

int session_invoke(struct session *s, const char *id, long timeout_ms,
		   const char *event, size_t n, int64_t deadline, int logfd,
		   struct result *r, struct fc_err *e)
{
	return invoke(s, id, timeout_ms, 0, event, n, deadline, logfd, r, e);
}

int session_warmup(struct session *s, int count, int64_t deadline,
		   struct fc_err *e)
{
	struct result r;
	char id[32];

	for (int i = 0; i < count; i++) {
		snprintf(id, sizeof(id), "warmup-%d", i + 1);
		if (invoke(s, id, 10000, 1, "{}", 2, deadline, -1, &r, e) < 0)
			return -1;
		int kind = r.kind;
		char msg[512];
		if (kind != RESULT_OK)
			describe_error(r.body, r.len, msg, sizeof(msg));
		result_free(&r);
		if (kind != RESULT_OK)
			return fc_errf(e, FC_EFUNC, "warm-up: %s", msg);
	}
	return 0;
}

void result_free(struct result *r)
{
	free(r->body);
	r->body = NULL;
}

int result_is_timeout(const struct result *r)
{
	return r->kind == RESULT_FATAL && r->body &&
	       strstr(r->body, "\"Sandbox.Timedout\"") != NULL;
}
