/* vmm.c - what every driver shares: run directories, process watching */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "firecracker.h"
#include "util.h"
#include "vmm.h"

const struct vmm_ops *vmm_find(const char *name)
{
	if (strcmp(name, "qemu") == 0)
		return &vmm_qemu;
	if (strcmp(name, "firecracker") == 0)
		return &vmm_firecracker;
	return NULL;
}

int kvm_usable(char *why, size_t n)
{
	const char *dev = getenv("FC_KVM");
	char ignore[8];
	int fd, vm, api;

	if (!why)
		why = ignore, n = sizeof(ignore);
	if (!dev || !*dev)
		dev = "/dev/kvm";
	fd = open(dev, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, n, "%s: %s", dev, strerror(errno));
		return 0;
	}
	api = ioctl(fd, KVM_GET_API_VERSION, 0);
	vm = api == KVM_API_VERSION ? ioctl(fd, KVM_CREATE_VM, 0) : -1;
	if (api != KVM_API_VERSION)
		snprintf(why, n, "%s: KVM API version %d, not %d", dev, api,
			 KVM_API_VERSION);
	else if (vm < 0)
		snprintf(why, n, "%s cannot create a VM: %s", dev,
			 strerror(errno));
	if (vm >= 0)
		close(vm);
	close(fd);
	return vm >= 0;
}

const struct vmm_ops *vmm_choose(const char *name, char *why, size_t n,
				 struct fc_err *e)
{
	const char *env = getenv("FC_VMM"), *from = "--vmm";
	char bin[4096], kvm[256], ignore[8];
	const struct vmm_ops *ops;

	if (!why)
		why = ignore, n = sizeof(ignore);
	if ((!name || !*name) && env && *env)
		name = env, from = "$FC_VMM";
	if (name && *name) {
		if (!(ops = vmm_find(name))) {
			fc_errf(e, FC_EUSAGE, "%s: unknown VMM (firecracker or "
				"qemu)", name);
			return NULL;
		}
		snprintf(why, n, "%s, as %s says", name, from);
		return ops;
	}
	if (firecracker_binary(bin, sizeof(bin), NULL) < 0) {
		snprintf(why, n, "qemu: no firecracker binary on PATH or in "
			 "$FC_FIRECRACKER");
		return &vmm_qemu;
	}
	if (!kvm_usable(kvm, sizeof(kvm))) {
		snprintf(why, n, "qemu: %s is there, but %s", bin, kvm);
		return &vmm_qemu;
	}
	snprintf(why, n, "firecracker: %s is there and KVM can create VMs",
		 bin);
	return &vmm_firecracker;
}

static char *make_rundir(const char *tmp, const char *prog)
{
	char *d;

	if (asprintf(&d, "%s/%s.XXXXXX", tmp, prog) < 0)
		return NULL;
	if (mkdtemp(d))
		return d;
	int saved = errno;
	free(d);
	errno = saved;
	return NULL;
}

int vm_init(struct vm *vm, const struct vmm_ops *ops, const char *prog,
	    struct fc_err *e)
{
	const char *tmp = getenv("TMPDIR");
	char *dir;

	memset(vm, 0, sizeof(*vm));
	vm->ops = ops;
	vm->pid = -1;
	vm->pidfd = -1;
	vm->qmp_fd = -1;
	/* Socket paths must fit in sun_path: keep the run directory short. */
	if (!tmp || !*tmp || strlen(tmp) > 60)
		tmp = "/tmp";
	dir = make_rundir(tmp, prog);
	if (!dir && errno == ENOENT && strcmp(tmp, "/tmp") != 0)
		dir = make_rundir("/tmp", prog);	/* $TMPDIR names nothing */
	if (!dir)
		return fc_errnof(e, FC_EVMM, "%s: run directory", tmp);
	vm->rundir = dir;
	vm->qmp = path_join(dir, "qmp.sock");
	vm->chan = path_join(dir, "agent.sock");
	if (!vm->qmp || !vm->chan) {
		vm_destroy(vm);
		return fc_errf(e, FC_EVMM, "out of memory");
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->pid > 0) {
		if (vm->ops && vm->ops->kill)
			vm->ops->kill(vm);
		else
			kill(vm->pid, SIGKILL);
		while (waitpid(vm->pid, NULL, 0) < 0 && errno == EINTR)
			;
		vm->pid = -1;
	}
	if (vm->qmp_fd >= 0)
		close(vm->qmp_fd);
	if (vm->pidfd >= 0)
		close(vm->pidfd);
	vm->qmp_fd = vm->pidfd = -1;
	if (vm->ops && vm->ops->release)
		vm->ops->release(vm);
	if (vm->rundir)
		rmtree(vm->rundir);
	free(vm->rundir);
	free(vm->qmp);
	free(vm->chan);
	vm->rundir = vm->qmp = vm->chan = NULL;
}

/* Append the last line the VMM wrote to its log (ops->log), if it has one. */
static void last_words(const struct vm *vm, struct fc_err *e)
{
	char *log = vm->rundir && vm->ops && vm->ops->log ?
		    path_join(vm->rundir, vm->ops->log) : NULL;
	char *p = NULL, *line;
	size_t n = 0, len;
	struct fc_err ignore;

	if (e && log && read_file(log, 65536, &p, &n, &ignore) == 0 && n > 0) {
		while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
			n--;
		p[n] = 0;
		line = strrchr(p, '\n');
		line = line ? line + 1 : p;
		len = strlen(e->msg);
		if (*line)
			snprintf(e->msg + len, sizeof(e->msg) - len, ": %s", line);
	}
	free(p);
	free(log);
}

int vm_exited(struct vm *vm, struct fc_err *e)
{
	int st;
	pid_t r;

	if (vm->pid <= 0)
		return 1;
	r = waitpid(vm->pid, &st, WNOHANG);
	if (r != vm->pid)
		return 0;
	vm->pid = -1;
	if (WIFSIGNALED(st))
		fc_errf(e, FC_EVMM, "%s was killed by signal %d", vm->ops->name,
			WTERMSIG(st));
	else
		fc_errf(e, FC_EVMM, "%s exited with status %d", vm->ops->name,
			WEXITSTATUS(st));
	last_words(vm, e);
	return 1;
}

long host_tsc_khz(void)
{
	const char *env = getenv("FC_TSC_KHZ");
	char line[256];
	double mhz = 0;
	FILE *f;

	if (env && *env)
		return strtol(env, NULL, 10);
	f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1)
			break;
	fclose(f);
	return (long)(mhz * 1000 + 0.5);
}

/* pidfd_open(2): readable once the process exits. */
int pid_watch(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}
