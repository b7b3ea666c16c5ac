/* qemu.c - the QEMU driver: microvm, QMP, virtio-serial, RAM in a file */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "json.h"
#include "qmp.h"
#include "sock.h"
#include "util.h"
#include "vmm.h"

#define ARGS_MAX 64

static const char *qemu_bin(void)
{
	const char *b = getenv("FC_QEMU");

	return b && *b ? b : "qemu-system-x86_64";
}

static int qemu_version(char *out, size_t n, struct fc_err *e)
{
	char cmd[512], line[256];
	FILE *p;
	int ok = 0;

	snprintf(cmd, sizeof(cmd), "'%s' --version 2>/dev/null", qemu_bin());
	p = popen(cmd, "r");
	if (!p)
		return fc_errnof(e, FC_EVMM, "%s", qemu_bin());
	if (fgets(line, sizeof(line), p)) {
		const char *v = strstr(line, "version ");
		if (v) {
			snprintf(out, n, "%s", v + 8);
			out[strcspn(out, " \n")] = 0;
			ok = 1;
		}
	}
	pclose(p);
	if (!ok)
		return fc_errf(e, FC_EVMM, "%s: not found or no version", qemu_bin());
	return 0;
}

/* Builds argv in a fixed array of malloc'd strings. */
struct argv {
	char *v[ARGS_MAX + 1];
	int n;
};

static void arg(struct argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void arg(struct argv *a, const char *fmt, ...)
{
	va_list ap;

	if (a->n >= ARGS_MAX)
		return;
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) >= 0)
		a->n++;
	va_end(ap);
}

static void argv_free(struct argv *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
}

/*
 * A value inside QEMU's "key=value,..." options: a comma is written twice.
 * The result lives until the next call with the same slot.
 */
static const char *optval(const char *s, int slot)
{
	static char bufs[4][8192];
	char *o = bufs[slot];
	size_t n = 0;

	for (; *s && n < sizeof(bufs[0]) - 2; s++) {
		if (*s == ',')
			o[n++] = ',';
		o[n++] = *s;
	}
	o[n] = 0;
	return o;
}

/* The machine: identical for boot and restore but for share= and -incoming. */
static void machine_args(struct argv *a, const struct vm *vm,
			 const struct vm_config *c)
{
	const char *accel = getenv("FC_QEMU_ACCEL");

	arg(a, "%s", qemu_bin());
	arg(a, "-accel");
	arg(a, "%s", accel && *accel ? accel : "tcg");
	arg(a, "-M");
	arg(a, "microvm,memory-backend=mem0");
	arg(a, "-m");
	arg(a, "%dM", c->memory_mib);
	arg(a, "-smp");
	arg(a, "%d", c->vcpus);
	arg(a, "-nodefaults");
	arg(a, "-no-user-config");
	arg(a, "-display");
	arg(a, "none");
	arg(a, "-no-reboot");
	arg(a, "-object");
	arg(a, "memory-backend-file,id=mem0,size=%dM,mem-path=%s,share=%s",
	    c->memory_mib, optval(c->mem_file, 0), c->state ? "off" : "on");
	if (!c->state) {
		/* A restore loads RAM from the file: no kernel to load. */
		arg(a, "-kernel");
		arg(a, "%s", c->kernel);
		arg(a, "-initrd");
		arg(a, "%s", c->initrd);
		arg(a, "-append");
		arg(a, "%s", c->cmdline);
	}
	arg(a, "-drive");
	arg(a, "id=root,file=%s,format=raw,if=none,readonly=on",
	    optval(c->rootfs, 0));
	arg(a, "-device");
	arg(a, "virtio-blk-device,drive=root");
	arg(a, "-device");
	arg(a, "virtio-serial-device");
	arg(a, "-chardev");
	arg(a, "socket,id=agent,path=%s,server=on,wait=off", optval(vm->chan, 0));
	arg(a, "-device");
	arg(a, "virtserialport,chardev=agent,name=fc.agent");
	arg(a, "-chardev");
	arg(a, "socket,id=qmp,path=%s,server=on,wait=off", optval(vm->qmp, 0));
	arg(a, "-mon");
	arg(a, "chardev=qmp,mode=control");
	arg(a, "-chardev");
	arg(a, "file,id=console,path=%s", optval(c->console, 0));
	arg(a, "-serial");
	arg(a, "chardev:console");
	if (c->state) {
		arg(a, "-incoming");
		arg(a, "defer");
	}
}

static int spawn(struct vm *vm, struct argv *a, int die_with_parent,
		 struct fc_err *e)
{
	pid_t parent = getpid();
	char *log = path_join(vm->rundir, vmm_qemu.log);
	pid_t pid;

	if (!log)
		return fc_errf(e, FC_EVMM, "out of memory");
	pid = fork();
	if (pid < 0) {
		free(log);
		return fc_errnof(e, FC_EVMM, "fork");
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		/* The child of fork: it execs or ends here, never returns. */
		if (in < 0 || out < 0)
			_exit(127);
		dup2(in, 0);
		dup2(out, 1);
		dup2(out, 2);
		setpgid(0, 0);
		if (die_with_parent &&
		    (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent))
			_exit(127);	/* the parent is already gone */
		execvp(a->v[0], a->v);
		dprintf(2, "%s: %s\n", a->v[0], strerror(errno));
		_exit(127);
	}
	free(log);
	vm->pid = pid;
	vm->pidfd = pid_watch(pid);
	vm->started = now_ns();
	return 0;
}

/*
 * QEMU failed us: if it is exiting (give it a moment), its own last
 * words say why better than a reset connection does.
 */
static void qemu_why(struct vm *vm, struct fc_err *e)
{
	if (vm->pidfd >= 0)
		wait_readable(vm->pidfd, -1, now_ns() + 1000000000LL);
	vm_exited(vm, e);
}

/* Append s to b in single quotes, for QEMU's exec: migration URIs. */
static void shell_quote(struct buf *b, const char *s)
{
	buf_puts(b, "'");
	for (; *s; s++)
		buf_puts(b, *s == '\'' ? "'\\''" : (char[]){ *s, 0 });
	buf_puts(b, "'");
}

static int qmp_start_incoming(struct vm *vm, const char *state,
			      int64_t deadline, struct fc_err *e)
{
	struct buf cmd = { 0 }, uri = { 0 };
	int rc;

	vm->qmp_fd = qmp_open(vm->qmp, vm->pidfd, deadline, e);
	if (vm->qmp_fd < 0)
		return -1;
	if (qmp_cmd(vm->qmp_fd, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
		    "{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}",
		    deadline, NULL, e) < 0)
		return -1;
	buf_puts(&uri, "exec:exec cat ");
	shell_quote(&uri, state);
	buf_puts(&cmd, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":");
	buf_json_str(&cmd, uri.p, uri.len);
	rc = buf_puts(&cmd, "}}");
	if (rc == 0)
		rc = qmp_cmd(vm->qmp_fd, cmd.p, deadline, NULL, e);
	buf_free(&cmd);
	buf_free(&uri);
	return rc;
}

static int qemu_start(struct vm *vm, const struct vm_config *c,
		      struct fc_err *e)
{
	struct argv a = { 0 };
	int rc;

	machine_args(&a, vm, c);
	rc = spawn(vm, &a, c->die_with_parent, e);
	argv_free(&a);
	if (rc < 0)
		return -1;
	if (c->state &&
	    qmp_start_incoming(vm, c->state, now_ns() + 10000000000LL, e) < 0) {
		qemu_why(vm, e);
		return -1;
	}
	return 0;
}

static int qemu_connect(struct vm *vm, int64_t deadline, struct fc_err *e)
{
	int fd = unix_connect(vm->chan, vm->pidfd, deadline, e);

	if (fd < 0)
		qemu_why(vm, e);
	return fd;
}

/* Wait for the outgoing migration to finish, polling query-migrate. */
static int migrate_wait(struct vm *vm, int64_t deadline, struct fc_err *e)
{
	struct buf r = { 0 };
	struct timespec nap = { 0, 2 * 1000000 };
	int rc = -1;

	while (qmp_cmd(vm->qmp_fd, "{\"execute\":\"query-migrate\"}", deadline,
		       &r, e) == 0) {
		if (strstr(r.p, "\"status\": \"completed\"") ||
		    strstr(r.p, "\"status\":\"completed\"")) {
			rc = 0;
			break;
		}
		if (strstr(r.p, "\"failed\"") || strstr(r.p, "\"cancelled\"")) {
			const char *d = strstr(r.p, "\"error-desc\"");
			fc_errf(e, FC_EVMM, "QEMU: snapshot failed%s%.200s",
				d ? ": " : "", d ? d : "");
			break;
		}
		if (now_ns() > deadline) {
			fc_errf(e, FC_ETIMEOUT, "QEMU: snapshot did not finish in time");
			break;
		}
		nanosleep(&nap, NULL);
	}
	buf_free(&r);
	return rc;
}

static int qemu_snapshot(struct vm *vm, const char *state, int64_t deadline,
			 struct fc_err *e)
{
	struct buf cmd = { 0 }, uri = { 0 };
	int rc = -1;

	if (vm->qmp_fd < 0)
		vm->qmp_fd = qmp_open(vm->qmp, vm->pidfd, deadline, e);
	if (vm->qmp_fd < 0)
		return -1;
	buf_puts(&uri, "exec:cat > ");
	shell_quote(&uri, state);
	buf_puts(&cmd, "{\"execute\":\"migrate\",\"arguments\":{\"uri\":");
	buf_json_str(&cmd, uri.p, uri.len);
	buf_puts(&cmd, "}}");
	/*
	 * No "stop" first: the state then records a running guest, so a
	 * restore resumes by itself without a "cont" round trip. With RAM
	 * ignored the migration converges at once; QEMU stops the guest to
	 * save the devices, and it never runs again (we kill it).
	 */
	if (qmp_cmd(vm->qmp_fd, "{\"execute\":\"migrate-set-capabilities\",\"arguments\":"
		    "{\"capabilities\":[{\"capability\":\"x-ignore-shared\",\"state\":true}]}}",
		    deadline, NULL, e) == 0 &&
	    qmp_cmd(vm->qmp_fd, cmd.p, deadline, NULL, e) == 0)
		rc = migrate_wait(vm, deadline, e);
	buf_free(&cmd);
	buf_free(&uri);
	return rc;
}

static void qemu_kill(struct vm *vm)
{
	/* The guest must never run again after a snapshot, and a restored
	 * clone has nothing to flush: SIGKILL is the right stop. */
	if (vm->pid > 0)
		kill(vm->pid, SIGKILL);
}

const struct vmm_ops vmm_qemu = {
	.name = "qemu",
	.log = "qemu.log",
	.version = qemu_version,
	.start = qemu_start,
	.connect = qemu_connect,
	.snapshot = qemu_snapshot,
	.kill = qemu_kill,
};
