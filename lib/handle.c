/* handle.c - the handle of a VM left running by fc-restore: one JSON line */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "handle.h"
#include "json.h"
#include "util.h"
#include "vmm.h"

#define HANDLE_MAX 65536
#define RUNDIR_PREFIX "fc-restore."

int handle_format(const struct handle *h, struct buf *out, struct fc_err *e)
{
	time_t t = (time_t)(h->started_ns / 1000000000);
	char when[32];
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	buf_printf(out, "{\"handle\":1,\"vmm\":");
	buf_json_str(out, h->vmm, strlen(h->vmm));
	buf_printf(out, ",\"pid\":%d,\"channel\":", (int)h->pid);
	buf_json_str(out, h->channel, strlen(h->channel));
	buf_puts(out, ",\"rundir\":");
	buf_json_str(out, h->rundir, strlen(h->rundir));
	buf_puts(out, ",\"snapshot\":");
	buf_json_str(out, h->snapshot, strlen(h->snapshot));
	if (h->function) {
		buf_puts(out, ",\"function\":");
		buf_json_str(out, h->function, strlen(h->function));
	}
	if (buf_printf(out, ",\"timeout\":%ld,\"memory_mib\":%ld,\"started\":\"%s\","
		       "\"started_ns\":%lld,\"restore_ms\":%.1f}", h->timeout,
		       h->memory_mib, when, (long long)h->started_ns,
		       h->restore_ms) < 0)
		return fc_errf(e, FC_EVMM, "out of memory");
	return 0;
}

/* A string member, required unless optional; NULL on error. */
static int get_str(const struct json_doc *d, const char *key, int optional,
		   char **out, const char *what, struct fc_err *e)
{
	int i = json_get(d, 0, key);

	*out = NULL;
	if (i < 0 && optional)
		return 0;
	if (i < 0 || !(*out = json_str(d, i)) || !**out)
		return fc_errf(e, FC_EINPUT, "%s: not a VM handle (no \"%s\")",
			       what, key);
	return 0;
}

static int get_int(const struct json_doc *d, const char *key, long long *out,
		   const char *what, struct fc_err *e)
{
	int i = json_get(d, 0, key);

	if (i < 0 || json_int(d, i, out) < 0 || *out < 0)
		return fc_errf(e, FC_EINPUT, "%s: not a VM handle (no \"%s\")",
			       what, key);
	return 0;
}

/* Paths a handle names must be absolute, with no "..", channel inside rundir. */
static int check_paths(const struct handle *h, const char *what,
		       struct fc_err *e)
{
	size_t n = strlen(h->rundir);

	if (h->rundir[0] != '/' || strstr(h->rundir, "/..") ||
	    strcmp(h->rundir, "/") == 0)
		return fc_errf(e, FC_EINPUT, "%s: bad run directory in handle", what);
	if (strncmp(h->channel, h->rundir, n) != 0 || h->channel[n] != '/' ||
	    strstr(h->channel, "/.."))
		return fc_errf(e, FC_EINPUT, "%s: bad channel path in handle", what);
	return 0;
}

int handle_parse(struct handle *h, const char *text, size_t n,
		 const char *what, struct fc_err *e)
{
	struct json_doc d;
	long long v;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (json_parse(&d, text, n, what, e) < 0)
		return -1;
	if (d.tok[0].type != JSMN_OBJECT || json_get(&d, 0, "handle") < 0) {
		fc_errf(e, FC_EINPUT, "%s: not a VM handle", what);
		goto out;
	}
	if (get_str(&d, "vmm", 0, &h->vmm, what, e) < 0 ||
	    get_str(&d, "channel", 0, &h->channel, what, e) < 0 ||
	    get_str(&d, "rundir", 0, &h->rundir, what, e) < 0 ||
	    get_str(&d, "snapshot", 0, &h->snapshot, what, e) < 0 ||
	    get_str(&d, "function", 1, &h->function, what, e) < 0)
		goto out;
	if (get_int(&d, "pid", &v, what, e) < 0)
		goto out;
	if (v < 2 || v > 0x3fffffff) {
		fc_errf(e, FC_EINPUT, "%s: bad pid in handle", what);
		goto out;
	}
	h->pid = (pid_t)v;
	h->timeout = get_int(&d, "timeout", &v, what, NULL) == 0 ? (long)v : 0;
	h->memory_mib = get_int(&d, "memory_mib", &v, what, NULL) == 0 ? (long)v : 0;
	h->started_ns = get_int(&d, "started_ns", &v, what, NULL) == 0 ? v : 0;
	rc = check_paths(h, what, e);
out:
	json_free(&d);
	if (rc < 0)
		handle_free(h);
	return rc;
}

int handle_like(const char *arg)
{
	char c = 0;
	int fd;

	if (arg[0] == '{')
		return 1;
	fd = open(arg, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return 0;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		while (read(fd, &c, 1) == 1 && strchr(" \t\r\n", c))
			;
	close(fd);
	return c == '{';
}

int handle_load(struct handle *h, const char *arg, struct fc_err *e)
{
	char *text;
	size_t n;
	int rc;

	if (arg[0] == '{')
		return handle_parse(h, arg, strlen(arg), "handle", e);
	if (read_file(arg, HANDLE_MAX, &text, &n, e) < 0)
		return -1;
	rc = handle_parse(h, text, n, arg, e);
	free(text);
	return rc;
}

void handle_free(struct handle *h)
{
	free(h->vmm);
	free(h->channel);
	free(h->rundir);
	free(h->snapshot);
	free(h->function);
	memset(h, 0, sizeof(*h));
}

/* Does the command line of pid mention the run directory? */
static int cmdline_mentions(pid_t pid, const char *rundir)
{
	char path[64], *p = NULL, *dir;
	size_t n;
	struct fc_err ignore;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (read_file(path, 1 << 20, &p, &n, &ignore) < 0)
		return 0;
	if (asprintf(&dir, "%s/", rundir) >= 0) {
		for (size_t i = 0; i < n; i++)
			if (!p[i])
				p[i] = ' ';
		found = strstr(p, dir) != NULL;
		free(dir);
	}
	free(p);
	return found;
}

int handle_alive(const struct handle *h, struct fc_err *e)
{
	if ((kill(h->pid, 0) == 0 || errno == EPERM) &&
	    cmdline_mentions(h->pid, h->rundir))
		return 1;
	fc_errf(e, FC_EVMM, "the VM (pid %d) is gone", (int)h->pid);
	return 0;
}

int handle_attach(const struct handle *h, struct vm *vm, struct fc_err *e)
{
	memset(vm, 0, sizeof(*vm));
	vm->pid = -1;
	vm->pidfd = vm->qmp_fd = -1;
	vm->ops = vmm_find(h->vmm);
	if (!vm->ops)
		return fc_errf(e, FC_EINPUT, "handle: VMM %s is not in this build",
			       h->vmm);
	/* Watch first, then check: the pidfd pins the process we checked. */
	vm->pidfd = pid_watch(h->pid);
	if (vm->pidfd < 0 || !handle_alive(h, e)) {
		if (vm->pidfd >= 0)
			close(vm->pidfd);
		vm->pidfd = -1;
		return fc_errf(e, FC_EVMM, "the VM (pid %d) is gone", (int)h->pid);
	}
	vm->pid = h->pid;
	vm->rundir = strdup(h->rundir);
	vm->chan = strdup(h->channel);
	vm->qmp = path_join(h->rundir, "qmp.sock");
	vm->started = now_ns();
	if (!vm->rundir || !vm->chan || !vm->qmp) {
		handle_detach(vm);
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	return 0;
}

void handle_detach(struct vm *vm)
{
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	if (vm->qmp_fd >= 0)
		close(vm->qmp_fd);
	free(vm->rundir);
	free(vm->chan);
	free(vm->qmp);
	vm->rundir = vm->chan = vm->qmp = NULL;
	vm->pidfd = vm->qmp_fd = -1;
	vm->pid = -1;
}

/* Is pid the leader of its own process group (so -pid reaches only it)? */
static int leads_group(pid_t pid)
{
	return getpgid(pid) == pid;
}

/* Wait for the process behind pidfd to exit, up to ms milliseconds. */
static int wait_gone(int pidfd, int ms)
{
	struct pollfd p = { pidfd, POLLIN, 0 };

	while (poll(&p, 1, ms) < 0)
		if (errno != EINTR)
			return -1;
	return p.revents ? 0 : -1;
}

/*
 * A run directory is flat and holds its VMM's log: a handle edited by
 * mistake must not send a directory of the user's to rmtree.
 */
static int looks_like_rundir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	int log = 0, flat = 1;

	if (!d)
		return 0;
	while (flat && (ent = readdir(d))) {
		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		if (ent->d_type == DT_DIR)
			flat = 0;
		if (!strcmp(ent->d_name, "qemu.log") ||
		    !strcmp(ent->d_name, "firecracker.log"))
			log = 1;
	}
	closedir(d);
	return flat && log;
}

/* Remove the run directory, if it is one fc-restore made for this user. */
static int remove_rundir(const struct handle *h, struct fc_err *e)
{
	const char *base = strrchr(h->rundir, '/') + 1;
	struct stat st;

	if (lstat(h->rundir, &st) < 0)
		return errno == ENOENT ? 0 : fc_errnof(e, FC_EVMM, "%s", h->rundir);
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    strncmp(base, RUNDIR_PREFIX, strlen(RUNDIR_PREFIX)) != 0 ||
	    !looks_like_rundir(h->rundir))
		return fc_errf(e, FC_EINPUT, "%s: not a run directory of fc-restore",
			       h->rundir);
	if (rmtree(h->rundir) < 0)
		return fc_errnof(e, FC_EVMM, "%s", h->rundir);
	return 0;
}

int handle_kill(const struct handle *h, struct fc_err *e)
{
	const char *base = strrchr(h->rundir, '/') + 1;
	int pidfd, stopped = 0;

	if (strncmp(base, RUNDIR_PREFIX, strlen(RUNDIR_PREFIX)) != 0)
		return fc_errf(e, FC_EINPUT, "%s: not a run directory of fc-restore",
			       h->rundir);
	pidfd = pid_watch(h->pid);
	if (pidfd >= 0 && handle_alive(h, NULL)) {
		if (leads_group(h->pid))
			kill(-h->pid, SIGKILL);
		else
			kill(h->pid, SIGKILL);
		if (wait_gone(pidfd, 10000) < 0) {
			close(pidfd);
			return fc_errf(e, FC_EVMM, "the VM (pid %d) did not stop",
				       (int)h->pid);
		}
		stopped = 1;
	}
	if (pidfd >= 0)
		close(pidfd);
	if (remove_rundir(h, e) < 0)
		return -1;
	return stopped;
}
