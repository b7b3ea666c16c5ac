/* fc-poold - keep restored VMs warm behind one Unix socket, serve invocations */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "poold.h"
#include "sock.h"
#include "util.h"

static const char *prog = "fc-poold";
int log_level = LOG_INFO;

/* After the last VM stops, clients get this long to take their answers. */
#define FLUSH_NS 5000000000LL

/* Settings of the functions that follow them on the command line. */
struct settings {
	int min, max, queue;
	long idle_s, timeout_s;
	int fresh;
};

/* One SNAPSHOT operand with the settings in force where it stood. */
struct spec {
	const char *snapshot, *name;
	struct settings set;
};

struct opts {
	const char *socket;
	mode_t mode;		/* of the socket */
	int status;		/* --status: ask a running pool */
	struct spec *specs;
	int nspecs;
};

void say(int level, const char *fmt, ...)
{
	va_list ap;
	char line[1200];

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", prog, line);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: fc-poold [-qv] [--socket-mode mode] -s socket [-m min] [-M max]\n"
		"                [-Q queue] [-i seconds] [-t seconds] [--fresh | --no-fresh]\n"
		"                [-n name] snapshot ...\n"
		"       fc-poold -s socket --status\n"
		"Keep VMs restored from each snapshot warm behind the Unix socket and\n"
		"serve invocations from them (fc-invoke socket). Function options apply\n"
		"to the snapshots after them; --name to the next one only.\n\n"
		"  -s, --socket PATH      the socket to serve on\n"
		"      --socket-mode MODE its permissions, octal (0600: the owner only)\n"
		"  -m, --min N            warm VMs kept ready (1)\n"
		"  -M, --max N            VMs at most: the concurrency limit (4)\n"
		"  -Q, --queue N          requests that may wait beyond max (16)\n"
		"  -i, --idle SEC         stop idle VMs beyond min after SEC seconds (60)\n"
		"  -t, --timeout SEC      invocation time-out (the function's own)\n"
		"      --fresh            a new VM for every invocation\n"
		"      --no-fresh         reuse VMs across invocations (the default)\n"
		"  -n, --name NAME        the next snapshot's function name\n"
		"      --status           print a running pool's status as JSON\n"
		"  -q, --quiet            print errors only\n"
		"  -v, --verbose          say more (twice: every request)\n"
		"  -h, --help             this help\n"
		"  -V, --version          print the version\n");
}

static int number(const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || *end || *out < lo || *out > hi) {
		fprintf(stderr, "%s: invalid value for %s: '%s' (%ld to %ld)\n", prog,
			opt, s, lo, hi);
		return -1;
	}
	return 0;
}

static int add_spec(struct opts *o, const char *snapshot, const char **name,
		    const struct settings *set)
{
	struct spec *s = realloc(o->specs, (size_t)(o->nspecs + 1) * sizeof(*s));

	if (!s)
		return -1;
	o->specs = s;
	if (set->min > set->max) {
		fprintf(stderr, "%s: %s: --min %d is more than --max %d\n", prog,
			snapshot, set->min, set->max);
		return -1;
	}
	s[o->nspecs++] = (struct spec){ snapshot, *name, *set };
	*name = NULL;
	return 0;
}

/* An integer option into an int. */
static int int_opt(const char *opt, long lo, long hi, int *out)
{
	long v;

	if (number(opt, optarg, lo, hi, &v) < 0)
		return -1;
	*out = (int)v;
	return 0;
}

static int name_opt(const char **name)
{
	if (!poolproto_name_ok(optarg)) {
		fprintf(stderr, "%s: invalid function name '%s' (1 to %d of "
			"A-Z a-z 0-9 . _ -)\n", prog, optarg, POOL_NAME_MAX);
		return -1;
	}
	*name = optarg;
	return 0;
}

static int mode_opt(mode_t *mode)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(optarg, &end, 8);
	if (errno || end == optarg || *end || v < 0 || v > 0777) {
		fprintf(stderr, "%s: invalid socket mode '%s' (octal)\n", prog, optarg);
		return -1;
	}
	*mode = (mode_t)v;
	return 0;
}

/* One option; -1 on a bad one. */
static int option(struct opts *o, int c, struct settings *set, const char **name)
{
	switch (c) {
	case 's': o->socket = optarg; return 0;
	case 'o': return mode_opt(&o->mode);
	case 'S': o->status = 1; return 0;
	case 'm': return int_opt("--min", 0, 256, &set->min);
	case 'M': return int_opt("--max", 1, 256, &set->max);
	case 'Q': return int_opt("--queue", 0, 100000, &set->queue);
	case 'i': return number("--idle", optarg, 0, 86400, &set->idle_s);
	case 't': return number("--timeout", optarg, 1, 900, &set->timeout_s);
	case 'f': set->fresh = 1; return 0;
	case 'F': set->fresh = 0; return 0;
	case 'n': return name_opt(name);
	case 'q': log_level = LOG_ERROR; return 0;
	case 'v': log_level = log_level < LOG_VERBOSE ? LOG_VERBOSE : LOG_DEBUG; return 0;
	case 'h': usage(stdout); exit(0);
	case 'V': printf("%s %s\n", prog, FC_VERSION); exit(0);
	}
	fprintf(stderr, "Try '%s --help' for more information.\n", prog);
	return -1;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "fresh", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "idle", required_argument, NULL, 'i' },
		{ "max", required_argument, NULL, 'M' },
		{ "min", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "no-fresh", no_argument, NULL, 'F' },
		{ "queue", required_argument, NULL, 'Q' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "socket", required_argument, NULL, 's' },
		{ "socket-mode", required_argument, NULL, 'o' },
		{ "status", no_argument, NULL, 'S' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct settings set = { .min = 1, .max = 4, .queue = 16, .idle_s = 60 };
	const char *name = NULL, *why = NULL;

	o->mode = 0600;
	while (optind < argc) {
		/* '+': stop at each snapshot, which takes the settings so far. */
		int c = getopt_long(argc, argv, "+s:m:M:Q:i:t:n:qvhV", lo, NULL);
		if (c == -1) {
			if (optind < argc && add_spec(o, argv[optind++], &name, &set) < 0)
				return -1;
			continue;
		}
		if (option(o, c, &set, &name) < 0)
			return -1;
	}
	if (!o->socket)
		why = "no socket given (-s PATH)";
	else if (o->status && o->nspecs)
		why = "--status takes no snapshot";
	else if (!o->status && !o->nspecs)
		why = "no snapshot given";
	else if (name)
		why = "--name must come before its snapshot";
	if (why) {
		fprintf(stderr, "%s: %s\nTry '%s --help' for more information.\n",
			prog, why, prog);
		return -1;
	}
	return 0;
}

/* The function's name: --name, else the manifest's, else the directory's. */
static void function_name(struct function *fn, const struct spec *s)
{
	char *copy, *base;

	if (s->name) {
		snprintf(fn->name, sizeof(fn->name), "%s", s->name);
		return;
	}
	if (fn->snap.m.function && poolproto_name_ok(fn->snap.m.function)) {
		snprintf(fn->name, sizeof(fn->name), "%s", fn->snap.m.function);
		return;
	}
	copy = strdup(s->snapshot);
	base = copy ? basename(copy) : "function";
	snprintf(fn->name, sizeof(fn->name), "%s", base);
	fn->name[strcspn(fn->name, ".")] = 0;
	if (!poolproto_name_ok(fn->name))
		snprintf(fn->name, sizeof(fn->name), "function");
	free(copy);
}

/* Read every snapshot before serving: a bad one stops the start. */
static int open_functions(struct pool *p, const struct opts *o, struct fc_err *e)
{
	struct function **tail = &p->fns;

	for (int i = 0; i < o->nspecs; i++) {
		const struct spec *s = &o->specs[i];
		struct function *fn = calloc(1, sizeof(*fn));
		if (!fn)
			return fc_errf(e, FC_EVMM, "out of memory");
		*tail = fn;
		tail = &fn->next;
		p->nfns++;
		if (restore_open(&fn->snap, s->snapshot, e) < 0)
			return -1;
		function_name(fn, s);
		for (struct function *f = p->fns; f != fn; f = f->next)
			if (strcmp(f->name, fn->name) == 0)
				return fc_errf(e, FC_EUSAGE, "%s and %s are both function "
					       "'%s': name one with --name", f->snap.dir,
					       s->snapshot, fn->name);
		fn->min = s->set.min;
		fn->max = s->set.max;
		fn->queue = s->set.queue;
		fn->idle_s = s->set.idle_s;
		fn->timeout_s = s->set.timeout_s;
		fn->fresh = s->set.fresh;
	}
	return 0;
}

static void close_functions(struct pool *p)
{
	while (p->fns) {
		struct function *fn = p->fns;
		p->fns = fn->next;
		restore_close(&fn->snap);
		free(fn);
	}
}

/*
 * One daemon per socket: SOCKET.lock, held with flock() while we run. A
 * lock file that an exiting daemon unlinked under us is not the lock any
 * more: check that the path still names the file we locked.
 */
static int take_lock(const char *path, const char *sock, struct fc_err *e)
{
	struct stat a, b;
	char pid[32] = "";

	for (;;) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd < 0)
			return fc_errnof(e, io_code(errno), "%s", path);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int err = errno;
			ssize_t n = read(fd, pid, sizeof(pid) - 1);
			pid[n > 0 ? n : 0] = 0;
			pid[strcspn(pid, "\n")] = 0;
			close(fd);
			if (err == EWOULDBLOCK)
				return fc_errf(e, FC_EINPUT, "%s: another fc-poold%s%s%s "
					       "serves it", sock, *pid ? " (pid " : "", pid,
					       *pid ? ")" : "");
			errno = err;
			return fc_errnof(e, FC_EVMM, "%s", path);
		}
		if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
		    a.st_dev == b.st_dev) {
			if (ftruncate(fd, 0) == 0)
				dprintf(fd, "%d\n", (int)getpid());
			return fd;
		}
		close(fd);
	}
}

/* Remove a socket file nobody listens on (a killed daemon's). */
static int reclaim(const char *path, struct fc_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : fc_errnof(e, io_code(errno), "%s", path);
	if (!S_ISSOCK(st.st_mode))
		return fc_errf(e, FC_EINPUT, "%s: exists and is not a socket", path);
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return fc_errnof(e, FC_EVMM, "socket");
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	int err = errno;
	close(fd);
	if (rc == 0)
		return fc_errf(e, FC_EINPUT, "%s: another program is listening on it",
			       path);
	if (err != ECONNREFUSED) {
		errno = err;
		return fc_errnof(e, FC_EVMM, "%s", path);
	}
	if (unlink(path) < 0)
		return fc_errnof(e, io_code(errno), "%s", path);
	say(LOG_INFO, "removed the stale socket %s", path);
	return 0;
}

static int listen_on(const char *path, mode_t mode, struct fc_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, rc;

	if (reclaim(path, e) < 0)
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fc_errnof(e, FC_EVMM, "socket");
	old = umask(0177);	/* no moment with looser permissions */
	rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chmod(path, mode) < 0 || listen(fd, 128) < 0) {
		fc_errnof(e, io_code(errno), "%s", path);
		if (rc == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Each VM holds a few descriptors, each client one: take what is allowed. */
/*
 * The run directory of a process's QEMU, if it is a pool VM's: the
 * directory of its agent.sock, named fc-poold.*. Empty otherwise.
 */
static void pool_rundir_of(pid_t pid, char *out, size_t n)
{
	char path[64], buf[8192];
	ssize_t r;
	int fd;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return;
	buf[r] = 0;
	if (!strstr(buf, "qemu-system"))	/* argv[0] comes first */
		return;
	for (char *a = buf; a < buf + r; a += strlen(a) + 1) {
		char *p = strstr(a, "path=");
		char *end = p ? strstr(p, "/agent.sock") : NULL;
		if (!p || !end || strncmp(a, "socket,id=agent,", 16) != 0)
			continue;
		p += 5;
		*end = 0;
		const char *base = strrchr(p, '/');
		if (base && strncmp(base + 1, "fc-poold.", 9) == 0 &&
		    !strstr(p, ",,") && (size_t)(end - p) < n)
			snprintf(out, n, "%s", p);
		return;
	}
}

/* Is pid an fc-poold (a VM's parent that is alive and well)? */
static int is_poold(pid_t pid)
{
	char path[64], comm[32] = "";
	int fd;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	r = read(fd, comm, sizeof(comm) - 1);
	close(fd);
	return r > 0 && strncmp(comm, "fc-poold", 8) == 0;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512], *p;
	int fd, ppid = -1;
	ssize_t r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return -1;
	buf[r] = 0;
	p = strrchr(buf, ')');	/* the name may hold spaces */
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/*
 * VMs a SIGKILLed fc-poold left behind: QEMUs of this user running from
 * an fc-poold.* run directory whose parent is no fc-poold any more.
 * Nothing can reach them, so they are stopped and their files removed.
 */
static void reap_orphans(void)
{
	DIR *d = opendir("/proc");
	struct dirent *ent;
	char dir[4096];
	struct stat st;

	if (!d)
		return;
	while ((ent = readdir(d))) {
		if (!isdigit((unsigned char)ent->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(ent->d_name);
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (stat(path, &st) < 0 || st.st_uid != getuid())
			continue;
		pool_rundir_of(pid, dir, sizeof(dir));
		if (!dir[0] || is_poold(parent_of(pid)))
			continue;
		int pidfd = pid_watch(pid);
		if (kill(pid, SIGKILL) < 0) {
			if (pidfd >= 0)
				close(pidfd);
			continue;
		}
		if (pidfd >= 0) {
			wait_readable(pidfd, -1, now_ns() + 2000000000LL);
			close(pidfd);
		}
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
			rmtree(dir);
		say(LOG_INFO, "stopped VM pid %d, left running by a killed fc-poold",
		    (int)pid);
	}
	closedir(d);
}

static void more_files(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* What each pollfd stands for. */
enum { K_LISTEN, K_SIGNAL, K_LAUNCHED, K_CLIENT, K_CHANNEL, K_VMM };
struct slot {
	int kind;
	void *ptr;
};

struct pollset {
	struct pollfd *pf;
	struct slot *sl;
	size_t n, cap;
};

static void watch(struct pollset *s, int fd, short events, int kind, void *ptr)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct pollfd *pf = realloc(s->pf, cap * sizeof(*pf));
		struct slot *sl = pf ? realloc(s->sl, cap * sizeof(*sl)) : NULL;
		if (pf)
			s->pf = pf;
		if (!pf || !sl)
			return;	/* watched next turn, memory permitting */
		s->sl = sl;
		s->cap = cap;
	}
	s->pf[s->n] = (struct pollfd){ .fd = fd, .events = events };
	s->sl[s->n++] = (struct slot){ kind, ptr };
}

static void fill(struct pollset *s, const struct pool *p, int sigfd)
{
	s->n = 0;
	if (p->listen_fd >= 0 && now_ns() >= p->accept_after)
		watch(s, p->listen_fd, POLLIN, K_LISTEN, NULL);
	watch(s, sigfd, POLLIN, K_SIGNAL, NULL);
	watch(s, p->launched[0], POLLIN, K_LAUNCHED, NULL);
	for (struct client *c = p->clients; c; c = c->next)
		if (!c->dead)
			watch(s, c->c.fd, (short)((c->eof ? 0 : POLLIN) |
				(conn_pending(&c->c) ? POLLOUT : 0)), K_CLIENT, c);
	for (struct function *fn = p->fns; fn; fn = fn->next) {
		for (struct pvm *v = fn->vms; v; v = v->next) {
			if (v->dead || v->launching)
				continue;
			watch(s, v->ch.fd, (short)(POLLIN |
				(conn_pending(&v->ch) ? POLLOUT : 0)), K_CHANNEL, v);
			watch(s, v->vm.pidfd, POLLIN, K_VMM, v);
		}
	}
}

static void stop_listening(struct pool *p)
{
	if (p->listen_fd < 0)
		return;
	close(p->listen_fd);
	p->listen_fd = -1;
	unlink(p->socket);
}

static void on_signal(struct pool *p, int sigfd)
{
	struct signalfd_siginfo si;

	while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			status_log(p);
		} else if (!p->draining) {
			int busy = 0;
			for (struct function *fn = p->fns; fn; fn = fn->next)
				busy += pool_count(fn, PVM_BUSY);
			say(LOG_INFO, "stopping: finishing %d invocation%s in flight",
			    busy, busy == 1 ? "" : "s");
			stop_listening(p);
			pool_drain(p, 0);
		} else {
			say(LOG_INFO, "stopping now");
			pool_drain(p, 1);
		}
	}
}

static void on_event(struct pool *p, const struct slot *s, short rev, int sigfd)
{
	switch (s->kind) {
	case K_LISTEN:
		client_accept(p);
		break;
	case K_SIGNAL:
		on_signal(p, sigfd);
		break;
	case K_LAUNCHED:
		pool_launched(p);
		break;
	case K_CLIENT: {
		struct client *c = s->ptr;
		if (!c->dead && (rev & POLLOUT))
			client_flush(p, c);
		if (!c->dead && (rev & (POLLIN | POLLHUP | POLLERR)))
			client_readable(p, c);
		break;
	}
	case K_CHANNEL: {
		struct pvm *v = s->ptr;
		if (!v->dead && (rev & POLLOUT))
			pool_vm_flush(p, v);
		if (!v->dead && (rev & (POLLIN | POLLHUP | POLLERR)))
			pool_vm_readable(p, v);
		break;
	}
	case K_VMM:
		if (!((struct pvm *)s->ptr)->dead)
			pool_vm_exited(p, s->ptr);
		break;
	}
}

static int output_pending(const struct pool *p)
{
	for (const struct client *c = p->clients; c; c = c->next)
		if (!c->dead && conn_pending(&c->c))
			return 1;
	return 0;
}

/* The event loop: until a SIGTERM has been served out. */
static void serve(struct pool *p, int sigfd)
{
	struct pollset s = { 0 };

	pool_tick(p, now_ns());
	for (;;) {
		int64_t now = now_ns();
		if (p->draining && !pool_busy(p)) {
			if (!p->drain_deadline)
				p->drain_deadline = now + FLUSH_NS;
			if (!output_pending(p) || now >= p->drain_deadline)
				break;
		}
		fill(&s, p, sigfd);
		int64_t next = pool_next_timer(p, now);
		if (p->accept_after > now && (!next || p->accept_after < next))
			next = p->accept_after;
		int n = poll(s.pf, s.n, ms_left(next));
		if (n < 0 && errno != EINTR) {
			say(LOG_ERROR, "poll: %s", strerror(errno));
			pool_drain(p, 1);
		}
		for (size_t i = 0; n > 0 && i < s.n; i++)
			if (s.pf[i].revents)
				on_event(p, &s.sl[i], s.pf[i].revents, sigfd);
		pool_tick(p, now_ns());
		pool_sweep(p);
	}
	free(s.pf);
	free(s.sl);
}

static void close_clients(struct pool *p)
{
	for (struct client *c = p->clients; c; c = c->next)
		if (!c->dead) {
			c->dead = 1;
			frame_free(&c->req);
			conn_close(&c->c);
		}
	pool_sweep(p);
}

static void log_functions(const struct pool *p)
{
	for (const struct function *fn = p->fns; fn; fn = fn->next)
		say(LOG_INFO, "serving %s from %s on %s: %d to %d VMs, %d may wait%s",
		    fn->name, fn->snap.dir, p->socket, fn->min, fn->max, fn->queue,
		    fn->fresh ? ", a fresh VM for each" : "");
}

static int daemon_main(const struct opts *o, struct fc_err *e)
{
	struct pool p = { .socket = o->socket, .listen_fd = -1,
			  .launched = { -1, -1 } };
	char *lock = NULL;
	int lock_fd = -1, sigfd = -1, rc = -1;
	sigset_t sigs;

	p.started = now_ns();
	more_files();
	if (open_functions(&p, o, e) < 0)
		goto out;
	if (pool_init(&p) < 0) {
		fc_errnof(e, FC_EVMM, "pipe");
		goto out;
	}
	if (strlen(o->socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fc_errf(e, FC_EINPUT, "%s: socket path too long", o->socket);
		goto out;
	}
	if (asprintf(&lock, "%s.lock", o->socket) < 0 ||
	    (lock_fd = take_lock(lock, o->socket, e)) < 0)
		goto out;
	if ((p.listen_fd = listen_on(o->socket, o->mode, e)) < 0)
		goto out;
	reap_orphans();
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if ((sigfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fc_errnof(e, FC_EVMM, "signalfd");
		goto out;
	}
	log_functions(&p);
	serve(&p, sigfd);
	say(LOG_INFO, "stopped");
	rc = 0;
out:
	pool_drain(&p, 1);
	pool_sweep(&p);
	close_clients(&p);
	stop_listening(&p);
	if (lock_fd >= 0) {
		unlink(lock);
		close(lock_fd);
	}
	if (sigfd >= 0)
		close(sigfd);
	if (p.launched[0] >= 0)
		close(p.launched[0]), close(p.launched[1]);
	free(lock);
	close_functions(&p);
	return rc;
}

/* --status: ask the pool on the socket, print its answer. */
static int status_main(const struct opts *o, struct fc_err *e)
{
	struct frame f;
	int fd = poolproto_connect(o->socket, now_ns() + 10000000000LL, NULL, e);
	int r;

	if (fd < 0)
		return -1;
	if (frame_write(fd, 'S', "", 0) < 0) {
		close(fd);
		return fc_errnof(e, FC_EVMM, "%s", o->socket);
	}
	r = frame_read(fd, &f);
	close(fd);
	if (r <= 0 || f.type != 'S') {
		if (r > 0)
			frame_free(&f);
		return fc_errf(e, FC_EVMM, "%s: no status from the pool", o->socket);
	}
	printf("%s\n", f.data);
	frame_free(&f);
	if (fflush(stdout) == EOF)
		return fc_errnof(e, FC_EVMM, "standard output");
	return 0;
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
	if (o.status) {
		rc = status_main(&o, &e);
	} else {
		/* The VMs must not hold what we inherited (pipes, bats' fd 3). */
		close_range(3, ~0U, 0);
		rc = daemon_main(&o, &e);
	}
	free(o.specs);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", prog, e.msg);
		return e.code ? e.code : FC_EVMM;
	}
	return 0;
}
