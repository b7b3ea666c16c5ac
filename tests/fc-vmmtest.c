/* fc-vmmtest - drive a VMM driver through struct vm as the programs do (tests) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "firecracker.h"
#include "json.h"
#include "session.h"
#include "util.h"
#include "vmm.h"
#include "vsock.h"

static const char *prog = "fc-vmmtest";

static void usage(void)
{
	fprintf(stderr,
		"usage: fc-vmmtest choose [NAME]\n"
		"       fc-vmmtest kvm\n"
		"       fc-vmmtest vsock SOCK PORT MS\n"
		"       fc-vmmtest version\n"
		"       fc-vmmtest jailer SPEC\n"
		"       fc-vmmtest bootargs CMDLINE\n"
		"       fc-vmmtest check DIR MADE_BY|- [STATE]\n"
		"       fc-vmmtest [-j SPEC] boot KERNEL INITRD ROOTFS OUTDIR\n"
		"       fc-vmmtest [-j SPEC] [-m MADE_BY] restore SNAPDIR EVENT\n");
	exit(FC_EUSAGE);
}

static int fail(const struct fc_err *e)
{
	fprintf(stderr, "%s: %s\n", prog, e->msg);
	return e->code ? e->code : FC_EVMM;
}

/* Hello, then one invocation whose result goes to stdout. */
static int greet_and_invoke(struct vm *vm, const char *event, struct fc_err *e)
{
	struct session s;
	struct result r = { 0 };
	int64_t deadline = now_ns() + 20000000000LL;
	int fd = vm->ops->connect(vm, deadline, e), rc = -1;

	if (fd < 0)
		return -1;
	session_init(&s, fd, vm->pidfd);
	if (session_hello(&s, deadline, 2, NULL, e) == 0 &&
	    session_invoke(&s, "test-1", 3000, event, strlen(event), deadline, 2,
			   &r, e) == 0) {
		printf("%c %.*s\n", r.kind, (int)r.len, r.body);
		rc = 0;
	}
	result_free(&r);
	session_close(&s);
	return rc;
}

static int boot(const struct firecracker_jailer *j, char **a, struct fc_err *e)
{
	struct vm vm = { .pid = -1, .pidfd = -1, .qmp_fd = -1 };
	char state[4096], mem[4096], con[4096];
	struct vm_config c;
	int rc = -1;

	snprintf(state, sizeof(state), "%s/state", a[3]);
	snprintf(mem, sizeof(mem), "%s/mem", a[3]);
	snprintf(con, sizeof(con), "%s/console.log", a[3]);
	c = (struct vm_config){ .kernel = a[0], .initrd = a[1], .rootfs = a[2],
		.mem_file = mem, .console = con, .cmdline = "console=ttyS0 quiet",
		.memory_mib = 128, .vcpus = 1, .jailer = j };
	if (vm_init(&vm, &vmm_firecracker, prog, e) < 0)
		return -1;
	if (vm.ops->start(&vm, &c, e) == 0 && greet_and_invoke(&vm, "{\"boot\":1}", e) == 0)
		rc = vm.ops->snapshot(&vm, state, now_ns() + 30000000000LL, e);
	vm_destroy(&vm);
	return rc;
}

static int restore(const struct firecracker_jailer *j, const char *made_by,
		   char **a, struct fc_err *e)
{
	struct vm vm = { .pid = -1, .pidfd = -1, .qmp_fd = -1 };
	char state[4096], mem[4096], root[4096], con[4096];
	struct vm_config c;
	int rc = -1;

	if (vm_init(&vm, &vmm_firecracker, prog, e) < 0)
		return -1;
	snprintf(state, sizeof(state), "%s/state", a[0]);
	snprintf(mem, sizeof(mem), "%s/mem", a[0]);
	snprintf(root, sizeof(root), "%s/rootfs.ext4", a[0]);
	snprintf(con, sizeof(con), "%s/console.log", vm.rundir);
	c = (struct vm_config){ .rootfs = root, .mem_file = mem, .state = state,
		.console = con, .memory_mib = 128, .vcpus = 1,
		.vmm_version = made_by, .jailer = j };
	if (vm.ops->start(&vm, &c, e) == 0)
		rc = greet_and_invoke(&vm, a[1], e);
	vm_destroy(&vm);
	return rc;
}

static int simple(int argc, char **argv, struct fc_err *e)
{
	const char *cmd = argv[0];
	char buf[4096];

	if (!strcmp(cmd, "choose")) {
		const struct vmm_ops *ops = vmm_choose(argc > 1 ? argv[1] : NULL, buf,
						       sizeof(buf), e);
		if (!ops)
			return -1;
		printf("%s\n%s\n", ops->name, buf);
	} else if (!strcmp(cmd, "kvm")) {
		int ok = kvm_usable(buf, sizeof(buf));
		printf("%s\n", ok ? "usable" : buf);
		return ok ? 0 : fc_errf(e, 1, "%s", buf);
	} else if (!strcmp(cmd, "vsock") && argc == 4) {
		int fd = vsock_connect(argv[1], (unsigned)atoi(argv[2]), -1,
				       now_ns() + atol(argv[3]) * 1000000LL, e);
		ssize_t n;
		if (fd < 0)
			return -1;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, stdout);
		close(fd);
	} else if (!strcmp(cmd, "version")) {
		char fmt[64];
		if (firecracker_version(buf, sizeof(buf), e) < 0)
			return -1;
		printf("%s %s\n", buf, firecracker_snapshot_format(fmt, sizeof(fmt), NULL)
		       == 0 ? fmt : "-");
	} else if (!strcmp(cmd, "jailer") && argc == 2) {
		struct firecracker_jailer j;
		if (firecracker_jailer_parse(argv[1], &j, e) < 0)
			return -1;
		printf("uid=%u gid=%u chroot-base=%s cgroup-version=%d\n", (unsigned)j.uid,
		       (unsigned)j.gid, j.chroot_base, j.cgroup_version);
	} else if (!strcmp(cmd, "bootargs") && argc == 2) {
		char *s = firecracker_boot_args(argv[1]);
		printf("%s\n", s);
		free(s);
	} else if (!strcmp(cmd, "check") && argc >= 3) {
		if (firecracker_check_snapshot(argv[1], strcmp(argv[2], "-") ? argv[2] : NULL,
					       argc > 3 ? argv[3] : NULL, e) < 0)
			return -1;
		printf("ok\n");
	} else {
		usage();
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct firecracker_jailer jailer, *j = NULL;
	struct fc_err e = { 0 };
	const char *made_by = NULL;
	int c, rc;

	while ((c = getopt(argc, argv, "+j:m:")) != -1) {
		if (c == 'j') {
			if (firecracker_jailer_parse(optarg, &jailer, &e) < 0)
				return fail(&e);
			j = &jailer;
		} else if (c == 'm') {
			made_by = optarg;
		} else {
			usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1)
		usage();
	if (!strcmp(argv[0], "boot") && argc == 5)
		rc = boot(j, argv + 1, &e);
	else if (!strcmp(argv[0], "restore") && argc == 3)
		rc = restore(j, made_by, argv + 1, &e);
	else
		rc = simple(argc, argv, &e);
	if (fflush(stdout) == EOF)
		return FC_EVMM;
	return rc < 0 ? fail(&e) : 0;
}
