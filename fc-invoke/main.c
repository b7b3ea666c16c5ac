/* fc-invoke - run one invocation of a function and print its response */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "frame.h"
#include "handle.h"
#include "json.h"
#include "poolproto.h"
#include "restore.h"
#include "session.h"
#include "sock.h"
#include "util.h"
#include "vmm.h"

static const char *prog = "fc-invoke";

/* How deeply an event may nest; V8's JSON.parse manages far more. */
#define EVENT_DEPTH POOL_EVENT_DEPTH

/* How long a pool may take to greet us. */
#define GREETING_NS 10000000000LL

/* What the target names; fc-invoke tells them apart by looking. */
enum target { SNAPSHOT, HANDLE, POOL };

struct opts {
	const char *target, *event_file, *request_id, *function;
	long timeout;		/* seconds; 0: the function's own */
	int quiet, verbose;
};

/* What the REPORT line says besides the result's own figures. */
struct report {
	const char *id;
	long memory_mib;
	double restore_ms;	/* < 0: no restore for this invocation */
};

static volatile pid_t vmm_pid = -1;
static volatile sig_atomic_t stop_signal, has_files;

/*
 * Before any VM or file exists there is nothing to undo: leave at once
 * (a read from stdin would otherwise go on). After, stop the VM and let
 * the normal error path clean up.
 */
static void on_stop(int sig)
{
	stop_signal = sig;
	if (vmm_pid > 0)
		kill(vmm_pid, SIGKILL);
	else if (!has_files)
		_exit(128 + sig);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fc-invoke [-qv] [-t seconds] [-r id] [-f function] target\n"
		"                 [event-file]\n"
		"Invoke a function with a JSON event (from event-file or stdin) and\n"
		"print its response. target is a snapshot directory (fc-snap), the\n"
		"handle of a running VM (fc-restore) or a pool's socket (fc-poold).\n\n"
		"  -t, --timeout SEC     override the function's time-out\n"
		"  -r, --request-id ID   use ID as the request id\n"
		"  -f, --function NAME   the pool's function to invoke\n"
		"  -q, --quiet           no REPORT line\n"
		"  -v, --verbose         say what happens\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "function", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "request-id", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "f:t:r:qvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!poolproto_name_ok(optarg)) {
				fprintf(stderr, "%s: invalid function name '%s'\n",
					prog, optarg);
				return -1;
			}
			o->function = optarg;
			break;
		case 't':
			errno = 0;
			o->timeout = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || o->timeout < 1 ||
			    o->timeout > 900) {
				fprintf(stderr, "%s: invalid time-out '%s' (1 to 900 seconds)\n",
					prog, optarg);
				return -1;
			}
			break;
		case 'r':
			if (!poolproto_id_ok(optarg, strlen(optarg))) {
				fprintf(stderr, "%s: invalid request id '%s' (1 to 64 "
					"letters, digits, '.', '_', ':' or '-')\n", prog, optarg);
				return -1;
			}
			o->request_id = optarg;
			break;
		case 'q': o->quiet = 1; break;
		case 'v': o->verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s %s\n", prog, FC_VERSION); exit(0);
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			return -1;
		}
	}
	if (optind == argc || argc - optind > 2) {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n", prog,
			optind == argc ? "no target given" : "too many arguments", prog);
		return -1;
	}
	o->target = argv[optind];
	o->event_file = optind + 1 < argc ? argv[optind + 1] : NULL;
	return 0;
}

/* Read and check the event before any VM starts. */
static int read_event(const struct opts *o, char **ev, size_t *n,
		      struct fc_err *e)
{
	const char *what = o->event_file ? o->event_file : "stdin";
	int fd = 0;

	if (o->event_file && strcmp(o->event_file, "-") != 0) {
		fd = open(o->event_file, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return fc_errnof(e, FC_EINPUT, "%s", o->event_file);
	}
	int rc = read_fd(fd, FC_PAYLOAD_MAX, what, ev, n, e);
	if (fd > 0)
		close(fd);
	if (rc < 0) {
		if (e->code == FC_EINPUT && strstr(e->msg, "large"))
			fc_errf(e, FC_EINPUT, "%s: event is larger than %d bytes",
				what, FC_PAYLOAD_MAX);
		return -1;
	}
	return json_validate(*ev, *n, EVENT_DEPTH, what, e);
}

static void print_report(const struct opts *o, const struct report *rep,
			 const struct result *r)
{
	double ms = r->duration_ns / 1e6;
	long billed = (long)ms + 1;

	if (o->quiet)
		return;
	fprintf(stderr, "REPORT RequestId: %s\tDuration: %.2f ms\t"
		"Billed Duration: %ld ms\tMemory Size: %ld MB\t"
		"Max Memory Used: %ld MB", rep->id, ms, billed, rep->memory_mib,
		r->max_memory_kb >= 0 ? (r->max_memory_kb + 1023) / 1024 : 0);
	if (rep->restore_ms >= 0)
		fprintf(stderr, "\tRestore Duration: %.2f ms", rep->restore_ms);
	fputc('\n', stderr);
}

/* Print the outcome; the exit code says which kind it was. */
static int emit(struct result *r)
{
	if (r->len > FC_PAYLOAD_MAX) {
		/* The runtime enforces this too; a VM is not to be trusted. */
		char *b;
		if (asprintf(&b, "{\"errorType\":\"Function.ResponseSizeTooLarge\","
			     "\"errorMessage\":\"Response payload size (%zu bytes) exceeded "
			     "maximum allowed payload size (%d bytes).\",\"trace\":[]}",
			     r->len, FC_PAYLOAD_MAX) < 0)
			return FC_EVMM;
		free(r->body);
		r->body = b;
		r->len = strlen(b);
		r->kind = RESULT_ERROR;
	}
	fwrite(r->body, 1, r->len, stdout);
	fputc('\n', stdout);
	if (fflush(stdout) == EOF && errno != EPIPE) {
		/* The response is lost: say so, whatever the function did. */
		fprintf(stderr, "%s: stdout: %s\n", prog, strerror(errno));
		return FC_EVMM;
	}
	if (r->kind == RESULT_OK)
		return FC_OK;
	return result_is_timeout(r) ? FC_ETIMEOUT : FC_EFUNC;
}

static void request_id(const struct opts *o, char id[POOL_NAME_MAX + 1])
{
	if (o->request_id)
		snprintf(id, POOL_NAME_MAX + 1, "%s", o->request_id);
	else
		uuid4(id);
}

/* Invoke on a greeted session, print the outcome and the REPORT line. */
static int invoke_on(const struct opts *o, struct session *s, long timeout,
		     const char *ev, size_t n, struct report *rep,
		     struct fc_err *e)
{
	struct result r = { 0 };
	char id[POOL_NAME_MAX + 1];
	int rc;

	request_id(o, id);
	rep->id = id;
	/* The agent enforces the time-out; this deadline is a backstop. */
	int64_t deadline = now_ns() + (timeout + 10) * 1000000000LL;
	if (session_invoke(s, id, timeout * 1000, ev, n, deadline, 2, &r, e) < 0)
		return -1;
	rc = emit(&r);
	print_report(o, rep, &r);
	result_free(&r);
	return rc;
}

/* Restore a VM from the snapshot, invoke once, tear it down. */
static int invoke_snapshot(const struct opts *o, const char *ev, size_t n,
			   struct fc_err *e)
{
	struct snapshot snap;
	struct vm vm = { .pid = -1, .pidfd = -1, .qmp_fd = -1 };
	struct session s = { .fd = -1 };
	struct report rep;
	int64_t t0 = now_ns();
	int rc = -1;

	if (restore_open(&snap, o->target, e) < 0)
		return -1;
	snap.die_with_parent = 1;	/* a killed fc-invoke leaves no VM */
	has_files = 1;	/* from here a signal must let the cleanup run */
	if (restore_start(&snap, &vm, prog, e) < 0)
		goto out;
	vmm_pid = vm.pid;
	if (stop_signal ||
	    restore_ready(&vm, &s, now_ns() + 30000000000LL, 2, e) < 0)
		goto out;
	rep.restore_ms = (now_ns() - t0) / 1e6;
	rep.memory_mib = snap.m.memory_mib;
	if (o->verbose)
		fprintf(stderr, "%s: restored %s in %.0f ms\n", prog, o->target,
			rep.restore_ms);
	rc = invoke_on(o, &s, o->timeout ? o->timeout :
		       snap.m.timeout > 0 ? snap.m.timeout : 3, ev, n, &rep, e);
out:
	if (rc < 0 && stop_signal)
		fc_errf(e, FC_EVMM, "interrupted");
	vmm_pid = -1;
	session_close(&s);
	vm_destroy(&vm);
	restore_close(&snap);
	return rc;
}

/* Invoke on a running VM by its handle; the VM runs on afterwards. */
static int invoke_handle(const struct opts *o, const struct handle *h,
			 const char *ev, size_t n, struct fc_err *e)
{
	struct vm vm;
	struct session s = { .fd = -1 };
	struct report rep = { .memory_mib = h->memory_mib, .restore_ms = -1 };
	long timeout = o->timeout ? o->timeout : h->timeout > 0 ? h->timeout : 3;
	/* Another client may hold the channel: wait for its invocation too. */
	int64_t deadline = now_ns() + (timeout + 30) * 1000000000LL;
	int rc = -1, fd;

	if (handle_attach(h, &vm, e) < 0)
		return -1;
	if ((fd = vm.ops->connect(&vm, deadline, e)) < 0)
		goto out;
	session_init(&s, fd, vm.pidfd);
	if (restore_greet(&s, deadline, 2, e) < 0)
		goto out;
	if (o->verbose)
		fprintf(stderr, "%s: connected to the VM (pid %d)\n", prog, (int)h->pid);
	rc = invoke_on(o, &s, timeout, ev, n, &rep, e);
out:
	/* The channel closes as the VMM dies: say which it was. */
	if (rc < 0 && e->code == FC_EVMM && vm.pidfd >= 0 &&
	    wait_readable(vm.pidfd, -1, now_ns() + 200000000LL) == 1)
		fc_errf(e, FC_EVMM, "the VM (pid %d) exited", (int)h->pid);
	else if (rc < 0 && e->code == FC_EVMM)
		fc_errctx(e, "the VM (pid %d)", (int)h->pid);
	session_close(&s);
	handle_detach(&vm);
	return rc;
}

/* The figures of a pool's P frame. */
static void pool_report(const struct frame *f, struct result *r,
			struct report *rep)
{
	struct json_doc d;
	struct fc_err ignore;
	long long v;

	if (json_parse(&d, f->data, f->len, "report", &ignore) < 0)
		return;
	int i = json_get(&d, 0, "duration_ns");
	if (i >= 0 && json_int(&d, i, &v) == 0)
		r->duration_ns = v;
	if ((i = json_get(&d, 0, "max_memory_kb")) >= 0 && json_int(&d, i, &v) == 0)
		r->max_memory_kb = (long)v;
	if ((i = json_get(&d, 0, "memory_mib")) >= 0 && json_int(&d, i, &v) == 0)
		rep->memory_mib = (long)v;
	if ((i = json_get(&d, 0, "restore_ns")) >= 0 && json_int(&d, i, &v) == 0)
		rep->restore_ms = v / 1e6;
	json_free(&d);
}

/* Read the pool's answer: logs, a result and a report, or an X error. */
static int pool_answer(int fd, struct result *r, struct report *rep,
		       struct fc_err *e)
{
	struct frame f;
	int got;

	while ((got = frame_read(fd, &f)) == 1) {
		char type = f.type;
		if (type == 'L') {
			write_all(2, f.data, f.len);
		} else if (type == 'O' || type == 'E' || type == 'F') {
			free(r->body);
			r->kind = type;
			r->body = f.data;
			r->len = f.len;
			f.data = NULL;
		} else if (type == 'P') {
			pool_report(&f, r, rep);
		} else if (type == 'X') {
			poolproto_read_error(f.data, f.len, e);
		}
		frame_free(&f);
		if (type == 'X')
			return -1;
		if (type == 'P')
			return r->body ? 0 : fc_errf(e, FC_EVMM, "report without a result");
	}
	if (got == 0)
		return fc_errf(e, FC_EVMM, "the pool closed the connection");
	return fc_errnof(e, FC_EVMM, "pool connection");
}

/* Send the event to a pool and wait for its answer. */
static int invoke_pool(const struct opts *o, const char *ev, size_t n,
		       struct fc_err *e)
{
	struct buf req = { 0 };
	struct result r = { .max_memory_kb = -1 };
	struct report rep = { .restore_ms = -1 };
	char id[POOL_NAME_MAX + 1];
	int fd, rc = -1;

	fd = poolproto_connect(o->target, now_ns() + GREETING_NS, NULL, e);
	if (fd < 0)
		return -1;
	request_id(o, id);
	rep.id = id;
	if (poolproto_request(&req, o->function, id, o->timeout * 1000, ev, n) < 0) {
		fc_errf(e, FC_EVMM, "out of memory");
	} else if (frame_write(fd, 'I', req.p, req.len) < 0) {
		fc_errnof(e, FC_EVMM, "%s", o->target);
	} else if (pool_answer(fd, &r, &rep, e) == 0) {
		rc = emit(&r);
		print_report(o, &rep, &r);
	}
	close(fd);
	buf_free(&req);
	result_free(&r);
	return rc;
}

/* What kind of target this is; a handle is loaded into h. */
static int classify(const struct opts *o, struct handle *h, struct fc_err *e)
{
	struct stat st;

	if (handle_like(o->target))
		return handle_load(h, o->target, e) < 0 ? -1 : HANDLE;
	if (stat(o->target, &st) < 0)
		return fc_errnof(e, FC_EINPUT, "%s", o->target);
	if (S_ISDIR(st.st_mode))
		return SNAPSHOT;
	if (S_ISSOCK(st.st_mode))
		return POOL;
	return fc_errf(e, FC_EINPUT, "%s: not a snapshot directory, a VM handle "
		       "or a pool socket", o->target);
}

static int run(const struct opts *o, struct fc_err *e)
{
	struct sigaction sa = { .sa_handler = on_stop };
	struct handle h = { 0 };
	char *ev = NULL;
	size_t n = 0;
	int kind, rc = -1;

	if ((kind = classify(o, &h, e)) < 0)
		return -1;
	if (o->function && kind != POOL) {
		fc_errf(e, FC_EUSAGE, "--function needs a pool socket as target");
	} else if (read_event(o, &ev, &n, e) == 0) {
		switch (kind) {
		case SNAPSHOT:
			/* The VM is ours: stop it on the way out. */
			sigaction(SIGINT, &sa, NULL);
			sigaction(SIGTERM, &sa, NULL);
			sigaction(SIGHUP, &sa, NULL);
			rc = invoke_snapshot(o, ev, n, e);
			break;
		case HANDLE:
			rc = invoke_handle(o, &h, ev, n, e);
			break;
		case POOL:
			rc = invoke_pool(o, ev, n, e);
			break;
		}
	}
	free(ev);
	handle_free(&h);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct fc_err e = { 0 };
	int rc;

	if (std_fds_open() < 0)
		return FC_EVMM;

	if (parse_opts(argc, argv, &o) < 0)
		return FC_EUSAGE;
	signal(SIGPIPE, SIG_IGN);
	rc = run(&o, &e);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return stop_signal ? 128 + stop_signal : e.code ? e.code : FC_EVMM;
	}
	return rc;
}
