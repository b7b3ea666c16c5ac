/* pool.c - warm VMs: restore, greet, hand out, retire, replace */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "poold.h"
#include "sock.h"
#include "util.h"

#define SEC 1000000000LL
/* How long a restored VM may take to answer the greeting (TCG is slow). */
#define READY_NS (60 * SEC)
/* The pool's own deadline for a P beyond the invocation's time-out. */
#define GRACE_NS (10 * SEC)
/* Failed restores are retried after 1 s, doubling up to 30 s. */
#define BACKOFF_MIN_NS (1 * SEC)
#define BACKOFF_MAX_NS (30 * SEC)

int pool_count(const struct function *fn, enum pvm_state s)
{
	int n = 0;

	for (const struct pvm *v = fn->vms; v; v = v->next)
		n += !v->dead && v->state == s;
	return n;
}

int pool_live(const struct function *fn)
{
	int n = 0;

	for (const struct pvm *v = fn->vms; v; v = v->next)
		n += !v->dead;
	return n;
}

/* The greeting: the host's clock and fresh entropy, as session_hello sends. */
static int hello_payload(struct buf *b)
{
	unsigned char ent[32], seed[8];
	char ent_hex[65], seed_hex[17];

	if (random_bytes(ent, sizeof(ent)) < 0 ||
	    random_bytes(seed, sizeof(seed)) < 0)
		return -1;
	hex(ent_hex, ent, sizeof(ent));
	hex(seed_hex, seed, sizeof(seed));
	return buf_printf(b, "{\"time_ns\":%lld,\"entropy\":\"%s\",\"seed\":\"%s\"}",
			  (long long)wall_ns(), ent_hex, seed_hex);
}

/* Queued requests get this error when no VM can be had. */
static void fail_queue(struct pool *p, struct function *fn, int code,
		       const char *msg)
{
	while (fn->qhead) {
		struct client *c = fn->qhead;
		client_unqueue(fn, c);
		fn->errors++;
		client_fail(p, c, code, msg);
	}
}

static void restore_failed(struct pool *p, struct function *fn,
			   const char *why)
{
	int64_t now = now_ns();
	char msg[512];

	fn->restore_failures++;
	snprintf(fn->last_error, sizeof(fn->last_error), "%s", why);
	fn->backoff_ns = fn->backoff_ns ? fn->backoff_ns * 2 : BACKOFF_MIN_NS;
	if (fn->backoff_ns > BACKOFF_MAX_NS)
		fn->backoff_ns = BACKOFF_MAX_NS;
	fn->backoff_until = now + fn->backoff_ns;
	say(LOG_ERROR, "%s: could not restore %s: %s; next try in %lld s",
	    fn->name, fn->snap.dir, why, (long long)(fn->backoff_ns / SEC));
	if (pool_live(fn) == 0) {
		snprintf(msg, sizeof(msg), "%s: could not restore a VM: %s",
			 fn->name, why);
		fail_queue(p, fn, FC_EVMM, msg);
	}
}

int pool_init(struct pool *p)
{
	if (pipe2(p->launched, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/* In a thread of its own: start the VMM and connect to the channel. */
static void *launch(void *arg)
{
	struct pvm *v = arg;
	struct pool *p = v->pool;

	v->launch_rc = restore_start(&v->fn->snap, &v->vm, "fc-poold",
				     &v->launch_err);
	if (v->launch_rc == 0) {
		v->launch_fd = v->vm.ops->connect(&v->vm, now_ns() + 5 * SEC,
						  &v->launch_err);
		if (v->launch_fd < 0) {
			vm_destroy(&v->vm);
			v->launch_rc = -1;
		}
	}
	/* A pointer is far below PIPE_BUF: the write is whole. */
	while (write(p->launched[1], &v, sizeof(v)) < 0 && errno == EINTR)
		;
	return NULL;
}

/* Start restoring one VM; the agent's R makes it IDLE. */
static struct pvm *vm_new(struct pool *p, struct function *fn)
{
	struct pvm *v = calloc(1, sizeof(*v));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (!v) {
		restore_failed(p, fn, "out of memory");
		return NULL;
	}
	v->fn = fn;
	v->pool = p;
	v->ch.fd = v->launch_fd = -1;
	v->vm.pid = v->vm.pidfd = v->vm.qmp_fd = -1;
	v->t_start = now_ns();
	v->id = ++p->next_vm_id;
	v->state = PVM_STARTING;
	v->launching = 1;
	v->next = fn->vms;
	fn->vms = v;
	fn->restores++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, launch, v);
	pthread_attr_destroy(&attr);
	if (rc != 0)
		launch(v);	/* no thread to be had: block instead */
	return v;
}

/*
 * Send H; sent again after 0.25, 0.5, 1... s without an R, for the reason
 * restore_greet gives (an R can be lost as the channel opens).
 */
static void greet(struct pool *p, struct pvm *v)
{
	struct buf hello = { 0 };

	v->hello_at = now_ns() + v->hello_wait;
	v->hello_wait *= 2;
	if (hello_payload(&hello) < 0 ||
	    conn_send(&v->ch, 'H', hello.p, hello.len) < 0) {
		fc_errnof(&v->launch_err, FC_EVMM, "greeting the agent");
		pool_retire(p, v, 0, NULL);
		restore_failed(p, v->fn, v->launch_err.msg);
	}
	buf_free(&hello);
}

/* A launch thread is done: greet the agent, or count a failed restore. */
static void launched(struct pool *p, struct pvm *v)
{
	struct function *fn = v->fn;

	v->launching = 0;
	if (v->launch_rc < 0) {
		v->dead = 1;
		restore_failed(p, fn, v->launch_err.msg);
		return;
	}
	say(LOG_DEBUG, "%s: restoring VM %d (pid %d): VMM started in %.1f ms",
	    fn->name, v->id, (int)v->vm.pid, (now_ns() - v->t_start) / 1e6);
	conn_init(&v->ch, v->launch_fd);
	v->deadline = now_ns() + READY_NS;
	v->hello_wait = RESTORE_HELLO_RETRY_NS;
	if (v->doomed)
		pool_retire(p, v, 0, NULL);
	else
		greet(p, v);
}

void pool_launched(struct pool *p)
{
	struct pvm *v;

	while (read(p->launched[0], &v, sizeof(v)) == sizeof(v))
		launched(p, v);
}

void pool_retire(struct pool *p, struct pvm *v, int code, const char *why)
{
	if (v->dead)
		return;
	if (v->launching) {
		v->doomed = 1;
		return;
	}
	v->dead = 1;
	if (v->state == PVM_BUSY) {
		if (code)
			v->fn->errors++;
		if (v->client && code) {
			v->client->vm = NULL;
			client_fail(p, v->client, code, why);
		}
		v->client = NULL;
	}
	conn_close(&v->ch);
	vm_destroy(&v->vm);
	say(LOG_DEBUG, "%s: stopped VM %d", v->fn->name, v->id);
}

/* The idle VM used last: keeps the others idle, so they can time out. */
static struct pvm *pick_idle(struct function *fn)
{
	struct pvm *best = NULL;

	for (struct pvm *v = fn->vms; v; v = v->next)
		if (!v->dead && v->state == PVM_IDLE &&
		    (!best || v->idle_since > best->idle_since))
			best = v;
	return best;
}

static long timeout_ms(const struct function *fn, const struct client *c)
{
	if (c->pr.timeout_ms)
		return c->pr.timeout_ms;
	if (fn->timeout_s)
		return fn->timeout_s * 1000;
	return (fn->snap.m.timeout > 0 ? fn->snap.m.timeout : 3) * 1000;
}

/* Send c's event to the idle VM v. */
static void vm_invoke(struct pool *p, struct pvm *v, struct client *c)
{
	struct function *fn = v->fn;
	struct buf head = { 0 };
	int64_t now = now_ns();
	long ms = timeout_ms(fn, c);

	v->state = PVM_BUSY;
	v->client = c;
	v->t_sent = now;
	v->queued_ns = now - c->t_arrived;
	v->deadline = now + ms * 1000000LL + GRACE_NS;
	v->fatal = v->result = 0;
	c->state = CL_RUNNING;
	c->vm = v;
	samples_add(&fn->wait_lat, v->queued_ns);

	buf_puts(&head, "{\"id\":");
	buf_json_str(&head, c->pr.id, strlen(c->pr.id));
	buf_printf(&head, ",\"timeout_ms\":%ld,\"deadline_ns\":%lld,\"event\":", ms,
		   (long long)(wall_ns() + ms * 1000000LL));
	const void *parts[3] = { head.p, c->req.data + c->pr.ev_off, "}" };
	size_t lens[3] = { head.len, c->pr.ev_len, 1 };
	if (!head.p || conn_sendv(&v->ch, 'I', parts, lens, 3) < 0)
		pool_retire(p, v, FC_EVMM, "lost the channel to the VM");
	else
		say(LOG_DEBUG, "%s: request %s on VM %d", fn->name, c->pr.id, v->id);
	buf_free(&head);
}

void pool_dispatch(struct pool *p, struct function *fn)
{
	struct pvm *v;

	while (fn->qhead && (v = pick_idle(fn))) {
		struct client *c = fn->qhead;
		client_unqueue(fn, c);
		vm_invoke(p, v, c);
	}
}

/* The agent's P plus the pool's own figures, for the client. */
static void send_report(struct pool *p, struct pvm *v, const struct frame *f)
{
	struct buf b = { 0 };
	const char *end = f->len ? strrchr(f->data, '}') : NULL;

	if (f->data && f->data[0] == '{' && end && end > f->data + 1)
		buf_printf(&b, "%.*s,", (int)(end - f->data), f->data);
	else
		buf_puts(&b, "{");
	buf_puts(&b, "\"function\":");
	buf_json_str(&b, v->fn->name, strlen(v->fn->name));
	buf_printf(&b, ",\"vm\":%d,\"memory_mib\":%ld,\"queued_ns\":%lld", v->id,
		   v->fn->snap.m.memory_mib, (long long)v->queued_ns);
	/* A request that waited for this VM's restore: a cold start. */
	if (v->invocations == 0 && v->client->t_arrived < v->t_ready)
		buf_printf(&b, ",\"restore_ns\":%lld", (long long)v->restore_ns);
	if (buf_puts(&b, "}") == 0)
		client_send(p, v->client, 'P', b.p, b.len);
	buf_free(&b);
}

/* A P ends the invocation: report, then keep the VM or retire it. */
static void vm_finished(struct pool *p, struct pvm *v, const struct frame *f)
{
	struct function *fn = v->fn;
	struct client *c = v->client;
	int64_t now = now_ns();

	samples_add(&fn->invoke_lat, now - v->t_sent);
	if (!v->result) {
		pool_retire(p, v, FC_EVMM, "the VM reported without a result");
		return;
	}
	fn->served++;
	if (v->result != 'O')
		fn->errors++;
	if (c) {
		send_report(p, v, f);
		c->vm = NULL;
		client_done(p, c);
	}
	v->client = NULL;
	v->invocations++;
	if (v->fatal) {
		say(LOG_INFO, "%s: VM %d %s; replacing it", fn->name, v->id,
		    v->fatal == 2 ? "timed out" : "lost its runtime");
		pool_retire(p, v, 0, NULL);
	} else if (fn->fresh || p->draining) {
		pool_retire(p, v, 0, NULL);
	} else {
		v->state = PVM_IDLE;
		v->idle_since = now;
	}
}

static void vm_ready(struct pool *p, struct pvm *v)
{
	struct function *fn = v->fn;
	int64_t now = now_ns();

	v->state = PVM_IDLE;
	v->idle_since = now;
	v->restore_ns = now - v->t_start;
	v->t_ready = now;
	samples_add(&fn->restore_lat, v->restore_ns);
	fn->backoff_ns = 0;
	say(LOG_VERBOSE, "%s: restored VM %d from %s in %.0f ms", fn->name, v->id,
	    fn->snap.dir, v->restore_ns / 1e6);
	if (p->draining)
		pool_retire(p, v, 0, NULL);
}

static void vm_frame(struct pool *p, struct pvm *v, struct frame *f)
{
	if (v->state == PVM_STARTING) {
		if (f->type == 'R') {
			vm_ready(p, v);
		} else if (f->type == 'F') {
			char why[300];
			snprintf(why, sizeof(why), "the function failed to start: %.200s",
				 f->data);
			pool_retire(p, v, 0, NULL);
			restore_failed(p, v->fn, why);
		}
		return;
	}
	if (v->state != PVM_BUSY)
		return;		/* late logs of an idle VM: nobody to send them to */
	switch (f->type) {
	case 'L':
		if (v->client)
			client_send(p, v->client, 'L', f->data, f->len);
		break;
	case 'F':
		v->fatal = strstr(f->data, "\"Sandbox.Timedout\"") ? 2 : 1;
		__attribute__((fallthrough));
	case 'O':
	case 'E':
		v->result = f->type;
		if (v->client)
			client_send(p, v->client, f->type, f->data, f->len);
		break;
	case 'P':
		vm_finished(p, v, f);
		break;
	}
}

/* Why the VMM is gone, waiting briefly for its exit to be seen. */
static void exit_reason(struct pvm *v, struct fc_err *e)
{
	if (v->vm.pidfd >= 0)
		wait_readable(v->vm.pidfd, -1, now_ns() + SEC / 10);
	if (!vm_exited(&v->vm, e))
		fc_errf(e, FC_EVMM, "the channel to the VM closed");
}

static void vm_lost(struct pool *p, struct pvm *v)
{
	struct fc_err e = { 0 };
	const char *why = e.msg;
	char msg[1200];
	pid_t pid = v->vm.pid;

	exit_reason(v, &e);
	if (v->state == PVM_STARTING) {
		pool_retire(p, v, 0, NULL);
		restore_failed(p, v->fn, why);
		return;
	}
	say(LOG_INFO, "%s: VM %d (pid %d) died%s: %s; replacing it", v->fn->name,
	    v->id, (int)pid, v->state == PVM_BUSY ? " during a request" : "",
	    why);
	snprintf(msg, sizeof(msg), "%s: the VM serving the request died: %s",
		 v->fn->name, why);
	pool_retire(p, v, FC_EVMM, msg);
}

void pool_vm_readable(struct pool *p, struct pvm *v)
{
	struct frame f;
	int r = conn_fill(&v->ch);

	if (r == 2)
		return;
	if (r <= 0) {
		vm_lost(p, v);
		return;
	}
	while ((r = conn_frame(&v->ch, &f)) == 1) {
		vm_frame(p, v, &f);
		frame_free(&f);
		if (v->dead)
			return;
	}
	if (r < 0) {
		say(LOG_ERROR, "%s: VM %d sent garbled frames; replacing it",
		    v->fn->name, v->id);
		pool_retire(p, v, FC_EVMM, "the VM broke the protocol");
	}
}

void pool_vm_exited(struct pool *p, struct pvm *v)
{
	vm_lost(p, v);
}

void pool_vm_flush(struct pool *p, struct pvm *v)
{
	if (conn_flush(&v->ch) < 0)
		vm_lost(p, v);
}

/* Keep between min and max VMs: enough for the requests waiting. */
void pool_balance(struct pool *p, struct function *fn, int64_t now)
{
	int live = pool_live(fn), starting = pool_count(fn, PVM_STARTING);
	int want;

	if (p->draining)
		return;
	for (struct pvm *v = fn->vms; v && live > fn->min; v = v->next) {
		if (!v->dead && v->state == PVM_IDLE &&
		    now - v->idle_since >= fn->idle_s * SEC) {
			say(LOG_VERBOSE, "%s: stopping VM %d, idle for %ld s",
			    fn->name, v->id, fn->idle_s);
			pool_retire(p, v, 0, NULL);
			live--;
		}
	}
	want = fn->min - live;
	if (fn->queued - starting > want)
		want = fn->queued - starting;
	if (want > fn->max - live)
		want = fn->max - live;
	if (now < fn->backoff_until)
		return;
	while (want-- > 0 && vm_new(p, fn))
		;
}

void pool_tick(struct pool *p, int64_t now)
{
	for (struct function *fn = p->fns; fn; fn = fn->next) {
		for (struct pvm *v = fn->vms; v; v = v->next) {
			if (!v->dead && !v->launching && v->state == PVM_STARTING &&
			    now >= v->hello_at && now < v->deadline)
				greet(p, v);
			if (v->dead || v->launching || now < v->deadline ||
			    (v->state != PVM_STARTING && v->state != PVM_BUSY))
				continue;
			if (v->state == PVM_STARTING) {
				pool_retire(p, v, 0, NULL);
				restore_failed(p, fn, "the restored VM did not answer in time");
				continue;
			}
			say(LOG_INFO, "%s: VM %d did not answer in time; replacing it",
			    fn->name, v->id);
			pool_retire(p, v, FC_ETIMEOUT, "the VM did not answer in time");
		}
		pool_dispatch(p, fn);
		pool_balance(p, fn, now);
		pool_dispatch(p, fn);
	}
}

static void earliest(int64_t *t, int64_t when)
{
	if (!*t || when < *t)
		*t = when;
}

int64_t pool_next_timer(const struct pool *p, int64_t now)
{
	int64_t t = p->draining ? p->drain_deadline : 0;

	for (const struct function *fn = p->fns; fn; fn = fn->next) {
		int live = pool_live(fn);
		for (const struct pvm *v = fn->vms; v; v = v->next) {
			if (v->dead)
				continue;
			if (v->launching)
				continue;
			if (v->state != PVM_IDLE)
				earliest(&t, v->deadline);
			if (v->state == PVM_STARTING)
				earliest(&t, v->hello_at);
			else if (live > fn->min)
				earliest(&t, v->idle_since + fn->idle_s * SEC);
		}
		if (fn->backoff_until > now && (fn->queued || live < fn->min))
			earliest(&t, fn->backoff_until);
	}
	return t;
}

void pool_drain(struct pool *p, int now_too)
{
	p->draining = 1;
	for (struct function *fn = p->fns; fn; fn = fn->next) {
		fail_queue(p, fn, FC_EVMM, "fc-poold is shutting down");
		for (struct pvm *v = fn->vms; v; v = v->next)
			if (!v->dead && (v->state != PVM_BUSY || now_too))
				pool_retire(p, v, FC_EVMM, "fc-poold was stopped");
	}
	for (struct client *c = p->clients; c; c = c->next)
		if (c->state == CL_IDLE)
			c->closing = 1;
}

int pool_busy(const struct pool *p)
{
	for (const struct function *fn = p->fns; fn; fn = fn->next)
		if (pool_live(fn))
			return 1;
	return 0;
}

void pool_sweep(struct pool *p)
{
	for (struct function *fn = p->fns; fn; fn = fn->next) {
		for (struct pvm **pv = &fn->vms; *pv;) {
			struct pvm *v = *pv;
			if (!v->dead || v->launching) {
				pv = &v->next;
				continue;
			}
			*pv = v->next;
			free(v);
		}
	}
	for (struct client **pc = &p->clients; *pc;) {
		struct client *c = *pc;
		if (!c->dead) {
			pc = &c->next;
			continue;
		}
		*pc = c->next;
		free(c);
	}
}
