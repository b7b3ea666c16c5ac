/* agent.c - PID 1 of a function's microVM: boots the guest, serves invocations */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/random.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

#define PORT_NAME "fc.agent"
#define VSOCK_PORT 1024		/* Firecracker's host connects here */
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_VSOCK 19
#define NEWROOT "/newroot"
#define LOG_CHUNK 65536

static const char *prog = "fc-agent";

/* The runtime process and the pipes to it. */
struct runtime {
	pid_t pid;
	int to;			/* frames to the runtime (its fd 3) */
	int from;		/* frames from the runtime (its fd 4) */
	int out, err;		/* its stdout and stderr */
	struct frame_reader rd;
	char *ready;		/* payload of its R frame, once loaded */
	size_t ready_len;
	int dead;		/* exited; wstatus is valid */
	int wstatus;
	char *fatal;		/* F payload when it failed to start */
};

/*
 * The host channel and the invocation in flight. Under QEMU the channel
 * is a virtio-serial port, always open, whose host side comes and goes;
 * under Firecracker it is a vsock connection accepted from vlisten.
 */
struct agent {
	int port;		/* the channel in use, or -1 */
	int serial;		/* the port is virtio-serial (else vsock) */
	int vlisten;		/* vsock listener, or -1 */
	int connected;
	int dropping;		/* a send found no host: drop until it speaks */
	struct frame pending;	/* an I that came while busy, or data NULL */
	struct frame_reader rd;
	int hello_pending;	/* host sent H before the runtime was ready */
	int busy;		/* an invocation is in flight */
	char reqid[72];
	int64_t started, deadline;	/* monotonic ns; deadline 0 = none */
	long timeout_ms;
	int sigfd;
	struct runtime rt;
};

static void say(const char *fmt, ...)
{
	va_list ap;
	char line[512];
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	dprintf(2, "%s: %.*s", prog, n, line);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Power off after a failure the guest cannot recover from. */
static void __attribute__((noreturn)) die(const char *fmt, ...)
{
	va_list ap;
	char line[512];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	say("fatal: %s; powering off", line);
	sync();
	if (getpid() == 1)
		reboot(RB_AUTOBOOT);	/* QEMU runs with -no-reboot: exits */
	exit(1);
}

/* --- boot ------------------------------------------------------------- */

static void mnt(const char *src, const char *dst, const char *type,
		unsigned long flags, const char *data)
{
	mkdir(dst, 0755);
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		die("mount %s on %s: %s", type, dst, strerror(errno));
}

static void console(void)
{
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);

	if (fd < 0)
		return;
	dup2(fd, 0);
	dup2(fd, 1);
	dup2(fd, 2);
	if (fd > 2)
		close(fd);
}

/* Load the kernel modules listed in dir/load, in order. */
static void load_modules(const char *dir)
{
	char path[512], name[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/load", dir);
	f = fopen(path, "r");
	if (!f)
		return;		/* a kernel with everything built in */
	while (fgets(name, sizeof(name), f)) {
		name[strcspn(name, "\r\n")] = 0;
		if (!name[0] || name[0] == '#')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			say("module %s: %s", name, strerror(errno));
			continue;
		}
		if (syscall(SYS_finit_module, fd, "", 0) < 0 && errno != EEXIST)
			say("module %s: %s", name, strerror(errno));
		close(fd);
		unlink(path);	/* the initramfs is RAM: give it back */
	}
	fclose(f);
}

static int wait_path(const char *path, int ms)
{
	struct timespec ts = { 0, 5 * 1000000 };

	for (int i = 0; i < ms / 5; i++) {
		if (access(path, F_OK) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return access(path, F_OK);
}

/* Mount the function's root filesystem and make it /. */
static void switch_root(const char *dev)
{
	if (wait_path(dev, 10000) < 0)
		die("%s: no root disk appeared", dev);
	mkdir(NEWROOT, 0755);
	if (mount(dev, NEWROOT, "ext4", MS_RDONLY | MS_NODEV, NULL) < 0)
		die("mount %s: %s", dev, strerror(errno));

	const char *moved[] = { "/dev", "/proc", "/sys" };
	char dst[64];
	for (size_t i = 0; i < 3; i++) {
		snprintf(dst, sizeof(dst), NEWROOT "%s", moved[i]);
		if (mount(moved[i], dst, NULL, MS_MOVE, NULL) < 0)
			die("move %s: %s", moved[i], strerror(errno));
	}
	if (mount("tmpfs", NEWROOT "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=1777") < 0)	/* half the guest's RAM, tmpfs's default */
		die("mount /tmp: %s", strerror(errno));
	if (chdir(NEWROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		die("switch root: %s", strerror(errno));
}

/* Find /dev/vportNpM for the virtio-serial port named PORT_NAME. */
static int find_port(char *dev, size_t n)
{
	const char *base = "/sys/class/virtio-ports";
	char path[512], name[64];
	struct dirent *d;
	DIR *dir = opendir(base);
	int found = -1;

	if (!dir)
		return -1;
	while (found < 0 && (d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/name", base, d->d_name);
		int fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		ssize_t r = read(fd, name, sizeof(name) - 1);
		close(fd);
		if (r <= 0)
			continue;
		name[r] = 0;
		name[strcspn(name, "\n")] = 0;
		if (strcmp(name, PORT_NAME) == 0) {
			snprintf(dev, n, "/dev/%s", d->d_name);
			found = 0;
		}
	}
	closedir(dir);
	return found;
}

/* Is there a virtio device of this id (console, vsock)? */
static int has_virtio(int id)
{
	const char *base = "/sys/bus/virtio/devices";
	char path[512], val[32];
	struct dirent *d;
	DIR *dir = opendir(base);
	int found = 0;

	if (!dir)
		return 0;
	while (!found && (d = readdir(dir))) {
		snprintf(path, sizeof(path), "%s/%s/device", base, d->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t r = fd < 0 ? -1 : read(fd, val, sizeof(val) - 1);
		if (fd >= 0)
			close(fd);
		if (r > 0) {
			val[r] = 0;
			found = strtol(val, NULL, 16) == id;
		}
	}
	closedir(dir);
	return found;
}

/* Listen on the vsock port when the VM has a vsock device. */
static int listen_vsock(void)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_port = VSOCK_PORT, .svm_cid = VMADDR_CID_ANY };
	int fd;

	if (!has_virtio(VIRTIO_ID_VSOCK))
		return -1;
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 4) < 0) {
		say("vsock port %d: %s", VSOCK_PORT, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int open_port(void)
{
	char dev[300];
	struct timespec ts = { 0, 10 * 1000000 };
	int fd;

	if (!has_virtio(VIRTIO_ID_CONSOLE))
		return -1;
	for (int i = 0; find_port(dev, sizeof(dev)) < 0; i++) {
		if (i == 1000)
			die("no virtio-serial port named %s", PORT_NAME);
		nanosleep(&ts, NULL);
	}
	if (wait_path(dev, 5000) < 0)
		die("%s: %s", dev, strerror(errno));
	fd = open(dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		die("%s: %s", dev, strerror(errno));
	/* SIGIO tells us when a host connects again. */
	fcntl(fd, F_SETOWN, getpid());
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_ASYNC);
	return fd;
}

/* --- the runtime ------------------------------------------------------ */

/* Read a file of lines into a NULL-terminated vector. */
static char **read_lines(const char *path)
{
	enum { MAX = 65536 };
	char **v, *buf = malloc(MAX);	/* kept: the vector points into it */
	size_t n = 0, len;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r;

	if (fd < 0 || !buf)
		return NULL;
	r = read(fd, buf, MAX - 1);
	close(fd);
	if (r < 0)
		return NULL;
	len = (size_t)r;
	buf[len] = 0;
	v = calloc(len / 2 + 2, sizeof(*v));
	if (!v)
		return NULL;
	for (char *s = buf, *e; *s; s = e + 1) {
		e = strchr(s, '\n');
		if (!e)
			e = s + strlen(s) - 1;
		else
			*e = 0;
		if (*s)
			v[n++] = s;
		if (!e[1])
			break;
	}
	v[n] = NULL;
	return v;
}

static char *fatal_json(const char *type, const char *msg)
{
	char *p;

	if (asprintf(&p, "{\"errorType\":\"%s\",\"errorMessage\":\"%s\"}",
		     type, msg) < 0)
		return NULL;
	return p;
}

static void runtime_start(struct runtime *rt)
{
	int to[2], from[2], out[2], err[2];
	char **argv = read_lines("/etc/fc/runtime");
	char **envp = read_lines("/etc/fc/env");

	rt->pid = -1;
	if (!argv || !argv[0] || !envp) {
		rt->fatal = fatal_json("Runtime.InvalidEntrypoint",
				       "/etc/fc/runtime or /etc/fc/env is missing");
		return;
	}
	if (pipe2(to, O_CLOEXEC) || pipe2(from, O_CLOEXEC) ||
	    pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC))
		die("pipe: %s", strerror(errno));

	rt->pid = fork();
	if (rt->pid < 0)
		die("fork: %s", strerror(errno));
	if (rt->pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		setsid();
		int null = open("/dev/null", O_RDONLY);
		/* Move fds above 4 first so the dup2s cannot clobber them. */
		int fds[4] = { fcntl(to[0], F_DUPFD, 10), fcntl(from[1], F_DUPFD, 10),
			       fcntl(out[1], F_DUPFD, 10), fcntl(err[1], F_DUPFD, 10) };
		dup2(null, 0);
		dup2(fds[2], 1);
		dup2(fds[3], 2);
		dup2(fds[0], 3);
		dup2(fds[1], 4);
		for (int fd = 5; fd < 64; fd++)
			close(fd);
		if (chdir("/var/task") < 0)
			dprintf(2, "%s: /var/task: %s\n", prog, strerror(errno));
		execve(argv[0], argv, envp);
		dprintf(2, "%s: %s: %s\n", prog, argv[0], strerror(errno));
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	close(out[1]);
	close(err[1]);
	rt->to = to[1];
	rt->from = from[0];
	rt->out = out[0];
	rt->err = err[0];
	fcntl(rt->from, F_SETFL, O_NONBLOCK);
	fcntl(rt->out, F_SETFL, O_NONBLOCK);
	fcntl(rt->err, F_SETFL, O_NONBLOCK);
}

static long vm_hwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* --- the host channel ---------------------------------------------------- */

/* The host went away: forget any partial frame, wait for the next. */
static void host_gone(struct agent *a)
{
	frame_reader_free(&a->rd);
	memset(&a->rd, 0, sizeof(a->rd));
	a->connected = 0;
	if (!a->serial && a->port >= 0) {
		close(a->port);
		a->port = -1;
	}
}

/* Send one frame to the host; dropped when no host is connected. */
static void host_send(struct agent *a, char type, const void *p, size_t n)
{
	unsigned char hdr[FC_FRAME_HDR];
	const char *parts[2] = { (const char *)hdr, p };
	size_t lens[2] = { sizeof(hdr), n };

	int waits = 0;

	if (n > FC_FRAME_MAX || a->port < 0 || a->dropping)
		return;
	frame_hdr(hdr, type, (uint32_t)n);
	for (int i = 0; i < 2; i++) {
		size_t off = 0;
		while (off < lens[i]) {
			ssize_t w = write(a->port, parts[i] + off, lens[i] - off);
			if (w > 0) {
				off += (size_t)w;
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0 && errno != EAGAIN) {
				host_gone(a);
				return;
			}
			struct pollfd pfd = { a->port, POLLOUT, 0 };
			if (poll(&pfd, 1, 1000) < 0 && errno != EINTR)
				return;
			if ((pfd.revents & (POLLHUP | POLLERR)) &&
			    !(pfd.revents & POLLOUT)) {
				/*
				 * A host that has just connected and written may
				 * not be "open" to the guest yet: give the port a
				 * second before deciding nobody listens.
				 */
				struct timespec nap = { 0, 5 * 1000000 };
				if (a->serial && ++waits < 200) {
					nanosleep(&nap, NULL);
					continue;
				}
				a->dropping = 1;
				host_gone(a);
				return;
			}
		}
	}
}

static void host_report(struct agent *a)
{
	char p[256];
	long kb = a->rt.pid > 0 ? vm_hwm_kb(a->rt.pid) : -1;
	int n = snprintf(p, sizeof(p), "{\"id\":\"%s\",\"duration_ns\":%lld,"
			 "\"max_memory_kb\":%ld}", a->reqid,
			 (long long)(mono_ns() - a->started), kb);

	host_send(a, 'P', p, (size_t)n);
	a->busy = 0;
	a->deadline = 0;
}

/* Relay whatever the runtime wrote to stdout and stderr. */
static void drain_logs(struct agent *a, int fd)
{
	static char buf[LOG_CHUNK];
	ssize_t r;

	if (fd < 0)
		return;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		host_send(a, 'L', buf, (size_t)r);
}

static void drain_all_logs(struct agent *a)
{
	drain_logs(a, a->rt.out);
	drain_logs(a, a->rt.err);
}

/* The runtime is gone or hung: end the invocation with a fatal error. */
static void fail_invocation(struct agent *a, const char *type, const char *msg)
{
	char *j = fatal_json(type, msg);

	drain_all_logs(a);
	if (j)
		host_send(a, 'F', j, strlen(j));
	free(j);
	host_report(a);
}

static void runtime_kill(struct agent *a)
{
	if (a->rt.pid > 0 && !a->rt.dead)
		kill(-a->rt.pid, SIGKILL), kill(a->rt.pid, SIGKILL);
}

static void exit_message(struct agent *a, char *msg, size_t n)
{
	int st = a->rt.wstatus;

	if (WIFSIGNALED(st))
		snprintf(msg, n, "RequestId: %s Error: Runtime exited with error: signal: %s",
			 a->reqid, strsignal(WTERMSIG(st)));
	else
		snprintf(msg, n, "RequestId: %s Error: Runtime exited with error: exit status %d",
			 a->reqid, WEXITSTATUS(st));
}

/* Reap children; note the runtime's death. */
static void reap(struct agent *a)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (pid != a->rt.pid)
			continue;
		a->rt.dead = 1;
		a->rt.wstatus = st;
	}
}

static void on_runtime_frame(struct agent *a, struct frame *f);
static int pump(struct agent *a, int fd, struct frame_reader *r,
		void (*fn)(struct agent *, struct frame *));

static void on_runtime_gone(struct agent *a)
{
	char msg[256];

	/* Frames it wrote before dying come first. */
	while (a->rt.from >= 0 && pump(a, a->rt.from, &a->rt.rd, on_runtime_frame) == 1)
		;

	if (a->busy) {
		exit_message(a, msg, sizeof(msg));
		fail_invocation(a, "Runtime.ExitError", msg);
	} else if (!a->rt.ready && !a->rt.fatal) {
		drain_all_logs(a);
		a->rt.fatal = fatal_json("Runtime.ExitError",
					 "Runtime exited before it was ready");
		if (a->hello_pending) {
			host_send(a, 'F', a->rt.fatal, strlen(a->rt.fatal));
			a->hello_pending = 0;
		}
	}
}

/* Set the clock and feed the kernel's entropy pool from an H frame. */
static void apply_hello(const char *p)
{
	const char *t = strstr(p, "\"time_ns\":");
	const char *r = strstr(p, "\"entropy\":\"");

	if (t) {
		long long ns = strtoll(t + 10, NULL, 10);
		struct timespec ts = { ns / 1000000000, ns % 1000000000 };
		if (ns > 0 && clock_settime(CLOCK_REALTIME, &ts) < 0)
			say("set clock: %s", strerror(errno));
	}
	if (r) {
		struct {
			struct rand_pool_info info;
			unsigned char bytes[64];
		} pool = { 0 };
		size_t n = 0;
		r += 11;
		while (n < sizeof(pool.bytes) && sscanf(r + 2 * n, "%2hhx", &pool.bytes[n]) == 1)
			n++;
		pool.info.entropy_count = (int)n * 8;
		pool.info.buf_size = (int)n;
		memcpy(pool.info.buf, pool.bytes, n);
		int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (ioctl(fd, RNDADDENTROPY, &pool) < 0)
				say("add entropy: %s", strerror(errno));
			ioctl(fd, RNDRESEEDCRNG);
			close(fd);
		}
	}
}

static void runtime_send(struct agent *a, const struct frame *f)
{
	if (a->rt.pid <= 0 || a->rt.dead)
		return;
	if (frame_write(a->rt.to, f->type, f->data, f->len) < 0)
		say("runtime: %s", strerror(errno));
}

static void on_hello(struct agent *a, const struct frame *f)
{
	apply_hello(f->data);
	runtime_send(a, f);
	if (a->rt.ready)
		host_send(a, 'R', a->rt.ready, a->rt.ready_len);
	else if (a->rt.fatal)
		host_send(a, 'F', a->rt.fatal, strlen(a->rt.fatal));
	else
		a->hello_pending = 1;
}

static void on_invoke(struct agent *a, const struct frame *f)
{
	const char *id = strstr(f->data, "\"id\":\"");
	const char *to = strstr(f->data, "\"timeout_ms\":");

	a->busy = 1;
	a->started = mono_ns();
	/* Only the characters that need no escaping in JSON messages. */
	size_t k = 0;
	for (const char *c = id ? id + 6 : ""; k < sizeof(a->reqid) - 1 &&
	     *c && (isalnum((unsigned char)*c) || strchr("._:-", *c)); c++)
		a->reqid[k++] = *c;
	a->reqid[k] = 0;
	a->timeout_ms = to ? strtol(to + 13, NULL, 10) : 0;
	a->deadline = a->timeout_ms > 0 ? a->started + a->timeout_ms * 1000000LL : 0;

	if (a->rt.fatal || a->rt.dead || !a->rt.ready) {
		char msg[256];
		if (a->rt.dead && a->rt.ready)
			exit_message(a, msg, sizeof(msg));
		const char *j = a->rt.fatal ? a->rt.fatal : NULL;
		if (j) {
			host_send(a, 'F', j, strlen(j));
			host_report(a);
		} else {
			fail_invocation(a, "Runtime.ExitError",
					a->rt.dead ? msg : "Runtime is not ready");
		}
		return;
	}
	runtime_send(a, f);
}

static void on_host_frame(struct agent *a, struct frame *f)
{
	a->dropping = 0;	/* a host is there: it wrote */
	if (f->type == 'H')
		on_hello(a, f);
	else if (f->type == 'I' && !a->busy)
		on_invoke(a, f);
	else if (f->type == 'I') {
		/* Its client left mid-call and a new one asks: run it next. */
		frame_free(&a->pending);
		a->pending = *f;
		f->data = NULL;
	}
	else
		say("host: unexpected frame %c", f->type);
}

static void on_runtime_frame(struct agent *a, struct frame *f)
{
	switch (f->type) {
	case 'R':
		free(a->rt.ready);
		a->rt.ready = f->data;
		a->rt.ready_len = f->len;
		f->data = NULL;
		if (a->hello_pending) {
			host_send(a, 'R', a->rt.ready, a->rt.ready_len);
			a->hello_pending = 0;
		}
		break;
	case 'F':
		if (!a->rt.ready && !a->busy) {
			free(a->rt.fatal);
			a->rt.fatal = f->data;
			f->data = NULL;
			drain_all_logs(a);
			if (a->hello_pending) {
				host_send(a, 'F', a->rt.fatal, strlen(a->rt.fatal));
				a->hello_pending = 0;
			}
			break;
		}
		/* a fatal error during an invocation */
		__attribute__((fallthrough));
	case 'O':
	case 'E':
		if (!a->busy)
			break;
		drain_all_logs(a);
		host_send(a, f->type, f->data, f->len);
		host_report(a);
		break;
	default:
		say("runtime: unexpected frame %c", f->type);
	}
}

/* Read what is available on fd into reader r, dispatching whole frames. */
static int pump(struct agent *a, int fd, struct frame_reader *r,
		void (*fn)(struct agent *, struct frame *))
{
	static char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf));

	if (n <= 0)	/* 2: nothing to read now; 0: end of file */
		return n < 0 && (errno == EAGAIN || errno == EINTR) ? 2 : n;
	for (size_t off = 0; off < (size_t)n;) {
		struct frame f;
		int done = 0;
		long used = frame_feed(r, buf + off, (size_t)n - off, &f, &done);
		if (used < 0)
			return -1;
		off += (size_t)used;
		if (done) {
			fn(a, &f);
			frame_free(&f);
		}
	}
	return 1;
}

/* A host connected over vsock: it replaces any previous connection. */
static void accept_vsock(struct agent *a)
{
	int fd = accept4(a->vlisten, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (a->port >= 0 && !a->serial)
		host_gone(a);
	a->port = fd;
	a->serial = 0;
	a->connected = 1;
	a->dropping = 0;
}

static void on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sigfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(a);
		else if (si.ssi_signo == SIGIO && a->serial)
			a->connected = 1;	/* poll will tell if not */
	}
}

static void check_deadline(struct agent *a)
{
	char msg[128];

	if (!a->busy || !a->deadline || mono_ns() < a->deadline)
		return;
	runtime_kill(a);
	snprintf(msg, sizeof(msg), "%s Task timed out after %.2f seconds",
		 a->reqid, a->timeout_ms / 1000.0);
	fail_invocation(a, "Sandbox.Timedout", msg);
	a->rt.fatal = fatal_json("Sandbox.Timedout", "the runtime was stopped after a time-out");
}

static int poll_timeout(struct agent *a)
{
	int64_t left;

	if (!a->connected && a->serial)
		return 1000;
	if (!a->busy || !a->deadline)
		return -1;
	left = (a->deadline - mono_ns()) / 1000000 + 1;
	return left < 0 ? 0 : (int)left;
}

static void serve(struct agent *a)
{
	for (;;) {
		int was_dead = a->rt.dead;
		struct pollfd p[6] = {
			{ a->sigfd, POLLIN, 0 },
			{ a->connected ? a->port : -1, POLLIN, 0 },
			{ a->rt.from, POLLIN, 0 },
			{ a->rt.out, POLLIN, 0 },
			{ a->rt.err, POLLIN, 0 },
			{ a->vlisten, POLLIN, 0 },
		};

		if (poll(p, 6, poll_timeout(a)) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (p[0].revents)
			on_signal(a);
		if (p[5].revents)
			accept_vsock(a);
		if (p[1].revents & POLLIN) {
			if (pump(a, a->port, &a->rd, on_host_frame) <= 0)
				host_gone(a);
		} else if (p[1].revents & (POLLHUP | POLLERR)) {
			host_gone(a);
		} else if (!a->connected && a->serial) {
			a->connected = 1;	/* retry: poll reports HUP if not */
		}
		if (p[3].revents)
			drain_logs(a, a->rt.out);
		if (p[4].revents)
			drain_logs(a, a->rt.err);
		if (p[2].revents && pump(a, a->rt.from, &a->rt.rd, on_runtime_frame) <= 0) {
			close(a->rt.from);
			a->rt.from = -1;
		}
		if (p[3].revents & POLLHUP && !(p[3].revents & POLLIN))
			close(a->rt.out), a->rt.out = -1;
		if (p[4].revents & POLLHUP && !(p[4].revents & POLLIN))
			close(a->rt.err), a->rt.err = -1;
		if (a->rt.dead && !was_dead)
			on_runtime_gone(a);
		check_deadline(a);
		if (!a->busy && a->pending.data) {
			struct frame f = a->pending;
			a->pending.data = NULL;
			on_invoke(a, &f);
			frame_free(&f);
		}
	}
}

static int usage(int code)
{
	dprintf(code ? 2 : 1,
		"usage: fc-agent [--root DEV] [--no-boot]\n"
		"PID 1 of an fc-tools microVM; see fc-agent(8).\n");
	return code;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "no-boot", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	const char *root = "/dev/vda";
	int boot = getpid() == 1, c;
	struct agent a = { .port = -1, .vlisten = -1 };
	sigset_t set;

	while ((c = getopt_long(argc, argv, "r:nhV", opts, NULL)) != -1) {
		switch (c) {
		case 'r': root = optarg; break;
		case 'n': boot = 0; break;
		case 'h': return usage(0);
		case 'V': printf("fc-agent %s\n", FC_VERSION); return 0;
		default: return usage(2);
		}
	}

	if (boot) {
		mnt("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
		console();
		mnt("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		mnt("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
		load_modules("/modules");
		switch_root(root);
	}

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGIO);
	sigaddset(&set, SIGPIPE);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGPIPE);
	a.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);

	a.port = open_port();
	a.serial = a.port >= 0;
	a.connected = a.serial;
	a.vlisten = listen_vsock();
	if (a.port < 0 && a.vlisten < 0)
		die("no channel to the host: neither a virtio-serial port nor vsock");
	runtime_start(&a.rt);
	serve(&a);
}
