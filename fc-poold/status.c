/* status.c - what the pool is doing, in figures: JSON and a log summary */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "poold.h"
#include "util.h"

void samples_add(struct samples *s, int64_t v)
{
	s->v[s->n % SAMPLES_MAX] = v;
	s->n++;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* p50, p90, p99 and max of the samples held, in ms; all 0 when none. */
static void percentiles(const struct samples *s, double out[4])
{
	static int64_t v[SAMPLES_MAX];
	long n = s->n < SAMPLES_MAX ? s->n : SAMPLES_MAX;
	static const double q[3] = { 0.50, 0.90, 0.99 };

	memset(out, 0, 4 * sizeof(*out));
	if (n == 0)
		return;
	memcpy(v, s->v, (size_t)n * sizeof(*v));
	qsort(v, (size_t)n, sizeof(*v), cmp64);
	for (int i = 0; i < 3; i++) {
		long k = (long)(q[i] * (double)n + 0.999999) - 1;
		out[i] = v[k < 0 ? 0 : k] / 1e6;
	}
	out[3] = v[n - 1] / 1e6;
}

static void put_latency(struct buf *b, const char *key, const struct samples *s)
{
	double p[4];

	percentiles(s, p);
	buf_printf(b, ",\"%s\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"max\":%.2f,"
		   "\"samples\":%ld}", key, p[0], p[1], p[2], p[3], s->n);
}

/* Private memory of a process (Private_* of smaps_rollup), kB; -1 unknown. */
static long private_kb(pid_t pid)
{
	char path[64], line[256];
	long kb, sum = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Private_%*[A-Za-z]: %ld kB", &kb) == 1)
			sum = (sum < 0 ? 0 : sum) + kb;
	fclose(f);
	return sum;
}

static const char *state_name(const struct pvm *v)
{
	switch (v->state) {
	case PVM_STARTING: return "starting";
	case PVM_IDLE: return "idle";
	case PVM_BUSY: return "busy";
	}
	return "?";
}

static void put_vms(struct buf *b, const struct function *fn)
{
	int first = 1;

	buf_puts(b, ",\"vms\":[");
	for (const struct pvm *v = fn->vms; v; v = v->next) {
		if (v->dead)
			continue;
		buf_printf(b, "%s{\"id\":%d,\"pid\":%d,\"state\":\"%s\","
			   "\"invocations\":%ld,\"private_kb\":%ld}", first ? "" : ",",
			   v->id, v->launching ? 0 : (int)v->vm.pid, state_name(v),
			   v->invocations, v->launching ? -1 : private_kb(v->vm.pid));
		first = 0;
	}
	buf_puts(b, "]");
}

static void put_function(struct buf *b, const struct function *fn)
{
	buf_puts(b, "{\"name\":");
	buf_json_str(b, fn->name, strlen(fn->name));
	buf_puts(b, ",\"snapshot\":");
	buf_json_str(b, fn->snap.dir, strlen(fn->snap.dir));
	buf_printf(b, ",\"min\":%d,\"max\":%d,\"queue\":%d,\"idle_s\":%ld,"
		   "\"fresh\":%s,\"warm\":%d,\"busy\":%d,\"starting\":%d,"
		   "\"queued\":%d,\"served\":%ld,\"errors\":%ld,\"throttled\":%ld,"
		   "\"restores\":%ld,\"restore_failures\":%ld",
		   fn->min, fn->max, fn->queue, fn->idle_s,
		   fn->fresh ? "true" : "false", pool_count(fn, PVM_IDLE),
		   pool_count(fn, PVM_BUSY), pool_count(fn, PVM_STARTING),
		   fn->queued, fn->served, fn->errors, fn->throttled, fn->restores,
		   fn->restore_failures);
	put_latency(b, "restore_ms", &fn->restore_lat);
	put_latency(b, "invoke_ms", &fn->invoke_lat);
	put_latency(b, "wait_ms", &fn->wait_lat);
	if (fn->last_error[0]) {
		buf_puts(b, ",\"last_error\":");
		buf_json_str(b, fn->last_error, strlen(fn->last_error));
	}
	put_vms(b, fn);
	buf_puts(b, "}");
}

int status_json(const struct pool *p, struct buf *out)
{
	buf_printf(out, "{\"server\":\"%s\",\"version\":\"%s\",\"pid\":%d,"
		   "\"socket\":", POOL_SERVER, FC_VERSION, (int)getpid());
	buf_json_str(out, p->socket, strlen(p->socket));
	buf_printf(out, ",\"uptime_s\":%.1f,\"draining\":%s,\"functions\":[",
		   (now_ns() - p->started) / 1e9, p->draining ? "true" : "false");
	for (const struct function *fn = p->fns; fn; fn = fn->next) {
		put_function(out, fn);
		if (fn->next)
			buf_puts(out, ",");
	}
	return buf_puts(out, "]}");
}

void status_log(const struct pool *p)
{
	double r[4], i[4];

	for (const struct function *fn = p->fns; fn; fn = fn->next) {
		percentiles(&fn->restore_lat, r);
		percentiles(&fn->invoke_lat, i);
		say(LOG_ERROR, "%s: %d warm, %d busy, %d starting, %d waiting; "
		    "served %ld, %ld errors, %ld throttled; restore p50 %.0f ms, "
		    "p99 %.0f ms; invocation p50 %.1f ms, p99 %.1f ms", fn->name,
		    pool_count(fn, PVM_IDLE), pool_count(fn, PVM_BUSY),
		    pool_count(fn, PVM_STARTING), fn->queued, fn->served,
		    fn->errors, fn->throttled, r[0], r[2], i[0], i[2]);
	}
}
