/* client.c - connections to the pool's socket: requests in, answers out */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "poold.h"
#include "util.h"

/* A client that reads slower than its function logs is dropped past this. */
#define CLIENT_BACKLOG_MAX (64u << 20)

static void client_gone(struct pool *p, struct client *c)
{
	if (c->dead)
		return;
	if (c->state == CL_QUEUED)
		client_unqueue(c->fn, c);
	if (c->state == CL_RUNNING && c->vm)
		c->vm->client = NULL;	/* the VM finishes, then serves others */
	c->dead = 1;
	frame_free(&c->req);
	conn_close(&c->c);
}

void client_send(struct pool *p, struct client *c, char type, const void *data,
		 size_t n)
{
	if (c->dead)
		return;
	if (conn_send(&c->c, type, data, n) < 0) {
		client_gone(p, c);
	} else if (conn_pending(&c->c) > CLIENT_BACKLOG_MAX) {
		say(LOG_INFO, "dropping a client that does not read its answers");
		client_gone(p, c);
	}
}

void client_done(struct pool *p, struct client *c)
{
	frame_free(&c->req);
	c->state = CL_IDLE;
	c->vm = NULL;
	if (p->draining)
		c->closing = 1;
	if (c->closing && !c->dead && conn_pending(&c->c) == 0)
		client_gone(p, c);
}

void client_fail(struct pool *p, struct client *c, int code, const char *msg)
{
	struct buf b = { 0 };

	if (poolproto_error(&b, code, msg) == 0)
		client_send(p, c, 'X', b.p, b.len);
	buf_free(&b);
	client_done(p, c);
}

void client_unqueue(struct function *fn, struct client *c)
{
	struct client **q = &fn->qhead, *prev = NULL;

	for (; *q && *q != c; q = &(*q)->qnext)
		prev = *q;
	if (!*q)
		return;
	*q = c->qnext;
	if (fn->qtail == c)
		fn->qtail = prev;
	c->qnext = NULL;
	fn->queued--;
	c->state = CL_IDLE;
}

static void greet(struct pool *p, struct client *c)
{
	struct buf b = { 0 };

	buf_printf(&b, "{\"server\":\"%s\",\"version\":\"%s\",\"protocol\":%d,"
		   "\"functions\":[", POOL_SERVER, FC_VERSION, POOL_PROTOCOL);
	for (struct function *fn = p->fns; fn; fn = fn->next) {
		buf_json_str(&b, fn->name, strlen(fn->name));
		if (fn->next)
			buf_puts(&b, ",");
	}
	if (buf_puts(&b, "]}") == 0)
		client_send(p, c, 'R', b.p, b.len);
	buf_free(&b);
}

void client_accept(struct pool *p)
{
	for (;;) {
		int fd = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && errno == EINTR)
			continue;
		if (fd < 0 && (errno == EMFILE || errno == ENFILE)) {
			/* Clients wait in the backlog until descriptors free up. */
			say(LOG_ERROR, "%s: accept: %s", p->socket, strerror(errno));
			p->accept_after = now_ns() + 100000000LL;
		} else if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			say(LOG_ERROR, "%s: accept: %s", p->socket, strerror(errno));
		}
		if (fd < 0)
			return;
		struct client *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			say(LOG_ERROR, "out of memory for a client");
			return;
		}
		conn_init(&c->c, fd);
		c->next = p->clients;
		p->clients = c;
		greet(p, c);
	}
}

/* The function a request names, or the only one; NULL with a message. */
static struct function *find_function(struct pool *p, const char *name,
				      char *msg, size_t n)
{
	struct buf names = { 0 };

	for (struct function *fn = p->fns; fn; fn = fn->next) {
		if (name[0] ? strcmp(fn->name, name) == 0 : p->nfns == 1)
			return fn;
		buf_printf(&names, "%s%s", names.len ? ", " : "", fn->name);
	}
	if (name[0])
		snprintf(msg, n, "no function named '%s' here (serving %s)", name,
			 names.p ? names.p : "none");
	else
		snprintf(msg, n, "name a function: this pool serves %s",
			 names.p ? names.p : "none");
	buf_free(&names);
	return NULL;
}

/* Take an I frame: queue it, or answer at once (bad, throttled). */
static void request(struct pool *p, struct client *c, struct frame *f)
{
	struct fc_err e = { 0 };
	struct function *fn;
	char msg[400];

	if (poolproto_parse(f->data, f->len, &c->pr, &e) < 0) {
		client_fail(p, c, FC_EINPUT, e.msg);
		return;
	}
	if (!(fn = find_function(p, c->pr.function, msg, sizeof(msg)))) {
		client_fail(p, c, FC_EINPUT, msg);
		return;
	}
	if (p->draining) {
		client_fail(p, c, FC_EVMM, "fc-poold is shutting down");
		return;
	}
	if (pool_live(fn) == 0 && now_ns() < fn->backoff_until) {
		/* No VM, and none until the next try: say why now. */
		fn->errors++;
		snprintf(msg, sizeof(msg), "%s: could not restore a VM: %s", fn->name,
			 fn->last_error);
		client_fail(p, c, FC_EVMM, msg);
		return;
	}
	int busy = pool_count(fn, PVM_BUSY);
	if (busy + fn->queued >= fn->max + fn->queue) {
		fn->throttled++;
		snprintf(msg, sizeof(msg), "%s: throttled: %d running and %d waiting "
			 "(at most %d and %d)", fn->name, busy, fn->queued, fn->max,
			 fn->queue);
		say(LOG_VERBOSE, "%s", msg);
		client_fail(p, c, FC_ETHROTTLED, msg);
		return;
	}
	if (!c->pr.id[0])
		uuid4(c->pr.id);
	c->req = *f;
	f->data = NULL;
	c->fn = fn;
	c->t_arrived = now_ns();
	c->state = CL_QUEUED;
	if (fn->qtail)
		fn->qtail->qnext = c;
	else
		fn->qhead = c;
	fn->qtail = c;
	fn->queued++;
	pool_dispatch(p, fn);
}

static void on_frame(struct pool *p, struct client *c, struct frame *f)
{
	char msg[80];

	if (f->type == 'S') {
		struct buf b = { 0 };
		if (status_json(p, &b) == 0)
			client_send(p, c, 'S', b.p, b.len);
		buf_free(&b);
	} else if (f->type == 'I' && c->state == CL_IDLE) {
		request(p, c, f);
	} else {
		if (f->type == 'I')
			snprintf(msg, sizeof(msg), "one request at a time on a connection");
		else
			snprintf(msg, sizeof(msg), "unexpected frame '%c'", f->type);
		c->closing = 1;
		if (c->state == CL_IDLE)
			client_fail(p, c, FC_EINPUT, msg);
	}
}

void client_readable(struct pool *p, struct client *c)
{
	struct frame f;
	int r = conn_fill(&c->c);

	if (r == 2)
		return;
	if (r == 0 && c->state != CL_IDLE && !c->eof) {
		/* Half-closed after its request: still owed the answer. */
		c->eof = c->closing = 1;
		return;
	}
	if (r <= 0) {
		client_gone(p, c);
		return;
	}
	while (!c->dead && (r = conn_frame(&c->c, &f)) == 1) {
		on_frame(p, c, &f);
		frame_free(&f);
	}
	if (r < 0 && !c->dead) {
		c->closing = 1;
		if (c->state == CL_IDLE)
			client_fail(p, c, FC_EINPUT, "bad request: not fc-poold's framing");
		else
			client_gone(p, c);
	}
}

void client_flush(struct pool *p, struct client *c)
{
	if (conn_flush(&c->c) < 0)
		client_gone(p, c);
	else if (c->closing && c->state == CL_IDLE && conn_pending(&c->c) == 0)
		client_gone(p, c);
}
