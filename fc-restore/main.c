/* fc-restore - start a VM from a snapshot, leave it running, print its handle */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "handle.h"
#include "json.h"
#include "restore.h"
#include "session.h"
#include "util.h"
#include "vmm.h"

static const char *prog = "fc-restore";

/* How long a restore may take to the agent's READY (TCG is slow). */
#define READY_TIMEOUT_NS 60000000000LL

struct opts {
	const char *snapshot;	/* operand: restore this */
	const char *kill;	/* -k: stop the VM of this handle */
	const char *output;	/* -o: write the handle here */
	int quiet, verbose;
};

/*
 * Signals: the front process forwards them to the worker; the worker
 * stops the VM it is restoring, so an interrupted run leaves nothing.
 */
static volatile pid_t worker = -1, vmm_pid = -1;
static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	if (worker > 0) {
		kill(worker, sig);
		return;
	}
	stop_signal = sig;
	if (vmm_pid > 0)
		kill(vmm_pid, SIGKILL);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fc-restore [-qv] [-o file] snapshot\n"
		"       fc-restore [-qv] -k handle\n"
		"Restore a VM from a snapshot, wait until its function is ready and\n"
		"leave it running; print its handle, a JSON line, for fc-invoke.\n\n"
		"  -o, --output FILE   write the handle to FILE, not standard output\n"
		"  -k, --kill HANDLE   stop the VM of HANDLE (JSON or a file holding it)\n"
		"                      and remove its files\n"
		"  -q, --quiet         print errors only\n"
		"  -v, --verbose       say what happens\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "kill", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "k:o:qvhV", lo, NULL)) != -1) {
		switch (c) {
		case 'k': o->kill = optarg; break;
		case 'o': o->output = optarg; break;
		case 'q': o->quiet = 1; o->verbose = 0; break;
		case 'v': o->verbose = 1; o->quiet = 0; break;
		case 'h': usage(stdout); exit(0);
		case 'V': printf("%s %s\n", prog, FC_VERSION); exit(0);
		default:
			fprintf(stderr, "Try '%s --help' for more information.\n", prog);
			return -1;
		}
	}
	const char *why = NULL;
	if (o->kill && (optind < argc || o->output))
		why = optind < argc ? "too many arguments" : "--output makes no sense with --kill";
	else if (!o->kill && optind == argc)
		why = "no snapshot given";
	else if (!o->kill && argc - optind > 1)
		why = "too many arguments";
	if (why) {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n",
			prog, why, prog);
		return -1;
	}
	o->snapshot = o->kill ? NULL : argv[optind];
	return 0;
}

/*
 * Leave the caller's session so that the VM outlives the terminal: a
 * worker in a session of its own does the restore (the VMM it starts
 * stays there), while this process waits for it, forwarding signals, and
 * exits as it does.
 */
static void detach(void)
{
	int st;
	pid_t pid = fork();

	if (pid < 0)
		return;		/* restore in place; the VM keeps our session */
	if (pid == 0) {
		setsid();
		return;
	}
	worker = pid;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			exit(FC_EVMM);
	exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
}

/* The handle of the VM just restored from s. */
static int make_handle(const struct snapshot *s, const struct vm *vm,
		       int64_t wall0, double ms, struct buf *out,
		       struct fc_err *e)
{
	char abs[PATH_MAX];
	struct handle h = {
		.vmm = (char *)s->ops->name, .pid = vm->pid, .channel = vm->chan,
		.rundir = vm->rundir, .snapshot = abs, .function = s->m.function,
		.timeout = s->m.timeout > 0 ? s->m.timeout : 3,
		.memory_mib = s->m.memory_mib, .started_ns = wall0,
		.restore_ms = ms,
	};

	if (!realpath(s->dir, abs))
		return fc_errnof(e, FC_EINPUT, "%s", s->dir);
	return handle_format(&h, out, e);
}

/* Hand the handle over: a file, or a line on standard output. */
static int put_handle(const struct opts *o, struct buf *h, struct fc_err *e)
{
	sigset_t all, old;
	int rc = 0;

	/* Once the handle is out, the VM is the caller's: no signal stops it. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	buf_puts(h, "\n");
	if (o->output) {
		rc = write_file(o->output, h->p, h->len, e);
	} else if (fwrite(h->p, 1, h->len, stdout) != h->len || fflush(stdout) == EOF) {
		rc = fc_errnof(e, FC_EVMM, "standard output");
	}
	if (rc == 0)
		vmm_pid = -1;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return rc;
}

static int restore(const struct opts *o, struct fc_err *e)
{
	struct snapshot s;
	struct vm vm = { .pid = -1, .pidfd = -1, .qmp_fd = -1 };
	struct session ss = { .fd = -1 };
	struct buf h = { 0 };
	int64_t t0 = now_ns(), wall0 = wall_ns();
	int rc = -1;

	if (restore_open(&s, o->snapshot, e) < 0)
		return -1;
	if (restore_start(&s, &vm, prog, e) < 0)
		goto out;
	vmm_pid = vm.pid;
	if (stop_signal)
		goto out;
	if (restore_ready(&vm, &ss, now_ns() + READY_TIMEOUT_NS, -1, e) < 0)
		goto out;
	double ms = (now_ns() - t0) / 1e6;
	session_close(&ss);	/* the agent waits for the next connection */
	if (make_handle(&s, &vm, wall0, ms, &h, e) < 0 || put_handle(o, &h, e) < 0)
		goto out;
	if (o->verbose)
		fprintf(stderr, "%s: restored %s in %.0f ms: VM %d in %s\n", prog,
			s.dir, ms, (int)vm.pid, vm.rundir);
	/* The VM runs on: forget it without stopping it. */
	vm.pid = -1;
	if (vm.pidfd >= 0)
		close(vm.pidfd);
	vm.pidfd = -1;
	free(vm.rundir);
	vm.rundir = NULL;
	rc = 0;
out:
	if (rc < 0 && stop_signal)
		fc_errf(e, FC_EVMM, "interrupted");
	vmm_pid = -1;
	session_close(&ss);
	vm_destroy(&vm);
	buf_free(&h);
	restore_close(&s);
	return rc;
}

static int kill_handle(const struct opts *o, struct fc_err *e)
{
	struct handle h;
	int rc;

	if (handle_load(&h, o->kill, e) < 0)
		return -1;
	rc = handle_kill(&h, e);
	if (rc == 0 && !o->quiet)
		fprintf(stderr, "%s: the VM (pid %d) was already gone\n", prog,
			(int)h.pid);
	else if (rc == 1 && o->verbose)
		fprintf(stderr, "%s: stopped the VM (pid %d), removed %s\n", prog,
			(int)h.pid, h.rundir);
	handle_free(&h);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	struct fc_err e = { 0 };
	struct sigaction sa = { .sa_handler = on_stop };
	int rc;

	if (std_fds_open() < 0)
		return FC_EVMM;

	if (parse_opts(argc, argv, &o) < 0)
		return FC_EUSAGE;
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (o.kill) {
		rc = kill_handle(&o, &e);
	} else {
		/* The VM must not hold the caller's descriptors (pipes, bats' fd 3). */
		close_range(3, ~0U, 0);
		detach();
		rc = restore(&o, &e);
	}
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return stop_signal ? 128 + stop_signal : e.code ? e.code : FC_EVMM;
	}
	return 0;
}
