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
#include "json.h"
#include "manifest.h"
#include "session.h"
#include "util.h"
#include "vmm.h"

static const char *prog = "fc-invoke";

/* How deeply an event may nest; V8's JSON.parse manages far more. */
#define EVENT_DEPTH 10000

struct opts {
	const char *target, *event_file, *request_id;
	long timeout;		/* seconds; 0: the function's own */
	int quiet, verbose;
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
		"usage: fc-invoke [-qv] [-t seconds] [-r id] target [event-file]\n"
		"Invoke a function with a JSON event (from event-file or stdin) and\n"
		"print its response. target is a snapshot directory (fc-snap).\n\n"
		"  -t, --timeout SEC     override the function's time-out\n"
		"  -r, --request-id ID   use ID as the request id\n"
		"  -q, --quiet           no REPORT line\n"
		"  -v, --verbose         say what happens\n"
		"  -h, --help            this help\n"
		"  -V, --version         print the version\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "timeout", required_argument, NULL, 't' },
		{ "request-id", required_argument, NULL, 'r' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "t:r:qvhV", lo, NULL)) != -1) {
		switch (c) {
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
			if (!*optarg || strlen(optarg) > 64 || strpbrk(optarg, "\"\\\n")) {
				fprintf(stderr, "%s: invalid request id\n", prog);
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

static void print_report(const struct opts *o, const char *id,
			 const struct manifest *m, const struct result *r,
			 double restore_ms)
{
	double ms = r->duration_ns / 1e6;
	long billed = (long)ms + 1;

	if (o->quiet)
		return;
	fprintf(stderr, "REPORT RequestId: %s\tDuration: %.2f ms\t"
		"Billed Duration: %ld ms\tMemory Size: %ld MB\t"
		"Max Memory Used: %ld MB", id, ms, billed, m->memory_mib,
		r->max_memory_kb >= 0 ? (r->max_memory_kb + 1023) / 1024 : 0);
	if (restore_ms >= 0)
		fprintf(stderr, "\tRestore Duration: %.2f ms", restore_ms);
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
	if (fflush(stdout) == EOF && errno != EPIPE)
		return FC_EVMM;
	if (r->kind == RESULT_OK)
		return FC_OK;
	return result_is_timeout(r) ? FC_ETIMEOUT : FC_EFUNC;
}

static void restore_config(const char *dir, const struct manifest *m,
			   const struct vm *vm, struct vm_config *c,
			   char paths[6][4096])
{
	snprintf(paths[2], 4096, "%s/%s", dir, m->rootfs);
	snprintf(paths[3], 4096, "%s/%s", dir, m->memory_file);
	snprintf(paths[4], 4096, "%s/%s", dir, m->state);
	snprintf(paths[5], 4096, "%s/console.log", vm->rundir);
	*c = (struct vm_config){ .rootfs = paths[2], .mem_file = paths[3], .state = paths[4],
		.console = paths[5],
		.memory_mib = (int)m->memory_mib, .vcpus = (int)m->vcpus };
}

static int check_snapshot(const char *dir, const struct manifest *m,
			  struct fc_err *e)
{
	if (!m->state || !m->memory_file || !m->vmm || m->memory_mib <= 0 ||
	    m->vcpus <= 0)
		return fc_errf(e, FC_EINPUT, "%s/manifest.json: incomplete snapshot manifest",
			       dir);
	if (m->protocol != 1)
		return fc_errf(e, FC_EINPUT, "%s: agent protocol %ld, this fc-invoke speaks 1",
			       dir, m->protocol);
	return 0;
}

/* Restore a VM from the snapshot, invoke once, tear it down. */
static int invoke_snapshot(const struct opts *o, const char *ev, size_t n,
			   struct fc_err *e)
{
	struct manifest m;
	struct vm vm = { .pid = -1, .pidfd = -1, .qmp_fd = -1 };
	struct vm_config cfg;
	struct session s = { .fd = -1 };
	struct result r = { 0 };
	char paths[6][4096], id[37];
	const struct vmm_ops *ops;
	int64_t t0 = now_ns(), deadline;
	long timeout;
	int rc = -1, fd;

	if (manifest_read(o->target, "snapshot", &m, e) < 0)
		return -1;
	if (check_snapshot(o->target, &m, e) < 0)
		goto out;
	if (!(ops = vmm_find(m.vmm))) {
		fc_errf(e, FC_EINPUT, "%s: made by %s, which this build cannot restore",
			o->target, m.vmm);
		goto out;
	}
	has_files = 1;
	if (vm_init(&vm, ops, prog, e) < 0)
		goto out;
	restore_config(o->target, &m, &vm, &cfg, paths);
	if (stop_signal || ops->start(&vm, &cfg, e) < 0)
		goto out;
	vmm_pid = vm.pid;
	if (stop_signal)
		goto out;
	deadline = now_ns() + 30000000000LL;
	if ((fd = ops->connect(&vm, deadline, e)) < 0)
		goto out;
	session_init(&s, fd, vm.pidfd);
	if (session_hello(&s, deadline, 2, NULL, e) < 0)
		goto out;
	double restore_ms = (now_ns() - t0) / 1e6;
	if (o->verbose)
		fprintf(stderr, "%s: restored %s in %.0f ms\n", prog, o->target, restore_ms);

	timeout = o->timeout ? o->timeout : (m.timeout > 0 ? m.timeout : 3);
	if (o->request_id)
		snprintf(id, sizeof(id), "%s", o->request_id);
	else
		uuid4(id);
	/* The agent enforces the time-out; this deadline is a backstop. */
	deadline = now_ns() + (timeout + 10) * 1000000000LL;
	if (session_invoke(&s, id, timeout * 1000, ev, n, deadline, 2, &r, e) < 0)
		goto out;
	rc = emit(&r);
	print_report(o, id, &m, &r, restore_ms);
out:
	if (rc < 0 && stop_signal)
		fc_errf(e, FC_EVMM, "interrupted");
	vmm_pid = -1;
	session_close(&s);
	vm_destroy(&vm);
	result_free(&r);
	manifest_free(&m);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct fc_err e = { 0 };
	struct sigaction sa = { .sa_handler = on_stop };
	struct stat st;
	char *ev = NULL;
	size_t n = 0;
	int rc;

	if (parse_opts(argc, argv, &o) < 0)
		return FC_EUSAGE;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	if (stat(o.target, &st) < 0) {
		fc_errnof(&e, FC_EINPUT, "%s", o.target);
		rc = -1;
	} else if (!S_ISDIR(st.st_mode)) {
		fc_errf(&e, FC_EINPUT, "%s: not a snapshot directory "
			"(handles and pools: not yet)", o.target);
		rc = -1;
	} else {
		rc = read_event(&o, &ev, &n, &e);
		if (rc == 0)
			rc = invoke_snapshot(&o, ev, n, &e);
	}
	free(ev);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return stop_signal ? 128 + stop_signal : e.code ? e.code : FC_EVMM;
	}
	return rc;
}
